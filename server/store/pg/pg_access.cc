#include "server/store/pg/pg_access.h"

#include "common/status_macros.h"
#include "server/store/pg/pg_schema.h"

namespace prov::server {

absl::StatusOr<std::unique_ptr<PgConn>> OpenPgAccessConn(const std::string& conninfo,
                                                         absl::Duration connect_timeout) {
  PgConnOptions options{.connect_timeout = connect_timeout,
                        .application_name = "provd/access",
                        .search_path = kPgSchema};
  PROV_ASSIGN_OR_RETURN(auto conn, PgConn::Connect(conninfo, options));
  PROV_RETURN_IF_ERROR(MigratePgSchema(*conn));
  return conn;
}

absl::Status UsablePgSession(PgConn& conn) {
  return RunWithReconnect(conn, [&] { return conn.Exec("SELECT 1"); });
}

}  // namespace prov::server
