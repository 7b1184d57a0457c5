// PgFleetReader's fleet aggregates for the dashboard (store_reader_fleet.cc's queries on
// PostgreSQL): overview, accelerator inventory, usage series. SQLite's GROUP_CONCAT(DISTINCT x)
// is string_agg(DISTINCT x, ','), read into sets as on SQLite; SUM(condition) is
// COUNT(*) FILTER (WHERE condition).
#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "provenance/v1/analysis.pb.h"
#include "server/ledger/usage.h"
#include "server/store/pg/pg_fleet_reader.h"
#include "server/store/pg/pg_fleet_reader_internal.h"

namespace prov::server {
namespace {

using pg_fleet_internal::PgRow;
using pg_fleet_internal::SetTime;
using provenance::v1::AcceleratorGroup;
using provenance::v1::AcceleratorRecord;
using provenance::v1::GetAccountUsageSeriesResponse;
using provenance::v1::GetFleetOverviewResponse;

constexpr int64_t kHourUs = 3600LL * 1000000;
constexpr char kReadSnapshot[] = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";

std::set<std::string> SplitSet(const std::string& joined) {
  std::set<std::string> out;
  for (absl::string_view v : absl::StrSplit(joined, ',', absl::SkipEmpty())) out.emplace(v);
  return out;
}

absl::Status OverviewIn(PgConn& conn, int64_t silent_us, GetFleetOverviewResponse& out) {
  // Nodes per data centre and region (the region most of a data centre's nodes report wins; on a
  // tie, the first row read, as on SQLite: rows come in (datacenter, region) order).
  std::map<std::string, provenance::v1::DatacenterSummary> dcs;
  std::map<std::string, int64_t> region_nodes;
  PROV_ASSIGN_OR_RETURN(PgResult nodes, conn.Query(R"sql(
SELECT datacenter, region, COUNT(*), COUNT(*) FILTER (WHERE last_seen_us < $1),
       SUM(reports_stored)
FROM nodes GROUP BY datacenter, region ORDER BY datacenter, region)sql",
                                                   {silent_us}));
  for (int i = 0; i < nodes.rows(); ++i) {
    PgRow row(nodes, i);
    auto& dc = dcs[row.Text(0)];
    dc.set_datacenter(row.Text(0));
    const int64_t count = row.Int(2);
    int64_t& best = region_nodes[dc.datacenter()];
    if (count > best) {
      best = count;
      dc.set_region(row.Text(1));
    }
    dc.set_nodes(dc.nodes() + count);
    dc.set_nodes_silent(dc.nodes_silent() + row.Int(3));
    out.set_reports_stored(out.reports_stored() + row.Int(4));
    PROV_RETURN_IF_ERROR(row.status());
  }
  PROV_ASSIGN_OR_RETURN(PgResult per_dc, conn.Query(R"sql(
SELECT n.datacenter, COUNT(*) FROM accelerators a JOIN nodes n ON n.id = a.node
GROUP BY n.datacenter)sql"));
  for (int i = 0; i < per_dc.rows(); ++i) {
    PgRow row(per_dc, i);
    dcs[row.Text(0)].set_accelerators(row.Int(1));
    PROV_RETURN_IF_ERROR(row.status());
  }
  for (auto& [name, dc] : dcs) {
    out.set_nodes(out.nodes() + dc.nodes());
    out.set_nodes_silent(out.nodes_silent() + dc.nodes_silent());
    out.set_accelerators(out.accelerators() + dc.accelerators());
    *out.add_datacenters() = std::move(dc);
  }
  out.set_nodes_reporting(out.nodes() - out.nodes_silent());

  PROV_ASSIGN_OR_RETURN(PgResult groups, conn.Query(R"sql(
SELECT MAX(a.vendor), MAX(a.model), MAX(a.model_known), a.vendor_id, a.device_id, COUNT(*),
       COUNT(DISTINCT a.node), string_agg(DISTINCT n.datacenter, ','), MIN(a.first_seen_us),
       MAX(a.last_seen_us)
FROM accelerators a JOIN nodes n ON n.id = a.node
GROUP BY a.vendor_id, a.device_id
ORDER BY COUNT(*) DESC, a.vendor_id, a.device_id)sql"));
  for (int i = 0; i < groups.rows(); ++i) {
    PgRow row(groups, i);
    AcceleratorGroup* g = out.add_accelerator_groups();
    g->set_vendor(row.Text(0));
    g->set_model(row.Text(1));
    g->set_model_known(row.Int(2) != 0);
    g->set_vendor_id(row.Int(3));
    g->set_device_id(row.Int(4));
    g->set_count(row.Int(5));
    g->set_nodes(row.Int(6));
    for (const std::string& dc : SplitSet(row.Text(7))) g->add_datacenters(dc);
    SetTime(row.Int(8), g->mutable_first_seen());
    SetTime(row.Int(9), g->mutable_last_seen());
    PROV_RETURN_IF_ERROR(row.status());
  }

  // The ledger's totals from the per-workload sums (far fewer rows than the hourly table).
  PROV_ASSIGN_OR_RETURN(PgResult ledger, conn.Query(R"sql(
SELECT COUNT(DISTINCT account), COALESCE(SUM(accelerator_seconds), 0), COALESCE(SUM(flop_low), 0),
       COALESCE(SUM(flop_high), 0), COUNT(*) FILTER (WHERE last_seen_us >= $1)
FROM workloads)sql",
                                                    {silent_us}));
  if (ledger.rows() > 0) {
    PgRow row(ledger, 0);
    out.set_accounts(row.Int(0));
    out.set_accelerator_hours(row.Dbl(1) / 3600.0);
    out.mutable_flop()->set_low(row.Dbl(2));
    out.mutable_flop()->set_high(row.Dbl(3));
    out.set_workloads_active(row.Int(4));
    PROV_RETURN_IF_ERROR(row.status());
  }

  PROV_ASSIGN_OR_RETURN(
      PgResult flags,
      conn.Query("SELECT severity, status, COUNT(*) FROM flags GROUP BY severity, status "
                 "ORDER BY severity DESC, status"));
  for (int i = 0; i < flags.rows(); ++i) {
    PgRow row(flags, i);
    auto* c = out.add_flags();
    const int64_t severity_value = row.Int(0), status_value = row.Int(1);
    const auto severity = static_cast<provenance::v1::Severity>(severity_value);
    const auto status = static_cast<provenance::v1::FlagStatus>(status_value);
    c->set_severity(provenance::v1::Severity_IsValid(severity)
                        ? provenance::v1::Severity_Name(severity)
                        : absl::StrCat(severity_value));
    c->set_status(provenance::v1::FlagStatus_IsValid(status)
                      ? provenance::v1::FlagStatus_Name(status)
                      : absl::StrCat(status_value));
    c->set_count(row.Int(2));
    PROV_RETURN_IF_ERROR(row.status());
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<GetFleetOverviewResponse> PgFleetReader::FleetOverview(absl::Time silent_before) {
  const int64_t silent_us = absl::ToUnixMicros(silent_before);
  return Read([&](PgConn& conn) -> absl::StatusOr<GetFleetOverviewResponse> {
    GetFleetOverviewResponse out;
    PROV_RETURN_IF_ERROR(
        conn.Transaction([&] { return OverviewIn(conn, silent_us, out); }, kReadSnapshot));
    return out;
  });
}

absl::StatusOr<std::vector<AcceleratorRecord>> PgFleetReader::ListAccelerators(
    const AcceleratorQuery& query) {
  return Read([&](PgConn& conn) -> absl::StatusOr<std::vector<AcceleratorRecord>> {
    PROV_ASSIGN_OR_RETURN(
        PgResult r,
        conn.Query(R"sql(
SELECT n.node_id, n.hostname, n.datacenter, a.accelerator, a.first_seen_us, a.last_seen_us
FROM accelerators a JOIN nodes n ON n.id = a.node
WHERE ($1::bigint = 0 OR a.vendor_id = $1::bigint) AND ($2::bigint = 0 OR a.device_id = $2::bigint)
  AND ($3::text = '' OR n.datacenter = $3::text) AND ($4::text = '' OR n.node_id = $4::text)
ORDER BY n.node_id, a.pci_address LIMIT $5)sql",
                   {static_cast<int64_t>(query.vendor_id), static_cast<int64_t>(query.device_id),
                    query.datacenter, query.node_id, LimitParam(query.limit)}));
    std::vector<AcceleratorRecord> out;
    bool corrupt = false;
    for (int i = 0; i < r.rows(); ++i) {
      PgRow row(r, i);
      AcceleratorRecord& rec = out.emplace_back();
      rec.set_node_id(row.Text(0));
      rec.set_hostname(row.Text(1));
      rec.set_datacenter(row.Text(2));
      if (!rec.mutable_accelerator()->ParseFromString(row.Bytes(3))) corrupt = true;
      SetTime(row.Int(4), rec.mutable_first_seen());
      SetTime(row.Int(5), rec.mutable_last_seen());
      PROV_RETURN_IF_ERROR(row.status());
    }
    if (corrupt) return absl::DataLossError("accelerators row does not parse");
    return out;
  });
}

absl::StatusOr<GetAccountUsageSeriesResponse> PgFleetReader::GetAccountUsageSeries(
    const UsageSeriesQuery& query) {
  const int64_t since = query.since ? absl::ToUnixMicros(*query.since) : INT64_MIN;
  const int64_t until = query.until ? absl::ToUnixMicros(*query.until) : INT64_MAX;
  return Read([&](PgConn& conn) -> absl::StatusOr<GetAccountUsageSeriesResponse> {
    GetAccountUsageSeriesResponse out;
    PROV_RETURN_IF_ERROR(conn.Transaction(
        [&]() -> absl::Status {
          out.set_account(query.account);
          uint32_t bucket_hours = query.bucket_hours;
          if (bucket_hours == 0) {
            // The span of this account's hours in the window (primary key range: cheap).
            PROV_ASSIGN_OR_RETURN(PgResult span, conn.Query(R"sql(
SELECT MIN(hour_us), MAX(hour_us) FROM account_usage_hourly
WHERE account = $1 AND hour_us + 3600000000 > $2 AND hour_us < $3)sql",
                                                            {query.account, since, until}));
            int64_t hours = 0;
            if (span.rows() > 0 && !span.IsNull(0, 0)) {
              PgRow row(span, 0);
              hours = (row.Int(1) - row.Int(0)) / kHourUs + 1;
              PROV_RETURN_IF_ERROR(row.status());
            }
            bucket_hours = ChooseSeriesBucketHours(hours);
          }
          out.set_bucket_hours(bucket_hours);
          const int64_t bucket_us = bucket_hours * kHourUs;
          PROV_ASSIGN_OR_RETURN(PgResult r, conn.Query(R"sql(
SELECT (hour_us / $4) * $4 AS bucket, SUM(accelerator_seconds), SUM(training_seconds),
       SUM(inference_seconds), SUM(flop_low), SUM(flop_high), string_agg(DISTINCT method, ',')
FROM account_usage_hourly
WHERE account = $1 AND hour_us + 3600000000 > $2 AND hour_us < $3
GROUP BY bucket ORDER BY bucket LIMIT 100000)sql",
                                                       {query.account, since, until, bucket_us}));
          std::string method;
          for (int i = 0; i < r.rows(); ++i) {
            PgRow row(r, i);
            auto* p = out.add_points();
            SetTime(row.Int(0), p->mutable_start());
            p->set_accelerator_hours(row.Dbl(1) / 3600.0);
            p->set_training_accelerator_hours(row.Dbl(2) / 3600.0);
            p->set_inference_accelerator_hours(row.Dbl(3) / 3600.0);
            p->set_flop_low(row.Dbl(4));
            p->set_flop_high(row.Dbl(5));
            for (absl::string_view m : absl::StrSplit(row.Text(6), ',', absl::SkipEmpty())) {
              method = MergeMethods(method, std::string(m));
            }
            PROV_RETURN_IF_ERROR(row.status());
          }
          out.set_method(method);
          return absl::OkStatus();
        },
        kReadSnapshot));
    return out;
  });
}

}  // namespace prov::server
