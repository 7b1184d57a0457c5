#include "server/analysis/observation.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/analysis/analyzer.h"
#include "tests/analysis/analysis_test_util.h"
#include "tests/server/test_reports.h"

namespace prov::server {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::vector<WorkloadUsage> Usage(const provenance::v1::NodeReport& r) {
  return ComputeUsage(r, AcceleratorCatalog::Builtin(), {});
}

TEST(ObservationTest, CopiesWhatTheAnalysisNeeds) {
  provenance::v1::NodeReport r = testing::MakeReport("n1", "b1", 1, testing::kT0);
  r.mutable_node()->add_addresses("10.0.0.1");
  auto* w = r.mutable_workloads(0);
  w->set_image_digest("sha256:img");
  w->add_artifact_digests("sha256:ckpt");
  w->mutable_distributed()->set_master_addr("10.0.0.9");
  w->mutable_distributed()->set_master_port(29500);
  ReportObservation o = ObserveReport(r, Usage(r));
  EXPECT_EQ(o.node_id, "n1");
  EXPECT_THAT(o.addresses, ElementsAre("10.0.0.1"));
  EXPECT_EQ(o.accelerators.size(), 2u);
  ASSERT_EQ(o.workloads.size(), 1u);
  const WorkloadObservation& wo = o.workloads[0];
  EXPECT_EQ(wo.account, "acme");
  EXPECT_THAT(wo.digests, ElementsAre("sha256:img", "sha256:ckpt"));
  EXPECT_THAT(wo.artifact_digests, ElementsAre("sha256:ckpt"));
  EXPECT_EQ(wo.master_port, 29500u);
  EXPECT_DOUBLE_EQ(wo.activity_pct, 97);  // both accelerators report 97 % busy
  EXPECT_GT(wo.usage.flop_low, 0);
}

TEST(ObservationTest, KeepsOnlyWellFormedNodeAddressesUpToTheCap) {
  provenance::v1::NodeReport r = testing::MakeReport("n1", "b1", 1, testing::kT0);
  r.mutable_node()->add_addresses("10.0.0.1");
  r.mutable_node()->add_addresses("not-an-address");
  r.mutable_node()->add_addresses("fd00::2");
  for (int i = 0; i < 100; ++i) r.mutable_node()->add_addresses("10.1.0." + std::to_string(i));
  ReportObservation o = ObserveReport(r, Usage(r));
  ASSERT_EQ(o.addresses.size(), kMaxNodeAddresses);
  EXPECT_EQ(o.addresses[0], "10.0.0.1");
  EXPECT_EQ(o.addresses[1], "fd00::2");
}

// The second identical report leaves out what did not change; a change sends it again; the
// analyzer keeps its facts either way.
TEST(ObservationTest, CacheLeavesOutUnchangedFactsAndTheAnalyzerKeepsThem) {
  ObservationCache cache;
  provenance::v1::NodeReport r = testing::MakeReport("n1", "b1", 1, testing::kT0);
  r.mutable_workloads(0)->add_artifact_digests("sha256:ckpt");
  Analyzer a(testing::TestPolicy());
  ReportObservation first = ObserveReport(r, Usage(r), &cache);
  EXPECT_FALSE(first.accelerators_unchanged);
  EXPECT_FALSE(first.workloads[0].details_unchanged);
  a.Observe(first);

  r.set_seq(2);
  r.mutable_collected_at()->set_seconds(absl::ToUnixSeconds(testing::kT0) + 10);
  ReportObservation second = ObserveReport(r, Usage(r), &cache);
  EXPECT_TRUE(second.accelerators_unchanged);
  EXPECT_THAT(second.accelerators, IsEmpty());
  EXPECT_TRUE(second.workloads[0].details_unchanged);
  EXPECT_THAT(second.workloads[0].digests, IsEmpty());
  EXPECT_GT(second.workloads[0].usage.flop_low, 0);  // compute always travels
  a.Observe(second);
  EXPECT_EQ(a.node("n1")->accelerators_size(), 2);
  EXPECT_THAT(a.workload("n1/k8s:pod-1")->artifact_digests(), ElementsAre("sha256:ckpt"));
  EXPECT_THAT(a.workload("n1/k8s:pod-1")->accelerators(),
              ElementsAre("n1/0000:3b:00.0", "n1/0000:3c:00.0"));

  r.mutable_workloads(0)->add_artifact_digests("sha256:ckpt-2");
  ReportObservation third = ObserveReport(r, Usage(r), &cache);
  EXPECT_FALSE(third.workloads[0].details_unchanged);
  a.Observe(third);
  EXPECT_THAT(a.workload("n1/k8s:pod-1")->artifact_digests(),
              ElementsAre("sha256:ckpt", "sha256:ckpt-2"));
}

}  // namespace
}  // namespace prov::server
