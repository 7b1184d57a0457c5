#include "tools/prov-sim/report_builder.h"

#include "gtest/gtest.h"
#include "tools/prov-sim/scenario.h"

namespace prov::sim {
namespace {

constexpr char kScenario[] = R"({
  "name": "digests", "interval_seconds": 60, "reports_per_node": 6,
  "datacenters": [{"name": "dc-a", "region": "us-east"}],
  "nodes": [{"node_id": "n1", "datacenter": "dc-a", "vendor_id": 4318, "device_id": 9008,
             "accelerator_count": 8, "ip_address": "10.1.2.3"}],
  "workloads": [{"workload_id": "k8s:a", "node_id": "n1", "account": "acme",
                 "workload_class": "WORKLOAD_CLASS_TRAINING", "accelerator_count": 4,
                 "tensor_activity": 0.5, "utilization_pct": 90, "start_report": 1,
                 "image_digest": "sha256:img", "cmdline_digest": "abc",
                 "artifact_digests": ["sha256:ckpt", "sha256:data"], "idle_reports": [3],
                 "peers": [{"remote_address": "203.0.113.7", "remote_port": 443,
                            "bytes_per_report": 1000},
                           {"remote_address": "198.51.100.9", "remote_port": 29400,
                            "bytes_per_report": 500, "bytes_received_per_report": 20,
                            "period_reports": 2,
                            "phase_report": 1}]},
                {"workload_id": "k8s:b", "node_id": "n1", "account": "beta",
                 "workload_class": "WORKLOAD_CLASS_TRAINING", "first_accelerator": 4,
                 "accelerator_count": 4, "tensor_activity": 0.4, "utilization_pct": 80,
                 "utilization_series": [100, 20]}]
})";

class ReportBuilderDigestsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = ParseScenario(kScenario, "digests.json");
    ASSERT_TRUE(s.ok()) << s.status();
    scenario_ = *s;
  }
  provenance::v1::NodeReport Build(uint32_t k) {
    ReportBuilder b(scenario_, AcceleratorCatalog::Builtin());
    absl::Time start = absl::FromUnixSeconds(1700000000);
    return b.Build(0, k, start, start + ReportOffset(60, 0, 1, k), "boot");
  }
  v1::Scenario scenario_;
};

TEST_F(ReportBuilderDigestsTest, NodeAddressesAndDigests) {
  auto r = Build(1);
  ASSERT_EQ(r.node().addresses_size(), 1);
  EXPECT_EQ(r.node().addresses(0), "10.1.2.3");
  ASSERT_EQ(r.workloads_size(), 2);
  const auto& a = r.workloads(0);
  EXPECT_EQ(a.image_digest(), "sha256:img");
  EXPECT_EQ(a.cmdline_digest(), "abc");
  ASSERT_EQ(a.artifact_digests_size(), 2);
  EXPECT_EQ(a.artifact_digests(1), "sha256:data");
  EXPECT_EQ(a.started_at().seconds(), 1700000000 + 60);
  // Without a given digest the command line digest stays per workload, as before.
  EXPECT_EQ(r.workloads(1).cmdline_digest().size(), 64u);
}

TEST_F(ReportBuilderDigestsTest, IdleReportsAndSeries) {
  auto busy = Build(2);
  auto idle = Build(3);
  EXPECT_DOUBLE_EQ(busy.samples(0).utilization_pct(), 90);
  EXPECT_DOUBLE_EQ(busy.samples(0).tensor_activity(), 0.5);
  EXPECT_DOUBLE_EQ(idle.samples(0).utilization_pct(), kIdleUtilizationPct);
  EXPECT_DOUBLE_EQ(idle.samples(0).tensor_activity(), kIdleTensorActivity);
  // Series: report k uses series[(k - start) % size], tensor activity scaled by it.
  EXPECT_DOUBLE_EQ(busy.samples(4).utilization_pct(), 100);
  EXPECT_DOUBLE_EQ(busy.samples(4).tensor_activity(), 0.4);
  EXPECT_DOUBLE_EQ(idle.samples(4).utilization_pct(), 20);
  EXPECT_NEAR(idle.samples(4).tensor_activity(), 0.08, 1e-9);
  EXPECT_TRUE(IsIdle(scenario_.workloads(0), 3));
  EXPECT_FALSE(IsIdle(scenario_.workloads(0), 2));
}

TEST_F(ReportBuilderDigestsTest, PeriodicPeersOnlyInTheirReports) {
  // Off-fleet peers are reported as given; a periodic one only in reports 1, 3, 5, ... with its
  // byte counters counting those reports alone.
  for (uint32_t k = 1; k < 6; ++k) {
    auto r = Build(k);
    const auto& w = r.workloads(0);
    ASSERT_EQ(w.peers_size(), k % 2 == 1 ? 2 : 1) << "report " << k;
    EXPECT_EQ(w.peers(0).remote_address(), "203.0.113.7");
    EXPECT_EQ(w.peers(0).bytes_sent(), 1000u * (k + 1));
    EXPECT_EQ(w.peers(0).interval_bytes_sent(), 1000u);
    EXPECT_EQ(w.peers(0).interval_bytes_received(), 1000u);  // symmetric unless given
    if (k % 2 == 1) {
      EXPECT_EQ(w.peers(1).remote_address(), "198.51.100.9");
      EXPECT_EQ(w.peers(1).remote_port(), 29400u);
      EXPECT_EQ(w.peers(1).bytes_sent(), 500u * ((k - 1) / 2 + 1)) << "report " << k;
      EXPECT_EQ(w.peers(1).bytes_received(), 20u * ((k - 1) / 2 + 1)) << "report " << k;
      EXPECT_EQ(w.peers(1).interval_bytes_sent(), 500u);
      EXPECT_EQ(w.peers(1).interval_bytes_received(), 20u);
    }
  }
  const auto& periodic = scenario_.workloads(0).peers(1);
  EXPECT_FALSE(PeerActive(periodic, 0));
  EXPECT_TRUE(PeerActive(periodic, 1));
  EXPECT_FALSE(PeerActive(periodic, 2));
  EXPECT_TRUE(PeerActive(scenario_.workloads(0).peers(0), 2));
}

TEST(ReportOffsetTest, SpreadsNodesOverOneInterval) {
  EXPECT_EQ(ReportOffset(60, 0, 4, 2), absl::Seconds(120));
  EXPECT_EQ(ReportOffset(60, 3, 4, 2), absl::Seconds(165));
}

TEST(ScenarioSeriesTest, RejectsOutOfRangeSeries) {
  std::string bad = kScenario;
  bad.replace(bad.find("[100, 20]"), 9, "[100, 120]");
  auto s = ParseScenario(bad, "bad.json");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("workloads[1].utilization_series[1]"), std::string::npos)
      << s.status();
}

}  // namespace
}  // namespace prov::sim
