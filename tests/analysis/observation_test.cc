#include "server/analysis/observation.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/analysis/analyzer.h"
#include "server/store/store.h"
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

// Issue 9: the peers' bytes over the interval reach the analyzer; absent counters stay unknown.
TEST(ObservationTest, KeepsPeerVolumes) {
  provenance::v1::NodeReport r = testing::MakeReport("n1", "b1", 1, testing::kT0);
  r.set_interval_seconds(60);
  auto* w = r.mutable_workloads(0);
  auto* ps = w->add_peers();
  ps->set_remote_address("198.51.100.10");
  ps->set_remote_port(443);
  ps->set_bytes_sent(uint64_t{1} << 40);  // lifetime: not what the analyzer judges
  ps->set_interval_bytes_sent(uint64_t{16} << 30);
  ps->set_interval_bytes_received(uint64_t{15} << 30);
  w->add_peers()->set_remote_address("203.0.113.10");  // an old agent
  ReportObservation o = ObserveReport(r, Usage(r));
  ASSERT_EQ(o.workloads[0].peers.size(), 2u);
  const PeerObservation& p = o.workloads[0].peers[0];
  EXPECT_EQ(p.address, "198.51.100.10");
  EXPECT_EQ(p.port, 443u);
  EXPECT_EQ(p.bytes_sent, int64_t{16} << 30);
  EXPECT_EQ(p.bytes_received, int64_t{15} << 30);
  EXPECT_EQ(p.interval_seconds, 60u);
  EXPECT_EQ(o.workloads[0].peers[1].bytes_sent, -1);
  EXPECT_EQ(o.workloads[0].peers[1].bytes_received, -1);
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

// Hints computed ahead (as provd's gRPC threads do) give the observation ObserveReport builds on
// its own, including the cache's delta decisions; hints of another report are not used.
TEST(ObservationTest, HintsComputedAheadGiveTheSameObservation) {
  provenance::v1::NodeReport r = testing::MakeReport("n1", "b1", 1, testing::kT0);
  auto* w = r.mutable_workloads(0);
  w->set_image_digest("sha256:img");
  w->add_artifact_digests("sha256:ckpt");
  w->add_listening_ports(29500);
  w->mutable_started_at()->set_seconds(absl::ToUnixSeconds(testing::kT0) - 600);
  ObservationCache plain_cache, hinted_cache;
  for (int round = 0; round < 2; ++round) {  // the second round: everything unchanged
    ObservationHints hints;
    ComputeObservationHints(r, &hints);
    ASSERT_TRUE(hints.valid);
    const ReportObservation plain = ObserveReport(r, Usage(r), &plain_cache);
    const ReportObservation hinted = ObserveReport(r, Usage(r), &hinted_cache, &hints);
    EXPECT_EQ(hinted.accelerators_unchanged, round == 1);
    EXPECT_EQ(hinted.accelerators_unchanged, plain.accelerators_unchanged);
    EXPECT_EQ(hinted.accelerators.size(), plain.accelerators.size());
    ASSERT_EQ(hinted.workloads.size(), plain.workloads.size());
    for (size_t i = 0; i < plain.workloads.size(); ++i) {
      const WorkloadObservation& a = plain.workloads[i];
      const WorkloadObservation& b = hinted.workloads[i];
      EXPECT_EQ(b.workload_id, a.workload_id);
      EXPECT_EQ(b.account, a.account);
      EXPECT_EQ(b.started_us, a.started_us);
      EXPECT_DOUBLE_EQ(b.activity_pct, a.activity_pct);
      EXPECT_EQ(b.details_unchanged, a.details_unchanged);
      EXPECT_EQ(b.digests, a.digests);
      EXPECT_EQ(b.listening_ports, a.listening_ports);
      EXPECT_EQ(b.accelerators, a.accelerators);
    }
    EXPECT_EQ(hinted.workloads[0].started_us, ToUnixMicros(w->started_at()));
    EXPECT_EQ(hinted.workloads[0].details_unchanged, round == 1);
  }

  ObservationHints stale;
  ComputeObservationHints(r, &stale);
  r.add_workloads()->CopyFrom(r.workloads(0));  // another report: more workloads
  r.mutable_workloads(1)->set_workload_id("k8s:pod-2");
  const ReportObservation o = ObserveReport(r, Usage(r), nullptr, &stale);
  ASSERT_EQ(o.workloads.size(), 2u);
  EXPECT_DOUBLE_EQ(o.workloads[1].activity_pct, o.workloads[0].activity_pct);
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
