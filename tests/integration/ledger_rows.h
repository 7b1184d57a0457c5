// What provd's SQLite file holds per node, read directly (read-only) by the black-box tests that
// check "every report stored exactly once" after a crash, a full disk or a partition.
//
//   std::string error;
//   std::map<std::string, NodeRows> ledger = ReadLedger(data_dir + "/provd.db", &error);
//   for (auto& [node, rows] : ledger) EXPECT_EQ(rows.distinct_seqs, rows.rows);
//   int64_t stored = CountReports(data_dir + "/provd.db");
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace prov::testing {

struct NodeRows {
  int64_t rows = 0, distinct_seqs = 0, min_seq = 0, max_seq = 0, reports_stored = 0;
};

// Per node id: rows in `reports`, distinct (boot_id, seq), the seq range, nodes.reports_stored.
std::map<std::string, NodeRows> ReadLedger(const std::string& db_path, std::string* error);

// Rows in `reports` over all nodes (0 when the file cannot be read).
int64_t CountReports(const std::string& db_path);

}  // namespace prov::testing
