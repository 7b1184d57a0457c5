#include "tests/integration/ledger_rows.h"

#include <sqlite3.h>

namespace prov::testing {

std::map<std::string, NodeRows> ReadLedger(const std::string& db_path, std::string* error) {
  std::map<std::string, NodeRows> out;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    *error = sqlite3_errmsg(db);
    sqlite3_close(db);
    return out;
  }
  sqlite3_busy_timeout(db, 5000);
  const char* sql =
      "SELECT n.node_id, COUNT(r.id), COUNT(DISTINCT r.boot_id || ':' || r.seq), "
      "MIN(r.seq), MAX(r.seq), n.reports_stored "
      "FROM nodes n LEFT JOIN reports r ON r.node = n.id GROUP BY n.id";
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) != SQLITE_OK) {
    *error = sqlite3_errmsg(db);
  } else {
    while (sqlite3_step(st) == SQLITE_ROW) {
      NodeRows& n = out[reinterpret_cast<const char*>(sqlite3_column_text(st, 0))];
      n.rows = sqlite3_column_int64(st, 1);
      n.distinct_seqs = sqlite3_column_int64(st, 2);
      n.min_seq = sqlite3_column_int64(st, 3);
      n.max_seq = sqlite3_column_int64(st, 4);
      n.reports_stored = sqlite3_column_int64(st, 5);
    }
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

int64_t CountReports(const std::string& db_path) {
  std::string error;
  int64_t total = 0;
  for (const auto& [node, rows] : ReadLedger(db_path, &error)) total += rows.rows;
  return total;
}

}  // namespace prov::testing
