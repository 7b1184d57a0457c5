#include "tools/prov-sim/scenario.h"

#include <cstdlib>

#include "gtest/gtest.h"

namespace prov::sim {
namespace {

constexpr char kGood[] = R"({
  "name": "two-dc", "interval_seconds": 10, "reports_per_node": 4,
  "datacenters": [{"name": "dc-a", "region": "us-east"}, {"name": "dc-b", "region": "eu-west"}],
  "nodes": [{"node_id": "n1", "datacenter": "dc-a", "vendor_id": 4318, "device_id": 9008,
             "accelerator_count": 8},
            {"node_id": "n2", "datacenter": "dc-b", "vendor_id": 6629, "device_id": 55298,
             "accelerator_count": 8}],
  "workloads": [{"workload_id": "k8s:train-1", "node_id": "n1", "account": "acme",
                 "kind": "WORKLOAD_KIND_K8S_POD", "workload_class": "WORKLOAD_CLASS_TRAINING",
                 "accelerator_count": 8, "tensor_activity": 0.4, "utilization_pct": 98,
                 "world_size": 16, "rank": 0, "master_addr": "10.0.0.2", "master_port": 29500}]
})";

TEST(ScenarioTest, ParsesAndFillsDefaults) {
  auto s = ParseScenario(kGood, "good.json");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->nodes(0).hostname(), "n1");
  EXPECT_FALSE(s->nodes(1).ip_address().empty());
  EXPECT_EQ(s->workloads(0).origin(), "synthetic");
  EXPECT_DOUBLE_EQ(s->workloads(0).class_confidence(), 0.8);
}

void ExpectError(const std::string& json, const std::string& needle) {
  auto s = ParseScenario(json, "s.json");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find(needle), std::string::npos) << s.status();
}

TEST(ScenarioTest, ErrorsNameTheField) {
  std::string json = kGood;
  ExpectError(R"({"nodes": [{"node_id": "n1", "bogus_field": 1}]})", "bogus_field");
  ExpectError(R"({"interval_seconds": "ten"})", "interval_seconds");
  std::string unknown_dc = json;
  unknown_dc.replace(unknown_dc.find(R"("datacenter": "dc-b")"), 20, R"("datacenter": "dc-z")");
  ExpectError(unknown_dc, "nodes[1].datacenter: unknown datacenter 'dc-z'");
  std::string too_many = json;
  too_many.replace(too_many.find(R"("accelerator_count": 8, "tensor)"), 21,
                   R"("accelerator_count": 9)");
  ExpectError(too_many, "workloads[0].accelerator_count");
  std::string bad_node = json;
  bad_node.replace(bad_node.find(R"("node_id": "n1", "account")"), 16, R"("node_id": "n9",)");
  ExpectError(bad_node, "workloads[0].node_id: unknown node 'n9'");
  ExpectError(R"({"datacenters": [{"name": "a"}]})", "no nodes");
}

TEST(ScenarioTest, MissingFileNamesTheFlag) {
  auto s = LoadScenarioFile("/nonexistent/scenario.json");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("--scenario /nonexistent/scenario.json"), std::string::npos);
}

TEST(ScenarioTest, ShippedExampleIsValid) {
  const char* src = std::getenv("PROV_SOURCE_DIR");
  auto s =
      LoadScenarioFile(std::string(src ? src : ".") + "/tools/prov-sim/examples/split_bundle.json");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->nodes_size(), 4);
  EXPECT_EQ(s->workloads_size(), 4);
  EXPECT_NE(s->provenance_note().find("SYNTHETIC"), std::string::npos);
}

}  // namespace
}  // namespace prov::sim
