// How PostgreSQL errors become absl::Status codes, for every PostgreSQL repository.
//
//   absl::StatusCode c = PgStatusCode("23505");   // ALREADY_EXISTS
//
// clang-format off
// | SQLSTATE                                        | code                | meaning for callers   |
// |-------------------------------------------------|---------------------|-----------------------|
// | 23505 unique_violation                          | ALREADY_EXISTS      | the row is there      |
// | 40001 serialization_failure, 40P01 deadlock     | ABORTED             | rerun the transaction |
// | class 08 (connection) except 08P01, 57P01-57P03 | UNAVAILABLE         | retry later; may have |
// |   (shutdown, cannot connect now), 53300         |                     | to Reconnect()        |
// |   too_many_connections, 55P03 lock_not_available|                     |                       |
// |   57014 query_canceled (statement/lock timeout) |                     |                       |
// |   25006 read_only_sql_transaction (a standby)   |                     |                       |
// | 53100 disk_full, 53200 out_of_memory, 54000     | RESOURCE_EXHAUSTED  | as SQLITE_FULL        |
// | class 22 (data exception)                       | INVALID_ARGUMENT    | bad input             |
// | class 23 other constraints                      | FAILED_PRECONDITION | the data forbids it   |
// | 08P01 protocol_violation (wrong param. count),  | INTERNAL            | a bug                 |
// |   anything else (syntax, undefined table, ...)  |                     |                       |
// clang-format on
//
// PgConn (pg_conn.cc) overrides the table by the session's state: any failure is UNAVAILABLE when
// the session is gone (PQstatus not OK); a failure with no SQLSTATE (an error libpq raised itself)
// or a class 08 one on a live session is INTERNAL. PgStatusCode("") is UNAVAILABLE (no answer).
//
// Why 40001/40P01 are ABORTED and not UNAVAILABLE (design section 2.2 said UNAVAILABLE): absl's
// codes say UNAVAILABLE means "retry the same call", ABORTED "a concurrency conflict: retry at a
// higher level". After a serialization failure or a deadlock PostgreSQL has rolled the whole
// transaction back, so the statement cannot be retried; the caller must rerun the transaction
// from its BEGIN (and re-read what it decided on). Callers that retry on any error (the alert
// notifier) behave the same either way.
#pragma once

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace prov::server {

absl::StatusCode PgStatusCode(absl::string_view sqlstate);

}  // namespace prov::server
