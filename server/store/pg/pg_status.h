// How PostgreSQL errors become absl::Status codes, for every PostgreSQL repository.
//
//   absl::StatusCode c = PgStatusCode("23505");   // ALREADY_EXISTS
//
// | SQLSTATE                                         | code                | meaning for callers  |
// |--------------------------------------------------|---------------------|----------------------|
// | 23505 unique_violation                           | ALREADY_EXISTS      | the row is there     |
// | 40001 serialization_failure, 40P01 deadlock      | ABORTED             | retry the transaction|
// | class 08 (connection), 57P01-57P03 (shutdown,     | UNAVAILABLE         | retry later; may
// have| |   cannot connect now), 53300 too_many_connections,|                     | to Reconnect()
// | |   55P03 lock_not_available, 57014 query_canceled  |                     | | | (statement/lock
// timeout), 25006 read_only_sql_  |                     |                      | |   transaction (a
// standby after failover)          |                     |                      | | 53100
// disk_full, 53200 out_of_memory, 54000      | RESOURCE_EXHAUSTED  | as SQLITE_FULL       | | class
// 22 (data exception), 23 other constraints  | INVALID_ARGUMENT /  |                      | | |
// FAILED_PRECONDITION |                      | | anything else (syntax, undefined table, ...)     |
// INTERNAL            | a bug                | A failure with no SQLSTATE (the connection broke
// before the server answered) is UNAVAILABLE.
#pragma once

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace prov::server {

absl::StatusCode PgStatusCode(absl::string_view sqlstate);

}  // namespace prov::server
