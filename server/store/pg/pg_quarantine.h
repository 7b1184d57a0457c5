// The start-up quarantine (server/store/repo/quarantine.h) on PostgreSQL: the stored records that
// no longer parse are moved from their tables into provd.quarantined_records (pg_schema.cc,
// PostgreSQL version 7).
//
//   PROV_ASSIGN_OR_RETURN(auto conn, PgConn::Connect(url.pg_conninfo, options));  // search_path
//   provd PROV_ASSIGN_OR_RETURN(std::vector<QuarantinedRecord> moved,
//                         QuarantineUnreadableRecords(*conn, clock.Now()));
//
// ONE READ COMMITTED transaction on `conn` (FAILED_PRECONDITION when one is already open), which
// first takes the identity lock (kPgLockKey, kPgIdentityLock), so no identity import of another
// replica commits between the scan and the moves (the analysis facts are written by the one
// elected engine, which runs after its replica's start-up scan). A failure rolls everything back.
// Not repeated on a lost session (the caller restarts). Thread-compatible (the caller's
// connection).
#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/store/pg/pg_conn.h"
#include "server/store/repo/quarantine.h"

namespace prov::server {

absl::StatusOr<std::vector<QuarantinedRecord>> QuarantineUnreadableRecords(PgConn& conn,
                                                                           absl::Time now);

}  // namespace prov::server
