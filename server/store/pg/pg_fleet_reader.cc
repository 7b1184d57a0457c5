#include "server/store/pg/pg_fleet_reader.h"

#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "server/ledger/usage.h"
#include "server/store/pg/pg_fleet_reader_internal.h"
#include "server/store/pg/pg_schema.h"
#include "server/store/repo/fleet_rows.h"

namespace prov::server {
namespace {

using pg_fleet_internal::PgRow;
using pg_fleet_internal::SetTime;
using provenance::v1::AccountUsage;
using provenance::v1::NodeSummary;
using provenance::v1::WorkloadSummary;

// The nodes columns and their reading, shared with StoreReader (repo/fleet_rows.h).
constexpr const char* kNodeColumns = kNodeSummaryColumns;
constexpr int kNodeColumnCount = kNodeSummaryColumnCount;
constexpr int64_t kMaxHardwareChangesShown = 50;  // node_hardware.cc's kMaxChangesShown

NodeSummary ReadNode(PgRow& row) { return NodeSummaryFromRow(row); }

// node_hardware.cc's ReadNodeHardware(with_changes = true) on PostgreSQL. (The inventory
// domain's repository will own this read; folded at merge.)
absl::Status ReadNodeHardwarePg(PgConn& conn, int64_t node,
                                provenance::v1::NodeHardwareIdentity* out) {
  PROV_ASSIGN_OR_RETURN(
      PgResult r, conn.Query("SELECT hardware, since_us, since_boot_id, (SELECT COUNT(*) FROM "
                             "node_hardware_changes c WHERE c.node = h.node) FROM node_hardware h "
                             "WHERE node = $1",
                             {node}));
  if (r.rows() == 0) return absl::OkStatus();
  PgRow row(r, 0);
  if (!out->mutable_hardware()->ParseFromString(row.Bytes(0))) {
    return absl::DataLossError(absl::StrCat("node_hardware row of node ", node, " does not parse"));
  }
  SetTime(row.Int(1), out->mutable_since());
  out->set_since_boot_id(row.Text(2));
  out->set_changes_total(static_cast<uint32_t>(row.Int(3)));
  PROV_RETURN_IF_ERROR(row.status());
  if (out->changes_total() == 0) return absl::OkStatus();
  PROV_ASSIGN_OR_RETURN(
      PgResult changes,
      conn.Query("SELECT field, old_value, new_value, changed_at_us, boot_id, previous_seen_us "
                 "FROM node_hardware_changes WHERE node = $1 ORDER BY changed_at_us DESC, id "
                 "DESC LIMIT $2",
                 {node, kMaxHardwareChangesShown}));
  for (int i = 0; i < changes.rows(); ++i) {
    PgRow ch(changes, i);
    provenance::v1::NodeHardwareChange* c = out->add_changes();
    c->set_field(ch.Text(0));
    c->set_old_value(ch.Text(1));
    c->set_new_value(ch.Text(2));
    SetTime(ch.Int(3), c->mutable_changed_at());
    c->set_boot_id(ch.Text(4));
    if (ch.Int(5) > 0) SetTime(ch.Int(5), c->mutable_previous_seen());
    PROV_RETURN_IF_ERROR(ch.status());
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<PgFleetReader>> PgFleetReader::Open(const std::string& conninfo,
                                                                   size_t connections,
                                                                   absl::Duration connect_timeout) {
  if (connections == 0) {
    return absl::InvalidArgumentError("PgFleetReader: connections must be at least 1");
  }
  PgConnOptions options{.connect_timeout = connect_timeout,
                        .application_name = "provd/fleet",
                        .search_path = kPgSchema};
  std::vector<std::unique_ptr<PgConn>> conns;
  for (size_t i = 0; i < connections; ++i) {
    PROV_ASSIGN_OR_RETURN(auto conn, PgConn::Connect(conninfo, options));
    if (i == 0) PROV_RETURN_IF_ERROR(MigratePgSchema(*conn));
    conns.push_back(std::move(conn));
  }
  return std::make_unique<PgFleetReader>(std::move(conns));
}

PgFleetReader::PgFleetReader(std::vector<std::unique_ptr<PgConn>> conns)
    : idle_(std::move(conns)) {}

PgFleetReader::PgFleetReader(std::unique_ptr<PgConn> conn) { idle_.push_back(std::move(conn)); }

std::unique_ptr<PgConn> PgFleetReader::Acquire() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](std::vector<std::unique_ptr<PgConn>>* idle) { return !idle->empty(); }, &idle_));
  std::unique_ptr<PgConn> conn = std::move(idle_.back());
  idle_.pop_back();
  return conn;
}

void PgFleetReader::Release(std::unique_ptr<PgConn> conn) {
  absl::MutexLock lock(&mu_);
  idle_.push_back(std::move(conn));
}

absl::StatusOr<int64_t> PgFleetReader::Count(absl::string_view sql, std::vector<PgParam> params) {
  return Read([&](PgConn& conn) -> absl::StatusOr<int64_t> {
    PROV_ASSIGN_OR_RETURN(PgResult r, conn.Query(sql, params));
    return r.rows() == 0 ? int64_t{0} : r.Int64(0, 0);
  });
}

absl::StatusOr<std::vector<NodeSummary>> PgFleetReader::ListNodes(const NodeQuery& query) {
  return Read([&](PgConn& conn) -> absl::StatusOr<std::vector<NodeSummary>> {
    PROV_ASSIGN_OR_RETURN(
        PgResult r, conn.Query(absl::StrCat("SELECT ", kNodeColumns,
                                            " FROM nodes WHERE ($1::text = '' OR datacenter = "
                                            "$1::text) ORDER BY node_id LIMIT $2"),
                               {query.datacenter, LimitParam(query.limit)}));
    std::vector<NodeSummary> nodes;
    for (int i = 0; i < r.rows(); ++i) {
      PgRow row(r, i);
      nodes.push_back(ReadNode(row));
      PROV_RETURN_IF_ERROR(row.status());
    }
    return nodes;
  });
}

absl::StatusOr<provenance::v1::GetNodeResponse> PgFleetReader::GetNode(const std::string& node_id) {
  return Read([&](PgConn& conn) -> absl::StatusOr<provenance::v1::GetNodeResponse> {
    provenance::v1::GetNodeResponse response;
    PROV_ASSIGN_OR_RETURN(PgResult r, conn.Query(absl::StrCat("SELECT ", kNodeColumns,
                                                              ", id FROM nodes WHERE node_id = $1"),
                                                 {node_id}));
    if (r.rows() == 0) {
      return absl::NotFoundError(absl::StrCat("node_id: no node \"", node_id, "\""));
    }
    PgRow row(r, 0);
    *response.mutable_node() = ReadNode(row);
    const int64_t id = row.Int(kNodeColumnCount);
    PROV_RETURN_IF_ERROR(row.status());
    PROV_RETURN_IF_ERROR(ReadNodeHardwarePg(conn, id, response.mutable_node()->mutable_hardware()));

    PROV_ASSIGN_OR_RETURN(
        PgResult acc,
        conn.Query("SELECT accelerator FROM accelerators WHERE node = $1 ORDER BY pci_address",
                   {id}));
    for (int i = 0; i < acc.rows(); ++i) {
      PROV_ASSIGN_OR_RETURN(std::string blob, acc.Bytes(i, 0));
      if (!response.add_accelerators()->ParseFromString(blob)) {
        return absl::DataLossError("accelerators row does not parse");
      }
    }
    PROV_ASSIGN_OR_RETURN(PgResult gaps, conn.Query(R"sql(
SELECT boot_id, seq, start_us, end_us, claimed_interval_seconds, gap_seconds, accelerator_seconds,
       flop_high
FROM evidence_gaps WHERE node = $1 ORDER BY end_us DESC, id DESC LIMIT 100)sql",
                                                    {id}));
    for (int i = 0; i < gaps.rows(); ++i) {
      PgRow g(gaps, i);
      provenance::v1::EvidenceGap* gap = response.add_evidence_gaps();
      gap->set_boot_id(g.Text(0));
      gap->set_seq(g.Int(1));
      SetTime(g.Int(2), gap->mutable_start());
      SetTime(g.Int(3), gap->mutable_end());
      gap->set_claimed_interval_seconds(g.Int(4));
      gap->set_gap_seconds(g.Dbl(5));
      gap->set_accelerator_hours(g.Dbl(6) / 3600.0);
      gap->set_flop_high(g.Dbl(7));
      PROV_RETURN_IF_ERROR(g.status());
    }
    return response;
  });
}

absl::StatusOr<std::vector<WorkloadSummary>> PgFleetReader::ListWorkloads(
    const WorkloadQuery& query) {
  return Read([&](PgConn& conn) -> absl::StatusOr<std::vector<WorkloadSummary>> {
    PROV_ASSIGN_OR_RETURN(PgResult r, conn.Query(R"sql(
SELECT w.workload_id, n.node_id, n.datacenter, w.kind, w.account, w.attribution_source,
       w.workload_class, w.class_confidence, w.launcher, w.accelerator_count, w.accelerator_model,
       w.accelerator_seconds, w.flop_low, w.flop_high, w.method, w.first_seen_us, w.last_seen_us,
       d.workload, w.gap_seconds
FROM workloads w JOIN nodes n ON n.id = w.node
LEFT JOIN workload_details d ON d.node = w.node AND d.workload_id = w.workload_id
WHERE ($1::text = '' OR w.account = $1::text) AND ($2::text = '' OR n.node_id = $2::text)
  AND ($3::text = '' OR n.datacenter = $3::text)
ORDER BY w.account, w.workload_id, n.node_id LIMIT $4)sql",
                                                 {query.account, query.node_id, query.datacenter,
                                                  LimitParam(query.limit)}));
    std::vector<WorkloadSummary> result;
    for (int i = 0; i < r.rows(); ++i) {
      PgRow row(r, i);
      WorkloadSummary& w = result.emplace_back();
      w.set_workload_id(row.Text(0));
      w.set_node_id(row.Text(1));
      w.set_datacenter(row.Text(2));
      w.set_kind(static_cast<provenance::v1::WorkloadKind>(row.Int(3)));
      w.set_account(row.Text(4));
      w.set_attribution_source(static_cast<provenance::v1::AttributionSource>(row.Int(5)));
      w.set_workload_class(static_cast<provenance::v1::WorkloadClass>(row.Int(6)));
      w.set_class_confidence(row.Dbl(7));
      w.set_launcher(row.Text(8));
      w.set_accelerator_count(row.Int(9));
      w.set_accelerator_model(row.Text(10));
      w.set_accelerator_hours(row.Dbl(11) / 3600.0);
      w.set_gap_accelerator_hours(row.Dbl(18) / 3600.0);
      w.mutable_flop()->set_low(row.Dbl(12));
      w.mutable_flop()->set_high(row.Dbl(13));
      w.mutable_flop()->set_method(row.Text(14));
      SetTime(row.Int(15), w.mutable_first_seen());
      SetTime(row.Int(16), w.mutable_last_seen());
      provenance::v1::Workload latest;
      if (latest.ParseFromString(row.Bytes(17))) {
        for (const std::string& reason : latest.class_reasons()) w.add_class_reasons(reason);
      }
      PROV_RETURN_IF_ERROR(row.status());
    }
    return result;
  });
}

absl::StatusOr<std::vector<AccountUsage>> PgFleetReader::GetAccountUsage(const UsageQuery& query) {
  const int64_t since = query.since ? absl::ToUnixMicros(*query.since) : INT64_MIN;
  const int64_t until = query.until ? absl::ToUnixMicros(*query.until) : INT64_MAX;
  return Read([&](PgConn& conn) -> absl::StatusOr<std::vector<AccountUsage>> {
    std::map<std::string, AccountUsage> accounts;
    PROV_ASSIGN_OR_RETURN(PgResult r, conn.Query(R"sql(
SELECT account, SUM(accelerator_seconds), SUM(training_seconds), SUM(inference_seconds),
       SUM(flop_low), SUM(flop_high), string_agg(DISTINCT method, ','), SUM(gap_seconds)
FROM account_usage_hourly
WHERE ($1::text = '' OR account = $1::text) AND hour_us + 3600000000 > $2 AND hour_us < $3
GROUP BY account ORDER BY account)sql",
                                                 {query.account, since, until}));
    for (int i = 0; i < r.rows(); ++i) {
      PgRow row(r, i);
      AccountUsage& a = accounts[row.Text(0)];
      a.set_account(row.Text(0));
      a.set_accelerator_hours(row.Dbl(1) / 3600.0);
      a.set_training_accelerator_hours(row.Dbl(2) / 3600.0);
      a.set_inference_accelerator_hours(row.Dbl(3) / 3600.0);
      a.mutable_flop()->set_low(row.Dbl(4));
      a.mutable_flop()->set_high(row.Dbl(5));
      std::string method;
      for (absl::string_view m : absl::StrSplit(row.Text(6), ',', absl::SkipEmpty())) {
        method = MergeMethods(method, std::string(m));
      }
      a.mutable_flop()->set_method(method);
      a.set_gap_accelerator_hours(row.Dbl(7) / 3600.0);
      PROV_RETURN_IF_ERROR(row.status());
    }
    // Workloads, nodes and data centres active in the window (by first/last seen).
    PROV_ASSIGN_OR_RETURN(PgResult active, conn.Query(R"sql(
SELECT w.account, COUNT(*), COUNT(DISTINCT w.node), string_agg(DISTINCT n.datacenter, ',')
FROM workloads w JOIN nodes n ON n.id = w.node
WHERE ($1::text = '' OR w.account = $1::text) AND w.last_seen_us >= $2 AND w.first_seen_us < $3
GROUP BY w.account)sql",
                                                      {query.account, since, until}));
    for (int i = 0; i < active.rows(); ++i) {
      PgRow row(active, i);
      auto it = accounts.find(row.Text(0));
      if (it == accounts.end()) continue;
      it->second.set_workloads(row.Int(1));
      it->second.set_nodes(row.Int(2));
      std::set<std::string> dcs;
      for (absl::string_view dc : absl::StrSplit(row.Text(3), ',', absl::SkipEmpty())) {
        dcs.emplace(dc);
      }
      for (const std::string& dc : dcs) it->second.add_datacenters(dc);
      PROV_RETURN_IF_ERROR(row.status());
    }
    std::vector<AccountUsage> result;
    for (auto& [name, usage] : accounts) result.push_back(std::move(usage));
    return result;
  });
}

absl::StatusOr<int64_t> PgFleetReader::CountNodes() {
  return Count("SELECT COUNT(*) FROM nodes", {});
}

absl::StatusOr<int64_t> PgFleetReader::CountReports() {
  return Count("SELECT COUNT(*) FROM reports", {});
}

absl::StatusOr<int64_t> PgFleetReader::CountRejectingNodes(absl::Time heard_after) {
  return Count("SELECT COUNT(*) FROM nodes WHERE rejecting_since_us > 0 AND last_rejected_us >= $1",
               {absl::ToUnixMicros(heard_after)});
}

absl::StatusOr<std::vector<AcceleratorCount>> PgFleetReader::CountAccelerators() {
  return Read([&](PgConn& conn) -> absl::StatusOr<std::vector<AcceleratorCount>> {
    PROV_ASSIGN_OR_RETURN(
        PgResult r, conn.Query("SELECT vendor, model, COUNT(*) FROM accelerators GROUP BY vendor, "
                               "model ORDER BY vendor, model"));
    std::vector<AcceleratorCount> result;
    for (int i = 0; i < r.rows(); ++i) {
      PROV_ASSIGN_OR_RETURN(int64_t count, r.Int64(i, 2));
      result.push_back({r.Text(i, 0), r.Text(i, 1), count});
    }
    return result;
  });
}

absl::StatusOr<std::vector<DatacenterNodeCount>> PgFleetReader::CountNodesByDatacenter(
    absl::Time silent_before) {
  return Read([&](PgConn& conn) -> absl::StatusOr<std::vector<DatacenterNodeCount>> {
    // SQLite's SUM(last_seen_us >= ?1) counts the rows where the comparison holds.
    PROV_ASSIGN_OR_RETURN(
        PgResult r, conn.Query("SELECT datacenter, COUNT(*) FILTER (WHERE last_seen_us >= $1), "
                               "COUNT(*) FILTER (WHERE last_seen_us < $1) FROM nodes "
                               "GROUP BY datacenter ORDER BY datacenter",
                               {absl::ToUnixMicros(silent_before)}));
    std::vector<DatacenterNodeCount> result;
    for (int i = 0; i < r.rows(); ++i) {
      PgRow row(r, i);
      result.push_back({row.Text(0), row.Int(1), row.Int(2)});
      PROV_RETURN_IF_ERROR(row.status());
    }
    return result;
  });
}

absl::StatusOr<AgentLosses> PgFleetReader::SumAgentLosses() {
  return Read([&](PgConn& conn) -> absl::StatusOr<AgentLosses> {
    PROV_ASSIGN_OR_RETURN(PgResult r,
                          conn.Query("SELECT COALESCE(SUM(agent_dropped_reports), 0), "
                                     "COALESCE(SUM(agent_unreadable_reports), 0) FROM nodes"));
    AgentLosses losses;
    if (r.rows() > 0) {
      PgRow row(r, 0);
      losses = {row.Int(0), row.Int(1)};
      PROV_RETURN_IF_ERROR(row.status());
    }
    return losses;
  });
}

}  // namespace prov::server
