// The declared inventory prov-sim writes: the fleet before any event, re-imports for declared
// events, in the format provd's own inventory parser reads.
#include "tools/prov-sim/inventory.h"

#include "gtest/gtest.h"
#include "server/inventory/inventory_parser.h"
#include "tools/prov-sim/scenario.h"

namespace prov::sim {
namespace {

constexpr char kFleet[] = R"({
  "name": "inv", "interval_seconds": 60, "reports_per_node": 10,
  "datacenters": [{"name": "dc-a"}, {"name": "dc-b"}],
  "nodes": [
    {"node_id": "a", "datacenter": "dc-a", "vendor_id": 4318, "device_id": 8370,
     "accelerator_count": 2, "rack": "r1", "rented_to": "acme",
     "declared_model": "A100 SXM4 80GB, fleet A"},
    {"node_id": "b", "datacenter": "dc-b", "vendor_id": 4318, "device_id": 9008,
     "accelerator_count": 2, "rack": "r7"},
    {"node_id": "dark", "datacenter": "dc-b", "vendor_id": 4318, "device_id": 9008,
     "accelerator_count": 1, "undeclared": true}],
  "hardware_events": [
    {"kind": "KIND_RELABEL", "node_id": "a", "vendor_id": 6629, "device_id": 55298},
    {"kind": "KIND_MOVE_CARD", "node_id": "a", "slot": 1, "to_node_id": "b", "at_report": 5,
     "declared": true},
    {"kind": "KIND_SWAP_CARD", "node_id": "b", "slot": 0, "at_report": 5, "declared": true},
    {"kind": "KIND_NODE_SILENT", "node_id": "b", "at_report": 8, "declared": true,
     "declared_status": "spare"},
    {"kind": "KIND_UNDECLARED_CARD", "node_id": "a", "at_report": 3}]
})";

class InventoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = ParseScenario(kFleet, "inv.json");
    ASSERT_TRUE(s.ok()) << s.status();
    scenario_ = *s;
  }
  inventory::InventoryParseResult Parse(const std::vector<InventoryRow>& rows) {
    auto r = inventory::ParseInventory(InventoryCsv(rows), inventory::InventoryFormat::kCsv,
                                       "inventory.csv");
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return {};
    EXPECT_TRUE(r->errors.empty()) << r->errors[0].message;
    return *r;
  }
  v1::Scenario scenario_;
  const AcceleratorCatalog& catalog_ = AcceleratorCatalog::Builtin();
};

TEST_F(InventoryTest, InitialInventoryIsTheFleetAsDeclared) {
  HardwarePlan plan(scenario_);
  auto parsed = Parse(DeclaredInventory(scenario_, plan, catalog_, 0));
  ASSERT_EQ(parsed.rows.size(), 4u);  // a's 2 + b's 2; the dark node and the added card absent
  const auto& a0 = parsed.rows[0];
  EXPECT_EQ(a0.serial(), CardSerial("a", 0));
  EXPECT_EQ(a0.uuid(), CardUuid(a0.serial()));
  // Declared as what the asset system says (the A100), not what the relabelled card reports.
  EXPECT_EQ(a0.declared_model(), "A100 SXM4 80GB, fleet A");
  EXPECT_EQ(a0.vendor_id(), 0x10deu);
  EXPECT_EQ(a0.device_id(), 8370u);
  EXPECT_EQ(a0.node_id(), "a");
  EXPECT_EQ(a0.datacenter(), "dc-a");
  EXPECT_EQ(a0.rack(), "r1");
  EXPECT_EQ(a0.account(), "acme");
  EXPECT_EQ(a0.status(), provenance::v1::INVENTORY_STATUS_IN_SERVICE);
  const auto& b1 = parsed.rows[3];
  EXPECT_EQ(b1.declared_model(), "H100 SXM5 80GB");  // from the catalog
  EXPECT_EQ(b1.account(), "");
  for (const auto& r : parsed.rows) EXPECT_NE(r.node_id(), "dark");
}

TEST_F(InventoryTest, ReimportsRecordDeclaredEventsOnly) {
  EXPECT_EQ(InventoryUpdateReports(scenario_), (std::vector<uint32_t>{5, 8}));
  HardwarePlan plan(scenario_);
  auto at5 = Parse(InventoryUpdate(scenario_, plan, catalog_, 5));
  ASSERT_EQ(at5.rows.size(), 3u);
  // The planned move: a's card 1 now declared in b (b's rack, datacenter and renter).
  EXPECT_EQ(at5.rows[0].serial(), CardSerial("a", 1));
  EXPECT_EQ(at5.rows[0].node_id(), "b");
  EXPECT_EQ(at5.rows[0].datacenter(), "dc-b");
  EXPECT_EQ(at5.rows[0].rack(), "r7");
  EXPECT_EQ(at5.rows[0].account(), "");
  // The RMA swap: the old serial rma, the replacement in service in the same node.
  EXPECT_EQ(at5.rows[1].serial(), CardSerial("b", 0));
  EXPECT_EQ(at5.rows[1].status(), provenance::v1::INVENTORY_STATUS_RMA);
  EXPECT_EQ(at5.rows[2].serial(), plan.Event(2).new_serial);
  EXPECT_EQ(at5.rows[2].node_id(), "b");
  EXPECT_EQ(at5.rows[2].status(), provenance::v1::INVENTORY_STATUS_IN_SERVICE);
  // Maintenance: every in-service card declared in b at report 8 is spare, the moved-in one and
  // the replacement too; the swapped-out card stays rma.
  auto at8 = Parse(InventoryUpdate(scenario_, plan, catalog_, 8));
  ASSERT_EQ(at8.rows.size(), 3u);
  for (const auto& r : at8.rows) {
    EXPECT_EQ(r.node_id(), "b");
    EXPECT_EQ(r.status(), provenance::v1::INVENTORY_STATUS_SPARE);
  }
  // The undeclared card (not declared) appears in no file.
  for (uint32_t k : {0u, 5u, 8u}) {
    for (const auto& r : DeclaredInventory(scenario_, plan, catalog_, k)) {
      EXPECT_NE(r.serial, plan.Event(4).new_serial);
    }
  }
}

TEST(InventoryPathTest, UpdatePathSitsBesideTheBase) {
  EXPECT_EQ(InventoryUpdatePath("/tmp/x/inventory.csv", 20), "/tmp/x/inventory.at-20.csv");
  EXPECT_EQ(InventoryUpdatePath("/tmp/x.d/inv", 3), "/tmp/x.d/inv.at-3");
}

}  // namespace
}  // namespace prov::sim
