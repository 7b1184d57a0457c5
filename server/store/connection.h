// OpenConnection: a SQLite connection to provd.db set up the way every provd component uses it:
// busy_timeout, and WAL + synchronous=NORMAL for writers or query_only for readers.
//
//   PROV_ASSIGN_OR_RETURN(auto db, OpenConnection(path, SqliteDb::kReadWrite));
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/store/sqlite.h"

namespace prov::server {

absl::StatusOr<std::unique_ptr<SqliteDb>> OpenConnection(
    const std::string& path, SqliteDb::Mode mode, absl::Duration busy_timeout = absl::Seconds(5));

}  // namespace prov::server
