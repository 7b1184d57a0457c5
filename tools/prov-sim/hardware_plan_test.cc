// Hardware events as the simulated agents report them: moved, cloned, relabelled, silent, added
// and swapped cards, silent nodes and reboots (ReportBuilder over HardwarePlan).
#include "tools/prov-sim/hardware_plan.h"

#include <regex>

#include "gtest/gtest.h"
#include "tools/prov-sim/report_builder.h"
#include "tools/prov-sim/scenario.h"

namespace prov::sim {
namespace {

using provenance::v1::NodeReport;

constexpr char kFleet[] = R"({
  "name": "hw", "interval_seconds": 60, "reports_per_node": 10,
  "datacenters": [{"name": "dc-a"}, {"name": "dc-b"}],
  "nodes": [
    {"node_id": "a", "datacenter": "dc-a", "vendor_id": 4318, "device_id": 8370,
     "accelerator_count": 4},
    {"node_id": "b", "datacenter": "dc-b", "vendor_id": 4318, "device_id": 9008,
     "accelerator_count": 2}],
  "workloads": [{"workload_id": "k8s:w", "node_id": "a", "account": "renter",
                 "workload_class": "WORKLOAD_CLASS_TRAINING", "accelerator_count": 4,
                 "tensor_activity": 0.3, "utilization_pct": 90}],
  "hardware_events": [)";

v1::Scenario Load(const std::string& events) {
  auto s = ParseScenario(absl::StrCat(kFleet, events, "]}"), "hw.json");
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : v1::Scenario();
}

NodeReport Report(const v1::Scenario& s, size_t node, uint32_t k) {
  ReportBuilder b(s, AcceleratorCatalog::Builtin());
  absl::Time start = absl::FromUnixSeconds(1700000000);
  return b.Build(node, k, start, start + ReportOffset(60, node, 2, k), "boot");
}

std::vector<std::string> Serials(const NodeReport& r) {
  std::vector<std::string> out;
  for (const auto& a : r.accelerators()) out.push_back(a.serial());
  return out;
}

TEST(HardwarePlanTest, StableSerialsAndNvidiaShapedUuids) {
  v1::Scenario s = Load("");
  NodeReport r0 = Report(s, 0, 0), r5 = Report(s, 0, 5);
  ASSERT_EQ(r0.accelerators_size(), 4);
  EXPECT_EQ(Serials(r0), Serials(r5));
  EXPECT_EQ(r0.accelerators(2).serial(), CardSerial("a", 2));
  EXPECT_NE(CardSerial("a", 0), CardSerial("b", 0));
  std::regex uuid("GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
  EXPECT_TRUE(std::regex_match(r0.accelerators(0).uuid(), uuid)) << r0.accelerators(0).uuid();
  EXPECT_EQ(r0.accelerators(0).uuid(), CardUuid(r0.accelerators(0).serial()));
}

TEST(HardwarePlanTest, MoveTakesSerialUuidAndPciIdsToTheOtherNode) {
  v1::Scenario s = Load(
      R"({"kind": "KIND_MOVE_CARD", "node_id": "a", "slot": 3, "to_node_id": "b",
          "at_report": 4})");
  const std::string moved = CardSerial("a", 3);
  EXPECT_EQ(Report(s, 0, 3).accelerators_size(), 4);
  NodeReport a4 = Report(s, 0, 4), b4 = Report(s, 1, 4);
  ASSERT_EQ(a4.accelerators_size(), 3);
  for (const auto& acc : a4.accelerators()) EXPECT_NE(acc.serial(), moved);
  // The workload on a keeps the cards it still has.
  EXPECT_EQ(a4.workloads(0).accelerator_pci_addresses_size(), 3);
  ASSERT_EQ(b4.accelerators_size(), 3);
  const auto& card = b4.accelerators(2);
  EXPECT_EQ(card.serial(), moved);
  EXPECT_EQ(card.uuid(), CardUuid(moved));
  EXPECT_EQ(card.device_id(), 8370u);             // an A100 in a node of H100s
  EXPECT_EQ(card.pci_address(), "0000:12:00.0");  // b's next free slot, no clash
}

TEST(HardwarePlanTest, CloneReportsTheSameSerialOnBothNodes) {
  v1::Scenario s = Load(
      R"({"kind": "KIND_CLONE_CARD", "node_id": "a", "slot": 0, "to_node_id": "b",
          "at_report": 2})");
  auto a = Serials(Report(s, 0, 2)), b = Serials(Report(s, 1, 2));
  EXPECT_EQ(a.size(), 4u);
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[2], a[0]);
  EXPECT_EQ(Serials(Report(s, 1, 1)).size(), 2u);
}

TEST(HardwarePlanTest, RelabelChangesPciIdsNotSerials) {
  v1::Scenario s =
      Load(R"({"kind": "KIND_RELABEL", "node_id": "a", "vendor_id": 6629, "device_id": 55298})");
  NodeReport r = Report(s, 0, 0);
  ASSERT_EQ(r.accelerators_size(), 4);
  for (const auto& acc : r.accelerators()) {
    EXPECT_EQ(acc.vendor_id(), 0x19e5u);
    EXPECT_EQ(acc.device_id(), 0xd802u);
    EXPECT_EQ(acc.family(), "ascend");
  }
  EXPECT_EQ(r.accelerators(1).serial(), CardSerial("a", 1));
  // One slot only, from report 3.
  v1::Scenario one = Load(
      R"({"kind": "KIND_RELABEL", "node_id": "a", "vendor_id": 6629, "device_id": 55298,
          "one_slot": true, "slot": 2, "at_report": 3})");
  EXPECT_EQ(Report(one, 0, 2).accelerators(2).vendor_id(), 0x10deu);
  NodeReport r3 = Report(one, 0, 3);
  EXPECT_EQ(r3.accelerators(2).vendor_id(), 0x19e5u);
  EXPECT_EQ(r3.accelerators(1).vendor_id(), 0x10deu);
}

TEST(HardwarePlanTest, SilentNodeAndSilentCard) {
  v1::Scenario s = Load(
      R"({"kind": "KIND_NODE_SILENT", "node_id": "b", "at_report": 5},
         {"kind": "KIND_CARD_SILENT", "node_id": "a", "slot": 1, "at_report": 5})");
  HardwarePlan plan(s);
  EXPECT_TRUE(plan.Reports(1, 4));
  EXPECT_FALSE(plan.Reports(1, 5));
  EXPECT_FALSE(plan.Reports(1, 9));
  EXPECT_TRUE(plan.Reports(0, 9));
  auto serials = Serials(Report(s, 0, 5));
  EXPECT_EQ(serials.size(), 3u);
  EXPECT_EQ(std::count(serials.begin(), serials.end(), CardSerial("a", 1)), 0);
  EXPECT_EQ(Serials(Report(s, 0, 4)).size(), 4u);
}

TEST(HardwarePlanTest, UndeclaredAndSwappedCardsGetNewIdentities) {
  v1::Scenario s = Load(
      R"({"kind": "KIND_UNDECLARED_CARD", "node_id": "b", "at_report": 2},
         {"kind": "KIND_SWAP_CARD", "node_id": "a", "slot": 0, "at_report": 6})");
  HardwarePlan plan(s);
  const std::string added = plan.Event(0).new_serial;
  const std::string replacement = plan.Event(1).new_serial;
  EXPECT_EQ(plan.Event(1).serial, CardSerial("a", 0));
  auto b = Serials(Report(s, 1, 2));
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[2], added);
  NodeReport a6 = Report(s, 0, 6);
  EXPECT_EQ(a6.accelerators(0).serial(), replacement);
  EXPECT_EQ(a6.accelerators(0).pci_address(), "0000:10:00.0");  // the same slot
  EXPECT_NE(replacement, CardSerial("a", 0));
  EXPECT_EQ(Report(s, 0, 5).accelerators(0).serial(), CardSerial("a", 0));
}

TEST(HardwarePlanTest, RebootChangesTheBootIdOnly) {
  v1::Scenario s = Load(R"({"kind": "KIND_REBOOT", "node_id": "a", "at_report": 3})");
  NodeReport r2 = Report(s, 0, 2), r3 = Report(s, 0, 3), r9 = Report(s, 0, 9);
  EXPECT_EQ(r2.node().boot_id(), "boot");
  EXPECT_NE(r3.node().boot_id(), r2.node().boot_id());
  EXPECT_EQ(r9.node().boot_id(), r3.node().boot_id());
  EXPECT_EQ(Serials(r2), Serials(r3));
}

TEST(HardwarePlanTest, BadEventsAreNamed) {
  auto bad = [](const std::string& events) {
    auto s = ParseScenario(absl::StrCat(kFleet, events, "]}"), "hw.json");
    return s.ok() ? std::string("ok") : std::string(s.status().message());
  };
  EXPECT_NE(bad(R"({"kind": "KIND_MOVE_CARD", "node_id": "a", "slot": 1, "to_node_id": "z"})")
                .find("hardware_events[0].to_node_id: unknown node 'z'"),
            std::string::npos);
  EXPECT_NE(bad(R"({"kind": "KIND_CARD_SILENT", "node_id": "b", "slot": 7})")
                .find("hardware_events[0].slot: node 'b' has no card in slot 7"),
            std::string::npos);
  EXPECT_NE(bad(R"({"kind": "KIND_RELABEL", "node_id": "a", "declared": true, "vendor_id": 1})")
                .find("hardware_events[0].declared"),
            std::string::npos);
  EXPECT_NE(bad(R"({"kind": "KIND_NODE_SILENT", "node_id": "a", "declared": true,
                    "declared_status": "broken"})")
                .find("declared_status: 'broken'"),
            std::string::npos);
  EXPECT_NE(bad(R"({"node_id": "a"})").find("hardware_events[0].kind"), std::string::npos);
}

}  // namespace
}  // namespace prov::sim
