// The start-up quarantine's engine-free half: which stored records provd parses back, how each is
// checked, and the scan that moves the ones that fail; the engines supply a QuarantineRows over
// one open write transaction (SQLite: QuarantineUnreadableRecords(SqliteDb&, ...) in
// server/store/quarantine.h; PostgreSQL: QuarantineUnreadableRecords(PgConn&, ...) in
// server/store/pg/pg_quarantine.h).
//
//   class MyRows : public QuarantineRows { ... };        // Scan and Move on one engine
//   PROV_ASSIGN_OR_RETURN(auto moved, QuarantineUnreadableRows(rows, clock.Now()));
//
// Checked: every proto blob provd parses back at start-up or on reads (accounts,
// account_identities, screening_hits, analysis_nodes, analysis_workloads, links, bundles, flags)
// and the raw content of screening_lists (must be UTF-8: it is parsed again). A row that fails is
// copied into `quarantined_records` (table_name, row_key = its key and other columns not held in
// the record, reason, quarantined_at_us, record = the blob as stored) and deleted from its table.
// Rows that parse are not touched. Thread-compatible.
#pragma once

#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace prov::server {

struct QuarantinedRecord {
  std::string table;   // "accounts"
  std::string key;     // "account_id=sg-1, version=2"
  std::string reason;  // "stored AccountIdentity does not parse"
};

// One engine's rows, inside the caller's one write transaction.
class QuarantineRows {
 public:
  using Row = absl::FunctionRef<void(std::vector<std::string> key_values, std::string record)>;
  virtual ~QuarantineRows() = default;
  // Every row of `table`: `record_column` as stored and `key_columns` as text, in that order.
  virtual absl::Status Scan(const std::string& table, const std::vector<std::string>& key_columns,
                            const std::string& record_column, Row row) = 0;
  // Deletes the row whose key_columns equal key_values and inserts `q` with `record` into
  // quarantined_records. False (nothing moved) when the row no longer holds `record`: another
  // writer (the leader's analysis store, on PostgreSQL, which does not take the quarantine's lock)
  // rewrote it since the scan, and its new bytes are not this check's business. INTERNAL when
  // more than one row matched the key.
  virtual absl::StatusOr<bool> Move(const std::string& table,
                                    const std::vector<std::string>& key_columns,
                                    const std::vector<std::string>& key_values,
                                    const std::string& record_column, const QuarantinedRecord& q,
                                    const std::string& record, absl::Time now) = 0;
};

// Scans every checked table on `rows` and moves the rows that fail; returns them, table by table.
absl::StatusOr<std::vector<QuarantinedRecord>> QuarantineUnreadableRows(QuarantineRows& rows,
                                                                        absl::Time now);

}  // namespace prov::server
