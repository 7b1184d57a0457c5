// StoreReader's fleet aggregates for the dashboard: overview, accelerator inventory, usage series.
// Every figure is a GROUP BY over the ingest tables (plus the analysis engine's `flags` rows for
// flag counts); nothing is queried per node or per account.
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "provenance/v1/analysis.pb.h"
#include "server/ledger/usage.h"
#include "server/store/store_reader_internal.h"

namespace prov::server {
namespace {

using provenance::v1::AcceleratorGroup;
using provenance::v1::AcceleratorRecord;
using provenance::v1::GetAccountUsageSeriesResponse;
using provenance::v1::GetFleetOverviewResponse;
using store_internal::SetTime;

constexpr int64_t kHourUs = 3600LL * 1000000;

// Runs `fn` on every row of a bound statement, then resets it.
template <typename F>
absl::Status EachRow(Statement& st, F&& fn) {
  absl::StatusOr<bool> row;
  while ((row = st.Step()).ok() && *row) fn(st);
  st.Reset();
  return row.status();
}

std::set<std::string> SplitSet(const std::string& joined) {
  std::set<std::string> out;
  for (absl::string_view v : absl::StrSplit(joined, ',', absl::SkipEmpty())) out.emplace(v);
  return out;
}

// Keeps the read transaction short and always ends it.
class ReadTransaction {
 public:
  explicit ReadTransaction(SqliteDb& db) : db_(db) {}
  absl::Status Begin() {
    PROV_RETURN_IF_ERROR(db_.Exec("BEGIN"));
    open_ = true;
    return absl::OkStatus();
  }
  ~ReadTransaction() {
    if (open_) (void)db_.Exec("COMMIT");
  }

 private:
  SqliteDb& db_;
  bool open_ = false;
};

}  // namespace

absl::StatusOr<GetFleetOverviewResponse> StoreReader::FleetOverview(absl::Time silent_before) {
  PROV_LEASE(db);
  ReadTransaction tx(*db);
  PROV_RETURN_IF_ERROR(tx.Begin());
  GetFleetOverviewResponse out;
  const int64_t silent_us = absl::ToUnixMicros(silent_before);

  // Nodes per data centre and region (the region most of a data centre's nodes report wins).
  std::map<std::string, provenance::v1::DatacenterSummary> dcs;
  std::map<std::string, int64_t> region_nodes;  // of the region chosen so far, per data centre
  PROV_ASSIGN_OR_RETURN(Statement * nodes, db->Cached(R"sql(
SELECT datacenter, region, COUNT(*), SUM(last_seen_us < ?1), SUM(reports_stored)
FROM nodes GROUP BY datacenter, region)sql"));
  nodes->BindInt64(1, silent_us);
  PROV_RETURN_IF_ERROR(EachRow(*nodes, [&](Statement& st) {
    auto& dc = dcs[st.ColumnText(0)];
    dc.set_datacenter(st.ColumnText(0));
    const int64_t count = st.ColumnInt64(2);
    int64_t& best = region_nodes[dc.datacenter()];
    if (count > best) {
      best = count;
      dc.set_region(st.ColumnText(1));
    }
    dc.set_nodes(dc.nodes() + count);
    dc.set_nodes_silent(dc.nodes_silent() + st.ColumnInt64(3));
    out.set_reports_stored(out.reports_stored() + st.ColumnInt64(4));
  }));
  PROV_ASSIGN_OR_RETURN(Statement * per_dc, db->Cached(R"sql(
SELECT n.datacenter, COUNT(*) FROM accelerators a JOIN nodes n ON n.id = a.node
GROUP BY n.datacenter)sql"));
  PROV_RETURN_IF_ERROR(EachRow(
      *per_dc, [&](Statement& st) { dcs[st.ColumnText(0)].set_accelerators(st.ColumnInt64(1)); }));
  for (auto& [name, dc] : dcs) {
    out.set_nodes(out.nodes() + dc.nodes());
    out.set_nodes_silent(out.nodes_silent() + dc.nodes_silent());
    out.set_accelerators(out.accelerators() + dc.accelerators());
    *out.add_datacenters() = std::move(dc);
  }
  out.set_nodes_reporting(out.nodes() - out.nodes_silent());

  PROV_ASSIGN_OR_RETURN(Statement * groups, db->Cached(R"sql(
SELECT MAX(a.vendor), MAX(a.model), MAX(a.model_known), a.vendor_id, a.device_id, COUNT(*),
       COUNT(DISTINCT a.node), GROUP_CONCAT(DISTINCT n.datacenter), MIN(a.first_seen_us),
       MAX(a.last_seen_us)
FROM accelerators a JOIN nodes n ON n.id = a.node
GROUP BY a.vendor_id, a.device_id
ORDER BY COUNT(*) DESC, a.vendor_id, a.device_id)sql"));
  PROV_RETURN_IF_ERROR(EachRow(*groups, [&](Statement& st) {
    AcceleratorGroup* g = out.add_accelerator_groups();
    g->set_vendor(st.ColumnText(0));
    g->set_model(st.ColumnText(1));
    g->set_model_known(st.ColumnInt64(2) != 0);
    g->set_vendor_id(st.ColumnInt64(3));
    g->set_device_id(st.ColumnInt64(4));
    g->set_count(st.ColumnInt64(5));
    g->set_nodes(st.ColumnInt64(6));
    for (const std::string& dc : SplitSet(st.ColumnText(7))) g->add_datacenters(dc);
    SetTime(st.ColumnInt64(8), g->mutable_first_seen());
    SetTime(st.ColumnInt64(9), g->mutable_last_seen());
  }));

  // The ledger's totals from the per-workload sums (far fewer rows than the hourly table).
  PROV_ASSIGN_OR_RETURN(Statement * ledger, db->Cached(R"sql(
SELECT COUNT(DISTINCT account), COALESCE(SUM(accelerator_seconds), 0), COALESCE(SUM(flop_low), 0),
       COALESCE(SUM(flop_high), 0), COALESCE(SUM(last_seen_us >= ?1), 0)
FROM workloads)sql"));
  ledger->BindInt64(1, silent_us);
  PROV_RETURN_IF_ERROR(EachRow(*ledger, [&](Statement& st) {
    out.set_accounts(st.ColumnInt64(0));
    out.set_accelerator_hours(st.ColumnDouble(1) / 3600.0);
    out.mutable_flop()->set_low(st.ColumnDouble(2));
    out.mutable_flop()->set_high(st.ColumnDouble(3));
    out.set_workloads_active(st.ColumnInt64(4));
  }));

  PROV_ASSIGN_OR_RETURN(
      Statement * flags,
      db->Cached("SELECT severity, status, COUNT(*) FROM flags GROUP BY severity, status "
                 "ORDER BY severity DESC, status"));
  PROV_RETURN_IF_ERROR(EachRow(*flags, [&](Statement& st) {
    auto* c = out.add_flags();
    const auto severity = static_cast<provenance::v1::Severity>(st.ColumnInt64(0));
    const auto status = static_cast<provenance::v1::FlagStatus>(st.ColumnInt64(1));
    c->set_severity(provenance::v1::Severity_IsValid(severity)
                        ? provenance::v1::Severity_Name(severity)
                        : absl::StrCat(st.ColumnInt64(0)));
    c->set_status(provenance::v1::FlagStatus_IsValid(status)
                      ? provenance::v1::FlagStatus_Name(status)
                      : absl::StrCat(st.ColumnInt64(1)));
    c->set_count(st.ColumnInt64(2));
  }));
  return out;
}

absl::StatusOr<std::vector<AcceleratorRecord>> StoreReader::ListAccelerators(
    const AcceleratorQuery& query) {
  PROV_LEASE(db);
  PROV_ASSIGN_OR_RETURN(Statement * st, db->Cached(R"sql(
SELECT n.node_id, n.hostname, n.datacenter, a.accelerator, a.first_seen_us, a.last_seen_us
FROM accelerators a JOIN nodes n ON n.id = a.node
WHERE (?1 = 0 OR a.vendor_id = ?1) AND (?2 = 0 OR a.device_id = ?2)
  AND (?3 = '' OR n.datacenter = ?3) AND (?4 = '' OR n.node_id = ?4)
ORDER BY n.node_id, a.pci_address LIMIT ?5)sql"));
  st->BindInt64(1, query.vendor_id);
  st->BindInt64(2, query.device_id);
  st->BindText(3, query.datacenter);
  st->BindText(4, query.node_id);
  st->BindInt64(5, static_cast<int64_t>(query.limit));
  std::vector<AcceleratorRecord> out;
  bool corrupt = false;
  PROV_RETURN_IF_ERROR(EachRow(*st, [&](Statement& row) {
    AcceleratorRecord& r = out.emplace_back();
    r.set_node_id(row.ColumnText(0));
    r.set_hostname(row.ColumnText(1));
    r.set_datacenter(row.ColumnText(2));
    if (!r.mutable_accelerator()->ParseFromString(row.ColumnBlob(3))) corrupt = true;
    SetTime(row.ColumnInt64(4), r.mutable_first_seen());
    SetTime(row.ColumnInt64(5), r.mutable_last_seen());
  }));
  if (corrupt) return absl::DataLossError("accelerators row does not parse");
  return out;
}

absl::StatusOr<GetAccountUsageSeriesResponse> StoreReader::GetAccountUsageSeries(
    const UsageSeriesQuery& query) {
  PROV_LEASE(db);
  ReadTransaction tx(*db);
  PROV_RETURN_IF_ERROR(tx.Begin());
  const int64_t since = query.since ? absl::ToUnixMicros(*query.since) : INT64_MIN;
  const int64_t until = query.until ? absl::ToUnixMicros(*query.until) : INT64_MAX;
  GetAccountUsageSeriesResponse out;
  out.set_account(query.account);

  uint32_t bucket_hours = query.bucket_hours;
  if (bucket_hours == 0) {
    // The span of this account's hours in the window (primary key range: cheap).
    PROV_ASSIGN_OR_RETURN(Statement * span, db->Cached(R"sql(
SELECT MIN(hour_us), MAX(hour_us) FROM account_usage_hourly
WHERE account = ?1 AND hour_us + 3600000000 > ?2 AND hour_us < ?3)sql"));
    span->BindText(1, query.account);
    span->BindInt64(2, since);
    span->BindInt64(3, until);
    int64_t hours = 0;
    PROV_RETURN_IF_ERROR(EachRow(*span, [&](Statement& st) {
      if (!st.ColumnIsNull(0)) hours = (st.ColumnInt64(1) - st.ColumnInt64(0)) / kHourUs + 1;
    }));
    bucket_hours = ChooseSeriesBucketHours(hours);
  }
  out.set_bucket_hours(bucket_hours);
  const int64_t bucket_us = bucket_hours * kHourUs;

  PROV_ASSIGN_OR_RETURN(Statement * st, db->Cached(R"sql(
SELECT (hour_us / ?4) * ?4 AS bucket, SUM(accelerator_seconds), SUM(training_seconds),
       SUM(inference_seconds), SUM(flop_low), SUM(flop_high), GROUP_CONCAT(DISTINCT method)
FROM account_usage_hourly
WHERE account = ?1 AND hour_us + 3600000000 > ?2 AND hour_us < ?3
GROUP BY bucket ORDER BY bucket LIMIT 100000)sql"));
  st->BindText(1, query.account);
  st->BindInt64(2, since);
  st->BindInt64(3, until);
  st->BindInt64(4, bucket_us);
  std::string method;
  PROV_RETURN_IF_ERROR(EachRow(*st, [&](Statement& row) {
    auto* p = out.add_points();
    SetTime(row.ColumnInt64(0), p->mutable_start());
    p->set_accelerator_hours(row.ColumnDouble(1) / 3600.0);
    p->set_training_accelerator_hours(row.ColumnDouble(2) / 3600.0);
    p->set_inference_accelerator_hours(row.ColumnDouble(3) / 3600.0);
    p->set_flop_low(row.ColumnDouble(4));
    p->set_flop_high(row.ColumnDouble(5));
    for (absl::string_view m : absl::StrSplit(row.ColumnText(6), ',', absl::SkipEmpty())) {
      method = MergeMethods(method, std::string(m));
    }
  }));
  out.set_method(method);
  return out;
}

}  // namespace prov::server
