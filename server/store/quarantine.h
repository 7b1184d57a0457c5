// Start-up quarantine: stored records that no longer parse are moved aside instead of stopping
// provd (issue 14: one stored KYC record with a Windows-1252 byte made every later start fail).
//
//   PROV_ASSIGN_OR_RETURN(std::vector<QuarantinedRecord> moved,
//                         QuarantineUnreadableRecords(db, clock.Now()));
//   for (const auto& r : moved) log(r.table, r.key, r.reason);   // and count them
//
// What is checked and how a failing row is moved: server/store/repo/quarantine.h (engine-free;
// PostgreSQL: server/store/pg/pg_quarantine.h). Here on SQLite, all in ONE write transaction
// (BEGIN IMMEDIATE) on `db`; a clean database costs one read of those tables. Schema:
// server/store/SCHEMA.md (version 6). Thread-compatible.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/store/repo/quarantine.h"
#include "server/store/sqlite.h"

namespace prov::server {

absl::StatusOr<std::vector<QuarantinedRecord>> QuarantineUnreadableRecords(SqliteDb& db,
                                                                           absl::Time now);

}  // namespace prov::server
