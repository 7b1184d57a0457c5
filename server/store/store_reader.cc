#include "server/store/store_reader.h"

#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "server/ledger/usage.h"
#include "server/store/node_hardware.h"
#include "server/store/repo/fleet_rows.h"
#include "server/store/store_reader_internal.h"

namespace prov::server {
namespace {

using provenance::v1::AccountUsage;
using provenance::v1::NodeSummary;
using provenance::v1::WorkloadSummary;

using store_internal::SetTime;

constexpr const char* kNodeColumns = kNodeSummaryColumns;
constexpr int kNodeColumnCount = kNodeSummaryColumnCount;  // extra columns follow

// A Statement's current row as NodeSummaryFromRow reads it (repo/fleet_rows.h).
struct StatementRow {
  const Statement& st;
  std::string Text(int c) const { return st.ColumnText(c); }
  int64_t Int(int c) const { return st.ColumnInt64(c); }
  double Dbl(int c) const { return st.ColumnDouble(c); }
};

NodeSummary ReadNode(const Statement& st) {
  StatementRow row{st};
  return NodeSummaryFromRow(row);
}

}  // namespace

absl::StatusOr<std::unique_ptr<StoreReader>> StoreReader::Open(const std::string& path,
                                                               size_t pooled_connections) {
  std::unique_ptr<StoreReader> reader(new StoreReader(path, pooled_connections));
  PROV_ASSIGN_OR_RETURN(auto db, reader->Acquire());  // fail early if the file cannot be read
  reader->Release(std::move(db));
  return reader;
}

absl::StatusOr<std::unique_ptr<SqliteDb>> StoreReader::Acquire() {
  {
    absl::MutexLock lock(&mu_);
    if (!idle_.empty()) {
      auto db = std::move(idle_.back());
      idle_.pop_back();
      return db;
    }
  }
  PROV_ASSIGN_OR_RETURN(auto db, SqliteDb::Open(path_, SqliteDb::kReadOnly));
  PROV_RETURN_IF_ERROR(db->Exec("PRAGMA busy_timeout=5000"));
  PROV_RETURN_IF_ERROR(db->Exec("PRAGMA query_only=1"));
  return db;
}

void StoreReader::Release(std::unique_ptr<SqliteDb> db) {
  if (db == nullptr) return;
  absl::MutexLock lock(&mu_);
  if (idle_.size() < pooled_) idle_.push_back(std::move(db));
}

absl::StatusOr<std::vector<NodeSummary>> StoreReader::ListNodes(const NodeQuery& query) {
  PROV_LEASE(db);
  PROV_ASSIGN_OR_RETURN(Statement * st,
                        db->Cached(absl::StrCat("SELECT ", kNodeColumns,
                                                " FROM nodes WHERE (?1 = '' OR datacenter = ?1) "
                                                "ORDER BY node_id LIMIT ?2")));
  st->BindText(1, query.datacenter);
  st->BindInt64(2, static_cast<int64_t>(query.limit));
  std::vector<NodeSummary> nodes;
  absl::StatusOr<bool> row;
  while ((row = st->Step()).ok() && *row) nodes.push_back(ReadNode(*st));
  st->Reset();
  PROV_RETURN_IF_ERROR(row.status());
  return nodes;
}

absl::StatusOr<provenance::v1::GetNodeResponse> StoreReader::GetNode(const std::string& node_id) {
  PROV_LEASE(db);
  provenance::v1::GetNodeResponse response;
  PROV_ASSIGN_OR_RETURN(
      Statement * st,
      db->Cached(absl::StrCat("SELECT ", kNodeColumns, ", id FROM nodes WHERE node_id = ?")));
  st->BindText(1, node_id);
  absl::StatusOr<bool> row = st->Step();
  int64_t id = 0;
  if (row.ok() && *row) {
    *response.mutable_node() = ReadNode(*st);
    id = st->ColumnInt64(kNodeColumnCount);
  }
  st->Reset();
  PROV_RETURN_IF_ERROR(row.status());
  if (!*row) return absl::NotFoundError(absl::StrCat("node_id: no node \"", node_id, "\""));
  PROV_RETURN_IF_ERROR(ReadNodeHardware(*db, id, /*with_changes=*/true,
                                        response.mutable_node()->mutable_hardware()));

  PROV_ASSIGN_OR_RETURN(
      Statement * acc,
      db->Cached("SELECT accelerator FROM accelerators WHERE node = ? ORDER BY pci_address"));
  acc->BindInt64(1, id);
  while ((row = acc->Step()).ok() && *row) {
    if (!response.add_accelerators()->ParseFromString(acc->ColumnBlob(0))) {
      row = absl::DataLossError("accelerators row does not parse");
      break;
    }
  }
  acc->Reset();
  PROV_RETURN_IF_ERROR(row.status());

  PROV_ASSIGN_OR_RETURN(Statement * gaps, db->Cached(R"sql(
SELECT boot_id, seq, start_us, end_us, claimed_interval_seconds, gap_seconds, accelerator_seconds,
       flop_high
FROM evidence_gaps WHERE node = ? ORDER BY end_us DESC, id DESC LIMIT 100)sql"));
  gaps->BindInt64(1, id);
  while ((row = gaps->Step()).ok() && *row) {
    provenance::v1::EvidenceGap* gap = response.add_evidence_gaps();
    gap->set_boot_id(gaps->ColumnText(0));
    gap->set_seq(gaps->ColumnInt64(1));
    SetTime(gaps->ColumnInt64(2), gap->mutable_start());
    SetTime(gaps->ColumnInt64(3), gap->mutable_end());
    gap->set_claimed_interval_seconds(gaps->ColumnInt64(4));
    gap->set_gap_seconds(gaps->ColumnDouble(5));
    gap->set_accelerator_hours(gaps->ColumnDouble(6) / 3600.0);
    gap->set_flop_high(gaps->ColumnDouble(7));
  }
  gaps->Reset();
  PROV_RETURN_IF_ERROR(row.status());
  return response;
}

absl::StatusOr<std::vector<WorkloadSummary>> StoreReader::ListWorkloads(
    const WorkloadQuery& query) {
  PROV_LEASE(db);
  PROV_ASSIGN_OR_RETURN(Statement * st, db->Cached(R"sql(
SELECT w.workload_id, n.node_id, n.datacenter, w.kind, w.account, w.attribution_source,
       w.workload_class, w.class_confidence, w.launcher, w.accelerator_count, w.accelerator_model,
       w.accelerator_seconds, w.flop_low, w.flop_high, w.method, w.first_seen_us, w.last_seen_us,
       d.workload, w.gap_seconds
FROM workloads w JOIN nodes n ON n.id = w.node
LEFT JOIN workload_details d ON d.node = w.node AND d.workload_id = w.workload_id
WHERE (?1 = '' OR w.account = ?1) AND (?2 = '' OR n.node_id = ?2) AND (?3 = '' OR n.datacenter = ?3)
ORDER BY w.account, w.workload_id, n.node_id LIMIT ?4)sql"));
  st->BindText(1, query.account);
  st->BindText(2, query.node_id);
  st->BindText(3, query.datacenter);
  st->BindInt64(4, static_cast<int64_t>(query.limit));
  std::vector<WorkloadSummary> result;
  absl::StatusOr<bool> row;
  while ((row = st->Step()).ok() && *row) {
    WorkloadSummary& w = result.emplace_back();
    w.set_workload_id(st->ColumnText(0));
    w.set_node_id(st->ColumnText(1));
    w.set_datacenter(st->ColumnText(2));
    w.set_kind(static_cast<provenance::v1::WorkloadKind>(st->ColumnInt64(3)));
    w.set_account(st->ColumnText(4));
    w.set_attribution_source(static_cast<provenance::v1::AttributionSource>(st->ColumnInt64(5)));
    w.set_workload_class(static_cast<provenance::v1::WorkloadClass>(st->ColumnInt64(6)));
    w.set_class_confidence(st->ColumnDouble(7));
    w.set_launcher(st->ColumnText(8));
    w.set_accelerator_count(st->ColumnInt64(9));
    w.set_accelerator_model(st->ColumnText(10));
    w.set_accelerator_hours(st->ColumnDouble(11) / 3600.0);
    w.set_gap_accelerator_hours(st->ColumnDouble(18) / 3600.0);
    w.mutable_flop()->set_low(st->ColumnDouble(12));
    w.mutable_flop()->set_high(st->ColumnDouble(13));
    w.mutable_flop()->set_method(st->ColumnText(14));
    SetTime(st->ColumnInt64(15), w.mutable_first_seen());
    SetTime(st->ColumnInt64(16), w.mutable_last_seen());
    provenance::v1::Workload latest;
    if (latest.ParseFromString(st->ColumnBlob(17))) {
      for (const std::string& reason : latest.class_reasons()) w.add_class_reasons(reason);
    }
  }
  st->Reset();
  PROV_RETURN_IF_ERROR(row.status());
  return result;
}

absl::StatusOr<std::vector<AccountUsage>> StoreReader::GetAccountUsage(const UsageQuery& query) {
  PROV_LEASE(db);
  const int64_t since = query.since ? absl::ToUnixMicros(*query.since) : INT64_MIN;
  const int64_t until = query.until ? absl::ToUnixMicros(*query.until) : INT64_MAX;
  std::map<std::string, AccountUsage> accounts;
  PROV_ASSIGN_OR_RETURN(Statement * st, db->Cached(R"sql(
SELECT account, SUM(accelerator_seconds), SUM(training_seconds), SUM(inference_seconds),
       SUM(flop_low), SUM(flop_high), GROUP_CONCAT(DISTINCT method), SUM(gap_seconds)
FROM account_usage_hourly
WHERE (?1 = '' OR account = ?1) AND hour_us + 3600000000 > ?2 AND hour_us < ?3
GROUP BY account ORDER BY account)sql"));
  st->BindText(1, query.account);
  st->BindInt64(2, since);
  st->BindInt64(3, until);
  absl::StatusOr<bool> row;
  while ((row = st->Step()).ok() && *row) {
    AccountUsage& a = accounts[st->ColumnText(0)];
    a.set_account(st->ColumnText(0));
    a.set_accelerator_hours(st->ColumnDouble(1) / 3600.0);
    a.set_training_accelerator_hours(st->ColumnDouble(2) / 3600.0);
    a.set_inference_accelerator_hours(st->ColumnDouble(3) / 3600.0);
    a.mutable_flop()->set_low(st->ColumnDouble(4));
    a.mutable_flop()->set_high(st->ColumnDouble(5));
    std::string method;
    for (absl::string_view m : absl::StrSplit(st->ColumnText(6), ',', absl::SkipEmpty())) {
      method = MergeMethods(method, std::string(m));
    }
    a.mutable_flop()->set_method(method);
    a.set_gap_accelerator_hours(st->ColumnDouble(7) / 3600.0);
  }
  st->Reset();
  PROV_RETURN_IF_ERROR(row.status());

  // Workloads, nodes and data centres active in the window (by first/last seen).
  PROV_ASSIGN_OR_RETURN(Statement * active, db->Cached(R"sql(
SELECT w.account, COUNT(*), COUNT(DISTINCT w.node), GROUP_CONCAT(DISTINCT n.datacenter)
FROM workloads w JOIN nodes n ON n.id = w.node
WHERE (?1 = '' OR w.account = ?1) AND w.last_seen_us >= ?2 AND w.first_seen_us < ?3
GROUP BY w.account)sql"));
  active->BindText(1, query.account);
  active->BindInt64(2, since);
  active->BindInt64(3, until);
  while ((row = active->Step()).ok() && *row) {
    auto it = accounts.find(active->ColumnText(0));
    if (it == accounts.end()) continue;
    it->second.set_workloads(active->ColumnInt64(1));
    it->second.set_nodes(active->ColumnInt64(2));
    std::set<std::string> dcs;
    for (absl::string_view dc : absl::StrSplit(active->ColumnText(3), ',', absl::SkipEmpty())) {
      dcs.emplace(dc);
    }
    for (const std::string& dc : dcs) it->second.add_datacenters(dc);
  }
  active->Reset();
  PROV_RETURN_IF_ERROR(row.status());
  std::vector<AccountUsage> result;
  for (auto& [name, usage] : accounts) result.push_back(std::move(usage));
  return result;
}

absl::StatusOr<int64_t> StoreReader::CountNodes() {
  PROV_LEASE(db);
  PROV_ASSIGN_OR_RETURN(Statement * st, db->Cached("SELECT COUNT(*) FROM nodes"));
  absl::StatusOr<bool> row = st->Step();
  int64_t count = row.ok() && *row ? st->ColumnInt64(0) : 0;
  st->Reset();
  PROV_RETURN_IF_ERROR(row.status());
  return count;
}

absl::StatusOr<int64_t> StoreReader::CountReports() {
  PROV_LEASE(db);
  PROV_ASSIGN_OR_RETURN(Statement * st, db->Cached("SELECT COUNT(*) FROM reports"));
  absl::StatusOr<bool> row = st->Step();
  int64_t count = row.ok() && *row ? st->ColumnInt64(0) : 0;
  st->Reset();
  PROV_RETURN_IF_ERROR(row.status());
  return count;
}

absl::StatusOr<std::vector<AcceleratorCount>> StoreReader::CountAccelerators() {
  PROV_LEASE(db);
  PROV_ASSIGN_OR_RETURN(
      Statement * st,
      db->Cached("SELECT vendor, model, COUNT(*) FROM accelerators GROUP BY vendor, model "
                 "ORDER BY vendor, model"));
  std::vector<AcceleratorCount> result;
  absl::StatusOr<bool> row;
  while ((row = st->Step()).ok() && *row) {
    result.push_back({st->ColumnText(0), st->ColumnText(1), st->ColumnInt64(2)});
  }
  st->Reset();
  PROV_RETURN_IF_ERROR(row.status());
  return result;
}

absl::StatusOr<std::vector<DatacenterNodeCount>> StoreReader::CountNodesByDatacenter(
    absl::Time silent_before) {
  PROV_LEASE(db);
  PROV_ASSIGN_OR_RETURN(
      Statement * st,
      db->Cached("SELECT datacenter, SUM(last_seen_us >= ?1), SUM(last_seen_us < ?1) FROM nodes "
                 "GROUP BY datacenter ORDER BY datacenter"));
  st->BindInt64(1, absl::ToUnixMicros(silent_before));
  std::vector<DatacenterNodeCount> result;
  absl::StatusOr<bool> row;
  while ((row = st->Step()).ok() && *row) {
    result.push_back({st->ColumnText(0), st->ColumnInt64(1), st->ColumnInt64(2)});
  }
  st->Reset();
  PROV_RETURN_IF_ERROR(row.status());
  return result;
}

absl::StatusOr<int64_t> StoreReader::CountRejectingNodes(absl::Time heard_after) {
  PROV_LEASE(db);
  PROV_ASSIGN_OR_RETURN(Statement * st,
                        db->Cached("SELECT COUNT(*) FROM nodes WHERE rejecting_since_us > 0 AND "
                                   "last_rejected_us >= ?1"));
  st->BindInt64(1, absl::ToUnixMicros(heard_after));
  absl::StatusOr<bool> row = st->Step();
  const int64_t count = row.ok() && *row ? st->ColumnInt64(0) : 0;
  st->Reset();
  PROV_RETURN_IF_ERROR(row.status());
  return count;
}

absl::StatusOr<StoreReader::AgentLosses> StoreReader::SumAgentLosses() {
  PROV_LEASE(db);
  PROV_ASSIGN_OR_RETURN(Statement * st,
                        db->Cached("SELECT COALESCE(SUM(agent_dropped_reports), 0), "
                                   "COALESCE(SUM(agent_unreadable_reports), 0) FROM nodes"));
  absl::StatusOr<bool> row = st->Step();
  AgentLosses losses;
  if (row.ok() && *row) losses = {st->ColumnInt64(0), st->ColumnInt64(1)};
  st->Reset();
  PROV_RETURN_IF_ERROR(row.status());
  return losses;
}

}  // namespace prov::server
