// The dashboard's aggregates: StoreReader::FleetOverview / ListAccelerators /
// GetAccountUsageSeries on a real SQLite store, and AuditService's validation of their requests.
#include "absl/strings/str_cat.h"
#include "common/testing/fake_clock.h"
#include "gtest/gtest.h"
#include "provenance/v1/analysis.pb.h"
#include "server/audit/audit_service.h"
#include "server/store/store.h"
#include "server/store/store_reader.h"
#include "tests/server/commit_batch.h"
#include "tests/server/temp_dir.h"
#include "tests/server/test_reports.h"

namespace prov::server {
namespace {

using provenance::v1::NodeReport;
using testing::MakeReport;
using testing::TempDir;

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);  // 22:13:20 UTC

std::vector<ReportToCommit> Batch(const std::vector<const NodeReport*>& reports) {
  return testing::CommitBatch(reports);
}

// An Ascend 910B in place of node-c's second GPU.
NodeReport WithAscend(NodeReport r) {
  auto* a = r.mutable_accelerators(1);
  a->set_vendor_id(0x19e5);
  a->set_device_id(0xd802);
  a->set_vendor("huawei");
  a->set_model("Ascend 910B");
  return r;
}

void AddFlag(const std::string& db_path, const std::string& id, provenance::v1::Severity severity,
             provenance::v1::FlagStatus status) {
  auto db = SqliteDb::Open(db_path, SqliteDb::kReadWrite);
  ASSERT_TRUE(db.ok());
  provenance::v1::Flag flag;
  flag.set_flag_id(id);
  auto st = (*db)->Prepare(
      "INSERT INTO flags(flag_id, rule, subject, severity, status, updated_us, flag) "
      "VALUES (?, 'screening_hit', ?, ?, ?, 0, ?)");
  ASSERT_TRUE(st.ok());
  (*st)->BindText(1, id);
  (*st)->BindText(2, "account:" + id);
  (*st)->BindInt64(3, severity);
  (*st)->BindInt64(4, status);
  (*st)->BindBlob(5, flag.SerializeAsString());
  ASSERT_TRUE((*st)->Run().ok());
}

class FleetQueriesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = Store::Open(DbPath());
    ASSERT_TRUE(store.ok()) << store.status();
    // node-a (fra1) reports at T0 and T0+10s; node-b (fra1) only an hour earlier: silent;
    // node-c (ams2) with one Ascend reports at T0+2h for account "blue".
    NodeReport a1 = MakeReport("node-a", "b", 1, kT0, "fra1");
    NodeReport a2 = MakeReport("node-a", "b", 2, kT0 + absl::Seconds(10), "fra1");
    NodeReport b1 = MakeReport("node-b", "b", 1, kT0 - absl::Hours(1), "fra1");
    NodeReport c1 = WithAscend(MakeReport("node-c", "b", 1, kT0 + absl::Hours(2), "ams2"));
    c1.mutable_node()->set_region("eu-west");
    c1.mutable_workloads(0)->mutable_attribution()->set_account("blue");
    // The ledger credits elapsed time (server/ledger/credit.h): a2 arrives 10 s after a1.
    ASSERT_TRUE((*store)->Commit(Batch({&a1}), kT0).ok());
    ASSERT_TRUE((*store)->Commit(Batch({&a2, &b1, &c1}), kT0 + absl::Seconds(10)).ok());
    AddFlag(DbPath(), "F-1", provenance::v1::SEVERITY_HIGH, provenance::v1::FLAG_STATUS_OPEN);
    AddFlag(DbPath(), "F-2", provenance::v1::SEVERITY_HIGH, provenance::v1::FLAG_STATUS_OPEN);
    AddFlag(DbPath(), "F-3", provenance::v1::SEVERITY_LOW, provenance::v1::FLAG_STATUS_RESOLVED);
    auto reader = StoreReader::Open(DbPath());
    ASSERT_TRUE(reader.ok());
    reader_ = *std::move(reader);
  }
  std::string DbPath() const { return dir_.path() + "/provd.db"; }

  TempDir dir_;
  std::unique_ptr<StoreReader> reader_;
};

TEST_F(FleetQueriesTest, OverviewCountsNodesAcceleratorsLedgerAndFlags) {
  // Silent: last report before T0 - 30 min (node-b only).
  auto o = reader_->FleetOverview(kT0 - absl::Minutes(30));
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->nodes(), 3u);
  EXPECT_EQ(o->nodes_silent(), 1u);
  EXPECT_EQ(o->nodes_reporting(), 2u);
  EXPECT_EQ(o->accelerators(), 6u);
  EXPECT_EQ(o->reports_stored(), 4u);
  EXPECT_EQ(o->accounts(), 2u);                               // acme, blue
  EXPECT_DOUBLE_EQ(o->accelerator_hours(), 8 * 10.0 / 3600);  // 4 reports x 2 x 10 s
  EXPECT_GT(o->flop().high(), o->flop().low());
  EXPECT_EQ(o->workloads_active(), 2u);  // node-a's and node-c's; node-b's is older

  ASSERT_EQ(o->datacenters_size(), 2);
  EXPECT_EQ(o->datacenters(0).datacenter(), "ams2");
  EXPECT_EQ(o->datacenters(0).region(), "eu-west");
  EXPECT_EQ(o->datacenters(0).accelerators(), 2u);
  EXPECT_EQ(o->datacenters(1).datacenter(), "fra1");
  EXPECT_EQ(o->datacenters(1).nodes(), 2u);
  EXPECT_EQ(o->datacenters(1).nodes_silent(), 1u);
  EXPECT_EQ(o->datacenters(1).accelerators(), 4u);

  ASSERT_EQ(o->accelerator_groups_size(), 2);
  EXPECT_EQ(o->accelerator_groups(0).model(), "H100 SXM5 80GB");  // most numerous first
  EXPECT_EQ(o->accelerator_groups(0).count(), 5u);
  EXPECT_EQ(o->accelerator_groups(0).nodes(), 3u);
  EXPECT_EQ(o->accelerator_groups(0).datacenters_size(), 2);
  EXPECT_EQ(o->accelerator_groups(1).vendor(), "huawei");
  EXPECT_EQ(o->accelerator_groups(1).vendor_id(), 0x19e5u);
  EXPECT_EQ(o->accelerator_groups(1).count(), 1u);
  EXPECT_EQ(o->accelerator_groups(1).datacenters(0), "ams2");

  ASSERT_EQ(o->flags_size(), 2);
  EXPECT_EQ(o->flags(0).severity(), "SEVERITY_HIGH");
  EXPECT_EQ(o->flags(0).status(), "FLAG_STATUS_OPEN");
  EXPECT_EQ(o->flags(0).count(), 2u);
  EXPECT_EQ(o->flags(1).severity(), "SEVERITY_LOW");
  EXPECT_EQ(o->flags(1).status(), "FLAG_STATUS_RESOLVED");
}

TEST_F(FleetQueriesTest, OverviewOfAnEmptyStoreIsZero) {
  TempDir empty;
  ASSERT_TRUE(Store::Open(empty.path() + "/provd.db").ok());
  auto reader = StoreReader::Open(empty.path() + "/provd.db");
  ASSERT_TRUE(reader.ok());
  auto o = (*reader)->FleetOverview(kT0);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->nodes(), 0u);
  EXPECT_EQ(o->accelerator_hours(), 0);
  EXPECT_EQ(o->datacenters_size(), 0);
  EXPECT_EQ(o->flags_size(), 0);
}

TEST_F(FleetQueriesTest, ListAcceleratorsFilters) {
  auto all = reader_->ListAccelerators({});
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->size(), 6u);
  auto ascend = reader_->ListAccelerators({.vendor_id = 0x19e5, .device_id = 0xd802});
  ASSERT_TRUE(ascend.ok());
  ASSERT_EQ(ascend->size(), 1u);
  EXPECT_EQ((*ascend)[0].node_id(), "node-c");
  EXPECT_EQ((*ascend)[0].datacenter(), "ams2");
  EXPECT_EQ((*ascend)[0].accelerator().pci_address(), "0000:3c:00.0");
  EXPECT_EQ((*ascend)[0].accelerator().model(), "Ascend 910B");
  auto fra = reader_->ListAccelerators({.datacenter = "fra1", .limit = 3});
  ASSERT_TRUE(fra.ok());
  EXPECT_EQ(fra->size(), 3u);
  auto node_b = reader_->ListAccelerators({.node_id = "node-b"});
  ASSERT_TRUE(node_b.ok());
  EXPECT_EQ(node_b->size(), 2u);
}

TEST_F(FleetQueriesTest, UsageSeriesBucketsHours) {
  // acme: an hour at T0-1h (node-b) and T0's hour (node-a, two reports).
  auto hourly = reader_->GetAccountUsageSeries({.account = "acme"});
  ASSERT_TRUE(hourly.ok()) << hourly.status();
  EXPECT_EQ(hourly->bucket_hours(), 1u);
  ASSERT_EQ(hourly->points_size(), 2);
  const int64_t t0_hour = absl::ToUnixSeconds(kT0) / 3600 * 3600;
  EXPECT_EQ(hourly->points(0).start().seconds(), t0_hour - 3600);
  EXPECT_DOUBLE_EQ(hourly->points(0).accelerator_hours(), 20.0 / 3600);
  EXPECT_EQ(hourly->points(1).start().seconds(), t0_hour);
  EXPECT_DOUBLE_EQ(hourly->points(1).training_accelerator_hours(), 40.0 / 3600);
  EXPECT_GT(hourly->points(1).flop_high(), hourly->points(1).flop_low());
  EXPECT_FALSE(hourly->method().empty());

  auto daily = reader_->GetAccountUsageSeries({.account = "acme", .bucket_hours = 24});
  ASSERT_TRUE(daily.ok());
  EXPECT_EQ(daily->bucket_hours(), 24u);
  ASSERT_EQ(daily->points_size(), 1);  // both hours fall on 2023-11-14 UTC
  EXPECT_DOUBLE_EQ(daily->points(0).accelerator_hours(), 60.0 / 3600);
  EXPECT_EQ(daily->points(0).start().seconds() % 86400, 0);

  auto window = reader_->GetAccountUsageSeries({.account = "acme", .since = kT0});
  ASSERT_TRUE(window.ok());
  EXPECT_EQ(window->points_size(), 1);
  auto nobody = reader_->GetAccountUsageSeries({.account = "nobody"});
  ASSERT_TRUE(nobody.ok());
  EXPECT_EQ(nobody->points_size(), 0);
}

TEST_F(FleetQueriesTest, AutomaticBucketKeepsTheSeriesShort) {
  // 600 hours of usage for one account: hourly would exceed 500 points, 6-hour buckets do not.
  // One report an hour claiming an hour, each received when collected (the ledger credits the
  // time that elapsed: 600 x 2 accelerators x 1 h).
  auto store = Store::Open(DbPath());
  ASSERT_TRUE(store.ok());
  for (int h = 0; h < 600; ++h) {
    const absl::Time at = kT0 + absl::Hours(10 + h);
    NodeReport r = MakeReport("node-long", "b", h + 1, at, "fra1");
    r.set_interval_seconds(3600);
    r.mutable_workloads(0)->mutable_attribution()->set_account("long");
    ASSERT_TRUE((*store)->Commit(Batch({&r}), at).ok());
  }
  auto series = reader_->GetAccountUsageSeries({.account = "long"});
  ASSERT_TRUE(series.ok()) << series.status();
  EXPECT_EQ(series->bucket_hours(), 6u);
  EXPECT_LE(series->points_size(), 101);
  double hours = 0;
  for (const auto& p : series->points()) hours += p.accelerator_hours();
  EXPECT_NEAR(hours, 600 * 2.0, 1e-6);
}

TEST_F(FleetQueriesTest, ServiceValidatesRequestsAndFillsTheClock) {
  FakeClock clock(kT0 + absl::Minutes(1));
  AuditServiceImpl service(*reader_, clock, absl::Minutes(30));
  grpc::ServerContext context;
  provenance::v1::GetFleetOverviewResponse overview;
  ASSERT_TRUE(service.GetFleetOverview(&context, nullptr, &overview).ok());
  EXPECT_EQ(overview.as_of().seconds(), absl::ToUnixSeconds(kT0 + absl::Minutes(1)));
  EXPECT_EQ(overview.silent_after_seconds(), 1800);
  EXPECT_EQ(overview.nodes_silent(), 1u);

  provenance::v1::ListAcceleratorsRequest bad_device;
  bad_device.set_device_id(0x2330);
  provenance::v1::ListAcceleratorsResponse accelerators;
  grpc::Status s = service.ListAccelerators(&context, &bad_device, &accelerators);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "device_id: needs vendor_id");

  provenance::v1::GetAccountUsageSeriesRequest no_account;
  provenance::v1::GetAccountUsageSeriesResponse series;
  s = service.GetAccountUsageSeries(&context, &no_account, &series);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "account: must not be empty");
  provenance::v1::GetAccountUsageSeriesRequest backwards;
  backwards.set_account("acme");
  backwards.mutable_since()->set_seconds(absl::ToUnixSeconds(kT0));
  backwards.mutable_until()->set_seconds(absl::ToUnixSeconds(kT0) - 1);
  s = service.GetAccountUsageSeries(&context, &backwards, &series);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

// Issue 10 §1: provd names every accelerator from its catalog by PCI ID, everywhere; the agent's
// string is the reported name, and a disagreement is on the record.
TEST_F(FleetQueriesTest, ServiceNamesAcceleratorsFromTheCatalogAndKeepsTheAgentsName) {
  // node-d: one Ascend 910B (PCI 19e5:d802) whose agent calls it "A100-SXM4-80GB", and one H100
  // whose agent sends NVML's own spelling, which agrees.
  NodeReport d1 = MakeReport("node-d", "b", 1, kT0 + absl::Hours(2), "ams2");
  auto* relabelled = d1.mutable_accelerators(0);
  relabelled->set_vendor_id(0x19e5);
  relabelled->set_device_id(0xd802);
  relabelled->set_vendor("nvidia");
  relabelled->set_model("A100-SXM4-80GB");
  relabelled->set_reported_name("forged by the agent");
  relabelled->set_name_disagrees(false);
  d1.mutable_accelerators(1)->set_model("NVIDIA H100 80GB HBM3");
  {
    auto store = Store::Open(DbPath());
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->Commit(Batch({&d1}), kT0 + absl::Hours(2)).ok());
  }
  FakeClock clock(kT0 + absl::Hours(2));
  AuditServiceImpl service(*reader_, clock, absl::Minutes(30));
  grpc::ServerContext context;
  provenance::v1::ListAcceleratorsRequest request;
  request.set_node_id("node-d");
  provenance::v1::ListAcceleratorsResponse list;
  ASSERT_TRUE(service.ListAccelerators(&context, &request, &list).ok());
  ASSERT_EQ(list.accelerators_size(), 2);
  for (const auto& r : list.accelerators()) {
    const auto& a = r.accelerator();
    if (a.vendor_id() == 0x19e5) {
      EXPECT_EQ(a.model(), "Ascend 910B");
      EXPECT_EQ(a.vendor(), "huawei");
      EXPECT_EQ(a.family(), "ascend");
      EXPECT_TRUE(a.model_known());
      EXPECT_EQ(a.reported_name(), "A100-SXM4-80GB") << "the agent's model, not its reported_name";
      EXPECT_TRUE(a.name_disagrees());
    } else {
      EXPECT_EQ(a.model(), "H100 SXM5 80GB");
      EXPECT_EQ(a.reported_name(), "NVIDIA H100 80GB HBM3");
      EXPECT_FALSE(a.name_disagrees());
    }
  }

  provenance::v1::GetNodeRequest node_request;
  node_request.set_node_id("node-d");
  provenance::v1::GetNodeResponse node;
  ASSERT_TRUE(service.GetNode(&context, &node_request, &node).ok());
  bool named = false;
  for (const auto& a : node.accelerators()) {
    if (a.vendor_id() != 0x19e5) continue;
    named = a.model() == "Ascend 910B" && a.name_disagrees();
  }
  EXPECT_TRUE(named) << node.DebugString();

  // One fleet group per PCI ID, named by the catalog, whatever the agents called their devices.
  provenance::v1::GetFleetOverviewResponse overview;
  ASSERT_TRUE(service.GetFleetOverview(&context, nullptr, &overview).ok());
  int ascend_groups = 0;
  for (const auto& g : overview.accelerator_groups()) {
    if (g.vendor_id() == 0x19e5 && g.device_id() == 0xd802) {
      ++ascend_groups;
      EXPECT_EQ(g.model(), "Ascend 910B");
      EXPECT_EQ(g.vendor(), "huawei");
      EXPECT_EQ(g.count(), 2u);  // node-c's and node-d's
    }
    if (g.vendor_id() == 0x10de) {
      EXPECT_EQ(g.model(), "H100 SXM5 80GB");
    }
  }
  EXPECT_EQ(ascend_groups, 1);
}

}  // namespace
}  // namespace prov::server
