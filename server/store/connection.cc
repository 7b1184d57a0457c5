#include "server/store/connection.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace prov::server {

absl::Status ConfigureWriter(SqliteDb& db) {
  PROV_RETURN_IF_ERROR(db.Exec("PRAGMA journal_mode=WAL"));
  PROV_RETURN_IF_ERROR(db.Exec("PRAGMA synchronous=NORMAL"));
  return db.Exec(absl::StrCat("PRAGMA wal_autocheckpoint=", kWalAutocheckpointPages));
}

absl::StatusOr<std::unique_ptr<SqliteDb>> OpenConnection(const std::string& path,
                                                         SqliteDb::Mode mode,
                                                         absl::Duration busy_timeout) {
  PROV_ASSIGN_OR_RETURN(auto db, SqliteDb::Open(path, mode));
  PROV_RETURN_IF_ERROR(
      db->Exec(absl::StrCat("PRAGMA busy_timeout=", absl::ToInt64Milliseconds(busy_timeout))));
  if (mode == SqliteDb::kReadWrite) {
    PROV_RETURN_IF_ERROR(ConfigureWriter(*db));
  } else {
    PROV_RETURN_IF_ERROR(db->Exec("PRAGMA query_only=1"));
  }
  return db;
}

}  // namespace prov::server
