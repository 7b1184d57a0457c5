// Start-up quarantine: stored records that no longer parse are moved aside instead of stopping
// provd (issue 14: one stored KYC record with a Windows-1252 byte made every later start fail).
//
//   PROV_ASSIGN_OR_RETURN(std::vector<QuarantinedRecord> moved,
//                         QuarantineUnreadableRecords(db, clock.Now()));
//   for (const auto& r : moved) log(r.table, r.key, r.reason);   // and count them
//
// Checks every proto BLOB that provd parses back at start-up or on reads (accounts,
// account_identities, screening_hits, analysis_nodes, analysis_workloads, links, bundles, flags)
// and the raw content of screening_lists (must be UTF-8: it is parsed again). A row that fails is
// copied into `quarantined_records` (table_name, row_key = its key and other columns not held in
// the record, reason, quarantined_at_us, record = the BLOB as stored) and deleted from its table,
// all in ONE write transaction on `db`. Rows that parse are not touched; a clean database costs
// one read of those tables. Schema: server/store/SCHEMA.md (version 6). Thread-compatible.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/store/sqlite.h"

namespace prov::server {

struct QuarantinedRecord {
  std::string table;   // "accounts"
  std::string key;     // "account_id=sg-1, version=2"
  std::string reason;  // "stored AccountIdentity does not parse"
};

absl::StatusOr<std::vector<QuarantinedRecord>> QuarantineUnreadableRecords(SqliteDb& db,
                                                                           absl::Time now);

}  // namespace prov::server
