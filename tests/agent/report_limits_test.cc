#include "agent/collect/report_limits.h"

#include "gtest/gtest.h"

namespace prov::agent {
namespace {

using provenance::v1::NodeReport;

// A tenant's inference server with 2,000 open connections must not make provd refuse the whole
// report (its validator allows 1,024 peers per workload): the list is cut, and the cut is said.
TEST(ReportLimitsTest, ListsOverProvdsLimitsAreCutAndNamed) {
  NodeReport r;
  auto* w = r.add_workloads();
  for (int i = 0; i < 2000; ++i) w->add_peers()->set_remote_port(i);
  for (int i = 0; i < 300; ++i) r.mutable_node()->add_addresses("10.0.0.1");
  for (int i = 0; i < 10; ++i) w->add_pids(i);
  std::vector<std::string> cut = CapNodeLists(&r);
  ASSERT_EQ(cut.size(), 2u);
  EXPECT_EQ(cut[0], "node.addresses: 300 -> 256");
  EXPECT_EQ(cut[1], "workloads[0].peers: 2000 -> 1024");
  EXPECT_EQ(r.workloads(0).peers_size(), 1024);
  EXPECT_EQ(r.workloads(0).peers(1023).remote_port(), 1023u);  // the head is kept
  EXPECT_EQ(r.node().addresses_size(), 256);
  EXPECT_EQ(r.workloads(0).pids_size(), 10);
}

TEST(ReportLimitsTest, CollectorErrorsLeaveRoomForTheCollectorsOwnEntry) {
  NodeReport r;
  for (int i = 0; i < 400; ++i) r.mutable_health()->add_collector_errors()->set_collector("procfs");
  std::vector<std::string> cut = CapNodeLists(&r);
  ASSERT_EQ(cut.size(), 1u);
  EXPECT_EQ(r.health().collector_errors_size(), 255);
}

TEST(ReportLimitsTest, AReportWithinTheLimitsIsUntouched) {
  NodeReport r;
  r.add_workloads()->add_peers();
  r.mutable_node()->add_addresses("10.0.0.1");
  EXPECT_TRUE(CapNodeLists(&r).empty());
  EXPECT_EQ(r.workloads(0).peers_size(), 1);
}

}  // namespace
}  // namespace prov::agent
