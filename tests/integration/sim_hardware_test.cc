// prov-sim's hardware events and declared inventory against the real provd (process) and provctl:
// prov-sim imports the inventory before its first report and the re-import before the report it
// declares (--inventory-command), and provd's own declared-vs-observed view (provctl inventory
// show) sees each event as the reconciliation rules' contract describes it. The rules themselves
// are not needed: GetInventory's `differences` compare one serial's row with its last report.
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/fs.h"
#include "common/proto_json.h"
#include "gtest/gtest.h"
#include "provenance/v1/audit.pb.h"
#include "provenance/v1/inventory.pb.h"
#include "tests/integration/provd_process.h"
#include "tests/integration/subprocess.h"
#include "tests/uplink/test_util.h"
#include "tools/prov-sim/hardware_plan.h"

namespace prov {
namespace {

using testing::BinDir;
using testing::RunCommand;

constexpr char kScenario[] = R"({
  "name": "hw-it", "interval_seconds": 10, "reports_per_node": 6,
  "datacenters": [{"name": "dc-a"}, {"name": "dc-b"}],
  "nodes": [
    {"node_id": "hw-a", "datacenter": "dc-a", "vendor_id": 4318, "device_id": 8370,
     "accelerator_count": 4, "rack": "r1", "rented_to": "acme"},
    {"node_id": "hw-b", "datacenter": "dc-b", "vendor_id": 4318, "device_id": 9008,
     "accelerator_count": 4, "rack": "r7"},
    {"node_id": "hw-c", "datacenter": "dc-b", "vendor_id": 4318, "device_id": 9008,
     "accelerator_count": 2}],
  "hardware_events": [
    {"kind": "KIND_RELABEL", "node_id": "hw-c", "vendor_id": 6629, "device_id": 55298},
    {"kind": "KIND_MOVE_CARD", "node_id": "hw-a", "slot": 3, "to_node_id": "hw-b",
     "at_report": 2},
    {"kind": "KIND_MOVE_CARD", "node_id": "hw-b", "slot": 0, "to_node_id": "hw-a",
     "at_report": 3, "declared": true},
    {"kind": "KIND_SWAP_CARD", "node_id": "hw-b", "slot": 1, "at_report": 3, "declared": true}]
})";

class SimHardwareTest : public ::testing::Test {
 protected:
  void SetUp() override {
    provd_ = std::make_unique<testing::ProvdProcess>(
        dir_.path(), 0, std::vector<std::string>{"--insecure", "--ledger-clock", "report"});
    ASSERT_TRUE(provd_->ok()) << provd_->log();
  }
  std::vector<std::string> Ctl() {
    return {BinDir() + "/provctl", "--server",     provd_->address(),
            "--insecure",          "--token-file", provd_->token_path()};
  }
  provenance::v1::GetInventoryResponse Show(const std::string& serial) {
    auto args = Ctl();
    for (const char* a : {"inventory", "show"}) args.push_back(a);
    args.push_back(serial);
    args.push_back("-o");
    args.push_back("json");
    auto [rc, out] = RunCommand(args);
    EXPECT_EQ(rc, 0) << out;
    provenance::v1::GetInventoryResponse r;
    absl::Status s = FromJson(out, &r);
    EXPECT_TRUE(s.ok()) << s << "\n" << out;
    return r;
  }
  std::string Differences(const provenance::v1::GetInventoryResponse& r) {
    std::string out;
    for (const auto& d : r.differences()) absl::StrAppend(&out, d, "; ");
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::ProvdProcess> provd_;
};

TEST_F(SimHardwareTest, InventoryImportedOnTimeAndEventsVisibleInProvd) {
  const std::string scenario = dir_.path() + "/hw.json";
  ASSERT_TRUE(WriteFileAtomically(scenario, kScenario).ok());
  // The inventory command records how many reports provd holds when it runs, then imports.
  std::string ctl;
  for (const auto& a : Ctl()) absl::StrAppend(&ctl, "'", a, "' ");
  const std::string script = dir_.path() + "/import.sh";
  {
    std::ofstream f(script);
    f << "#!/bin/sh\nset -e\n"
      << ctl << "nodes -o json > \"$1.nodes.json\"\n"
      << ctl << "inventory import \"$1\"\n";
  }
  ASSERT_EQ(RunCommand({"chmod", "+x", script}).first, 0);
  const std::string inventory = dir_.path() + "/inventory.csv";
  auto [rc, out] = RunCommand({BinDir() + "/prov-sim", "--server", provd_->address(), "--insecure",
                               "--scenario", scenario, "--time-scale", "100", "--wait-acks", "30",
                               "--inventory-out", inventory, "--inventory-command", script},
                              std::chrono::seconds(90));
  ASSERT_EQ(rc, 0) << out << provd_->log();
  EXPECT_NE(out.find("inventory version 1 from"), std::string::npos) << out;
  EXPECT_NE(out.find("inventory version 2 from"), std::string::npos) << out;
  // The fleet connected before the schedule started (--connect-wait), so no node's first report
  // waited on its handshake.
  EXPECT_NE(out.find("connected:    3 of 3 agents before the first report"), std::string::npos)
      << out;

  // Before the first report provd knew no node; before report 3 every node had sent 0, 1, 2.
  auto before = ReadFileToString(inventory + ".nodes.json");
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before->find("hw-a"), std::string::npos) << *before;
  auto at3 = ReadFileToString(dir_.path() + "/inventory.at-3.csv.nodes.json");
  ASSERT_TRUE(at3.ok());
  provenance::v1::ListNodesResponse nodes;
  ASSERT_TRUE(FromJson(*at3, &nodes).ok()) << *at3;
  ASSERT_EQ(nodes.nodes_size(), 3);
  for (const auto& n : nodes.nodes()) EXPECT_EQ(n.reports_stored(), 3u) << n.node_id();

  // Relabelled: declared an H100 (0x10de:0x2330), observed an Ascend 910B.
  auto relabelled = Show(sim::CardSerial("hw-c", 0));
  EXPECT_EQ(relabelled.current().declared().vendor_id(), 0x10deu);
  EXPECT_EQ(relabelled.last_observed().accelerator().vendor_id(), 0x19e5u);
  EXPECT_FALSE(relabelled.differences().empty());
  // Moved without a re-import: declared in hw-a, observed in hw-b.
  auto moved = Show(sim::CardSerial("hw-a", 3));
  EXPECT_EQ(moved.current().declared().node_id(), "hw-a");
  EXPECT_EQ(moved.last_observed().node_id(), "hw-b");
  EXPECT_NE(Differences(moved).find("hw-b"), std::string::npos) << Differences(moved);
  // The planned move, re-imported first: declared and observed in hw-a, nothing differs.
  auto planned = Show(sim::CardSerial("hw-b", 0));
  EXPECT_EQ(planned.current().declared().node_id(), "hw-a");
  EXPECT_EQ(planned.current().version(), 2);
  EXPECT_EQ(planned.last_observed().node_id(), "hw-a");
  EXPECT_TRUE(planned.differences().empty()) << Differences(planned);
  // The RMA swap: the old serial rma, the replacement declared in service and reporting.
  auto old_card = Show(sim::CardSerial("hw-b", 1));
  EXPECT_EQ(old_card.current().declared().status(), provenance::v1::INVENTORY_STATUS_RMA);
  auto replacement = Show(sim::AddedCardSerial("hw-b", 3));
  EXPECT_EQ(replacement.current().declared().status(), provenance::v1::INVENTORY_STATUS_IN_SERVICE);
  EXPECT_EQ(replacement.last_observed().node_id(), "hw-b");
  EXPECT_TRUE(replacement.differences().empty()) << Differences(replacement);
  // A card nobody touched: its UUID as declared and observed.
  auto plain = Show(sim::CardSerial("hw-a", 0));
  EXPECT_EQ(plain.current().declared().uuid(), sim::CardUuid(sim::CardSerial("hw-a", 0)));
  EXPECT_EQ(plain.current().declared().account(), "acme");
  EXPECT_TRUE(plain.differences().empty()) << Differences(plain);
}

}  // namespace
}  // namespace prov
