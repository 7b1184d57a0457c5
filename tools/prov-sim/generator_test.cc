#include "tools/prov-sim/generator.h"

#include "absl/time/time.h"
#include "common/accelerator_catalog.h"
#include "gtest/gtest.h"
#include "tools/prov-sim/report_builder.h"
#include "tools/prov-sim/scenario.h"

namespace prov::sim {
namespace {

TEST(GeneratorTest, FleetIsValidDeterministicAndLabelledSynthetic) {
  FleetOptions o{.nodes = 50, .datacenters = 3, .accounts = 7, .workloads_per_node = 3, .seed = 42};
  v1::Scenario a = GenerateFleet(o, nullptr);
  v1::Scenario b = GenerateFleet(o, nullptr);
  EXPECT_EQ(a.SerializeAsString(), b.SerializeAsString()) << "same seed, same fleet";
  ASSERT_TRUE(ValidateScenario(a).ok()) << ValidateScenario(a);
  EXPECT_EQ(a.nodes_size(), 50);
  EXPECT_EQ(a.datacenters_size(), 3);
  EXPECT_EQ(a.workloads_size(), 150);
  EXPECT_NE(a.provenance_note().find("SYNTHETIC"), std::string::npos);
  o.seed = 43;
  EXPECT_NE(GenerateFleet(o, nullptr).SerializeAsString(), a.SerializeAsString());
  int distributed = 0;
  for (const auto& w : a.workloads()) distributed += w.world_size() > 0;
  EXPECT_GT(distributed, 0);
  for (const auto& n : a.nodes()) {
    auto match = AcceleratorCatalog::Builtin().Lookup(n.vendor_id(), n.device_id());
    ASSERT_TRUE(match.has_value() && match->exact)
        << n.node_id() << " uses a model not in the catalog";
  }
}

TEST(GeneratorTest, TraceShapesDriveGpuCountsAndLifetimes) {
  std::vector<JobShape> shapes = {{"pod-a", 2, 500, 25}, {"pod-b", 1, 1000, 1'000'000}};
  FleetOptions o{
      .nodes = 20, .workloads_per_node = 2, .interval_seconds = 10, .reports_per_node = 6};
  v1::Scenario s = GenerateFleet(o, &shapes);
  ASSERT_TRUE(ValidateScenario(s).ok()) << ValidateScenario(s);
  EXPECT_NE(s.provenance_note().find("Alibaba"), std::string::npos);
  for (const auto& w : s.workloads()) {
    if (w.origin() == "alibaba_gpu_v2023:pod-a") {
      EXPECT_EQ(w.accelerator_count(), 2u);
      EXPECT_EQ(w.duration_reports(), 3u);  // 25 s at 10 s per report
      EXPECT_DOUBLE_EQ(w.utilization_pct(), 50);
    } else {
      ASSERT_EQ(w.origin(), "alibaba_gpu_v2023:pod-b");
      EXPECT_EQ(w.duration_reports(), 0u);  // outlives the run
    }
  }
}

TEST(ReportBuilderTest, ReportsCarryNodeAcceleratorsAndActiveWorkloads) {
  v1::Scenario s = GenerateFleet({.nodes = 3, .workloads_per_node = 2, .seed = 7}, nullptr);
  s.mutable_workloads(0)->set_start_report(2);
  s.mutable_workloads(0)->set_duration_reports(1);
  ReportBuilder builder(s, AcceleratorCatalog::Builtin());
  absl::Time start = absl::FromUnixSeconds(1'700'000'000);
  auto r = builder.Build(0, 1, start, start + absl::Seconds(10), "boot-x");
  EXPECT_EQ(r.node().node_id(), s.nodes(0).node_id());
  EXPECT_EQ(r.node().boot_id(), "boot-x");
  EXPECT_FALSE(r.node().region().empty());
  EXPECT_EQ(r.collected_at().seconds(), 1'700'000'010);
  EXPECT_EQ(r.accelerators_size(), static_cast<int>(s.nodes(0).accelerator_count()));
  EXPECT_EQ(r.samples_size(), r.accelerators_size());
  EXPECT_TRUE(r.accelerators(0).model_known());
  EXPECT_EQ(r.workloads_size(), 1) << "workload 0 only appears in report 2";
  auto r2 = builder.Build(0, 2, start, start + absl::Seconds(20), "boot-x");
  ASSERT_EQ(r2.workloads_size(), 2);
  const auto& w = r2.workloads(0);
  EXPECT_EQ(w.workload_id(), s.workloads(0).workload_id());
  EXPECT_EQ(w.attribution().account(), s.workloads(0).account());
  EXPECT_EQ(w.accelerator_pci_addresses_size(),
            static_cast<int>(s.workloads(0).accelerator_count()));
  EXPECT_EQ(w.cmdline_digest().size(), 64u);
  EXPECT_EQ(w.started_at().seconds(), 1'700'000'020);
  // Energy counters rise from report to report.
  EXPECT_GT(r2.samples(0).energy_millijoules(), r.samples(0).energy_millijoules());
}

}  // namespace
}  // namespace prov::sim
