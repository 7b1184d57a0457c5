// The tables of an audit export (docs/export-format.md lists every file and column). Internal to
// the Exporter: each Export* function streams one stage's rows, inside the Exporter's read
// snapshot (repo/export_snapshot.h: either engine), from `ctx.snapshot` into files under `ctx.dir`,
// reporting progress and row counts.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "google/protobuf/message.h"
#include "nlohmann/json.hpp"
#include "server/export/exporter.h"
#include "server/store/repo/export_snapshot.h"

namespace prov::server::export_internal {

struct StageContext {
  StageContext(ExportSnapshot& snapshot_in, std::string dir_in, const ExportProgressFn* progress_in)
      : snapshot(snapshot_in), dir(std::move(dir_in)), progress(progress_in) {}
  ExportSnapshot& snapshot;
  std::string dir;
  const ExportProgressFn* progress = nullptr;  // may be null
  std::map<std::string, uint64_t> rows;        // file stem ("flags") -> rows written
  int64_t min_time_us = std::numeric_limits<int64_t>::max();
  int64_t max_time_us = 0;
  void See(int64_t time_us) {
    if (time_us <= 0) return;
    min_time_us = std::min(min_time_us, time_us);
    max_time_us = std::max(max_time_us, time_us);
  }
  void Report(const std::string& stage, uint64_t done, uint64_t total) const;
};

// One table's files: <name>.csv with these columns (none: no CSV) and, when jsonl, <name>.jsonl.
struct TableSpec {
  std::string name;
  std::vector<std::string> columns;
  bool jsonl = true;
};
// Fills one row's CSV fields (in column order) and JSON object from the current row of `st`.
using RowFn = std::function<absl::Status(const ExportCursor& st, std::vector<std::string>* csv,
                                         nlohmann::json* json)>;
// Counts the stage's rows with `count_sql`, then streams `select_sql` through `row` into the
// table's files, reporting progress as stage `stage`.
absl::Status RunStage(StageContext& ctx, const std::string& stage, const TableSpec& table,
                      const std::string& count_sql, const std::string& select_sql,
                      const RowFn& row);
// The JSON object of a row that is flat: each CSV column under its name; the columns listed in
// `numbers` (indexes) as JSON numbers (their text is NumberText's or an integer), empty ones null.
nlohmann::json FlatObject(const std::vector<std::string>& columns,
                          const std::vector<std::string>& csv, std::initializer_list<int> numbers);
// A proto as a JSON object (proto field names, enum names, RFC 3339 timestamps).
nlohmann::json ProtoObject(const google::protobuf::Message& message);
// One JSON line: compact, invalid UTF-8 replaced (never thrown).
std::string JsonLine(const nlohmann::json& j);
// Parses a stored proto BLOB; DATA_LOSS naming the table and key when it does not parse.
absl::Status ParseStored(const std::string& blob, const std::string& table, const std::string& key,
                         google::protobuf::Message* message);

// RFC 3339 UTC with microseconds when there are any ("2026-12-02T01:15:00Z"); "" for 0.
std::string TimeText(int64_t time_us);
// Shortest text that reads back as the same double.
std::string NumberText(double value);

absl::Status ExportFlags(StageContext& ctx);        // flags, flag_evidence
absl::Status ExportBundles(StageContext& ctx);      // bundles
absl::Status ExportLinks(StageContext& ctx);        // links
absl::Status ExportCaseActions(StageContext& ctx);  // case_actions
absl::Status ExportUsage(StageContext& ctx);        // usage_hourly
absl::Status ExportWorkloads(StageContext& ctx);    // workloads
absl::Status ExportAccounts(StageContext& ctx);     // accounts, screening_hits
absl::Status ExportVersions(StageContext& ctx);     // kyc_imports, screening_lists, policies
absl::Status ExportInventory(StageContext& ctx);    // nodes, accelerators
absl::Status ExportAuditLog(StageContext& ctx);     // audit_log

// The declared inventory: inventory_imports, inventory (export_tables_declared.cc).
absl::Status ExportDeclaredInventory(StageContext& ctx);
// Location verification (export_tables_location.cc): location_landmarks, location_sites,
// location_node_keys, location_verdicts, location_measurements (every record a verdict uses).
absl::Status ExportLocationTables(StageContext& ctx, const ExportLocation& location);

}  // namespace prov::server::export_internal
