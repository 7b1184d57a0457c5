#include "tools/bench/report_factory.h"

#include <set>

#include "gtest/gtest.h"

namespace prov::bench {
namespace {

TEST(ReportFactoryTest, ReportHasTheAdvertisedShapeAndSize) {
  ReportFactory f;
  provenance::v1::NodeReport r = f.MakeTemplate(7);
  EXPECT_EQ(r.accelerators_size(), ReportFactory::kAccelerators);
  EXPECT_EQ(r.samples_size(), ReportFactory::kAccelerators);
  EXPECT_EQ(r.workloads_size(), ReportFactory::kWorkloads);
  const size_t bytes = r.ByteSizeLong();
  EXPECT_GE(bytes, 2000u);
  EXPECT_LE(bytes, 3100u);  // see README: 10 workloads do not fit 2 KB
  EXPECT_EQ(r.workloads(0).cmdline_digest().size(), 64u);
  EXPECT_EQ(r.workloads(1).kind(), provenance::v1::WORKLOAD_KIND_K8S_POD);
  std::set<std::string> uuids;
  for (const auto& a : r.accelerators()) {
    EXPECT_EQ(a.vendor_id(), 0x10deu);
    EXPECT_EQ(a.device_id(), 0x2330u);
    EXPECT_EQ(a.uuid().size(), 40u) << a.uuid();  // GPU- + 36
    uuids.insert(a.uuid());
  }
  EXPECT_EQ(uuids.size(), 8u);
  for (const auto& w : r.workloads()) {
    EXPECT_FALSE(w.workload_id().empty());
    EXPECT_FALSE(w.attribution().account().empty());
    if (!w.cmdline_digest().empty()) {
      EXPECT_EQ(w.cmdline_digest().size(), 64u);
    }
    ASSERT_EQ(w.accelerator_pci_addresses_size(), 1);
  }
}

TEST(ReportFactoryTest, AgentsDifferAndStampSetsSeqAndTime) {
  ReportFactory f;
  provenance::v1::NodeReport a = f.MakeTemplate(1), b = f.MakeTemplate(2);
  EXPECT_NE(a.node().node_id(), b.node().node_id());
  EXPECT_NE(a.node().boot_id(), b.node().boot_id());
  EXPECT_NE(a.accelerators(0).uuid(), b.accelerators(0).uuid());
  ReportFactory::Stamp(a, 42, absl::FromUnixMillis(1700000000250));
  EXPECT_EQ(a.seq(), 42u);
  EXPECT_EQ(a.collected_at().seconds(), 1700000000);
  EXPECT_EQ(a.collected_at().nanos(), 250000000);
}

}  // namespace
}  // namespace prov::bench
