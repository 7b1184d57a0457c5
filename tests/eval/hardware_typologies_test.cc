// prov-eval-gen's hardware typologies, checked against a small reconciliation oracle written from
// the rules' contract (tools/eval/README.md): replaying the scenario's reports (prov-sim's
// ReportBuilder) against the declared inventory as imported before each report, every adversary's
// expected hardware flag has its discrepancy, and no look-alike or background node has any.
#include "tools/eval/hardware_typologies.h"

#include <set>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/fs.h"
#include "gtest/gtest.h"
#include "server/inventory/inventory_parser.h"
#include "tools/eval/eval_generator.h"
#include "tools/prov-sim/inventory.h"
#include "tools/prov-sim/report_builder.h"
#include "tools/prov-sim/scenario.h"

namespace prov::eval {
namespace {

using sim::InventoryRow;

// (rule, subject): "hardware_moved", "accelerator:<serial>".
using Finding = std::pair<std::string, std::string>;

// What the reconciliation rules should find, report by report (without silence timing: a card or
// node missing from one report counts, where provd waits silent_after).
std::set<Finding> Reconcile(const sim::v1::Scenario& s) {
  const AcceleratorCatalog& catalog = AcceleratorCatalog::Builtin();
  sim::ReportBuilder builder(s, catalog);
  std::set<Finding> out;
  absl::Time t0 = absl::FromUnixSeconds(1700000000);
  for (uint32_t k = 0; k < s.reports_per_node(); ++k) {
    absl::flat_hash_map<std::string, InventoryRow> inv;
    for (auto& r : sim::DeclaredInventory(s, builder.plan(), catalog, k)) inv[r.serial] = r;
    absl::flat_hash_map<std::string, std::string> seen_on;  // serial -> node, this report
    for (int i = 0; i < s.nodes_size(); ++i) {
      const std::string& node = s.nodes(i).node_id();
      if (!builder.plan().Reports(i, k)) {
        for (const auto& [serial, row] : inv) {
          if (row.node_id == node && row.status == "in_service") {
            out.insert({"hardware_silent", "node:" + node});
          }
        }
        continue;
      }
      auto report = builder.Build(i, k, t0, t0, "boot");
      absl::flat_hash_map<std::string, std::string> serial_of;  // pci -> serial
      std::set<std::string> reported;
      for (const auto& a : report.accelerators()) {
        serial_of[a.pci_address()] = a.serial();
        reported.insert(a.serial());
        auto [it, first] = seen_on.emplace(a.serial(), node);
        if (!first) out.insert({"hardware_cloned_identity", "accelerator:" + a.serial()});
        auto row = inv.find(a.serial());
        if (row == inv.end()) {
          out.insert({"hardware_undeclared", "node:" + node});
          continue;
        }
        if (row->second.node_id != node)
          out.insert({"hardware_moved", "accelerator:" + a.serial()});
        if (row->second.vendor_id != a.vendor_id() || row->second.device_id != a.device_id()) {
          out.insert({"hardware_relabelled", "accelerator:" + a.serial()});
        }
      }
      for (const auto& w : report.workloads()) {
        for (const auto& pci : w.accelerator_pci_addresses()) {
          auto row = inv.find(serial_of[pci]);
          if (row != inv.end() && !row->second.account.empty() &&
              row->second.account != w.attribution().account()) {
            out.insert({"hardware_assignment", "accelerator:" + serial_of[pci]});
          }
        }
      }
      for (const auto& [serial, row] : inv) {
        if (row.node_id == node && row.status == "in_service" && !reported.contains(serial)) {
          out.insert({"hardware_silent", "accelerator:" + serial});
        }
      }
    }
  }
  return out;
}

class HardwareTypologiesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto text = ReadFileToString("tests/fixtures/eval/csl_sample.csv");
    ASSERT_TRUE(text.ok()) << text.status();
    std::vector<screening::RowError> errors;
    auto csl = screening::ParseConsolidatedScreeningList(*text, "csl", &errors);
    ASSERT_TRUE(csl.ok()) << csl.status();
    EvalOptions o{.nodes = 80,
                  .workloads = 300,
                  .instances = 1,
                  .interval_seconds = 60,
                  .reports = 40,
                  .seed = 3,
                  .traces_note = ""};
    auto out = GenerateEval(o, *csl, TraceData{});
    ASSERT_TRUE(out.ok()) << out.status();
    out_ = new EvalOutput(*std::move(out));
    findings_ = new std::set<Finding>(Reconcile(out_->scenario));
  }
  static EvalOutput* out_;
  static std::set<Finding>* findings_;
};
EvalOutput* HardwareTypologiesTest::out_ = nullptr;
std::set<Finding>* HardwareTypologiesTest::findings_ = nullptr;

TEST_F(HardwareTypologiesTest, EveryHardwareTypologyAndLookAlikePresent) {
  std::set<std::string> typologies;
  for (const auto& l : out_->truth.lineages) typologies.insert(l.typology);
  for (const char* t :
       {"h_relabelled", "h_moved", "h_cloned_identity", "h_silent_node", "h_silent_card",
        "h_undeclared_card", "h_undeclared_node", "h_assignment", "lookalike_rma_swap",
        "lookalike_planned_move", "lookalike_maintenance", "lookalike_reboot"}) {
    EXPECT_TRUE(typologies.count(t)) << t;
    EXPECT_TRUE(IsHardwareTypology(t)) << t;
  }
  EXPECT_FALSE(IsHardwareTypology("e_restricted_hardware"));
  EXPECT_NE(out_->scenario.provenance_note().find("hardware events, card serials and UUIDs and "
                                                  "the declared inventory"),
            std::string::npos)
      << "synthetic hardware must be labelled";
  for (const auto& l : out_->truth.lineages) {
    if (IsHardwareTypology(l.typology)) {
      EXPECT_NE(l.description.find("SYNTHETIC"), std::string::npos) << l.id;
    }
  }
  EXPECT_EQ(out_->scenario.nodes_size(), 80);
  EXPECT_GE(out_->scenario.workloads_size(), 300);
}

TEST_F(HardwareTypologiesTest, EveryExpectedHardwareFlagHasItsDiscrepancy) {
  int expected = 0;
  for (const auto& l : out_->truth.lineages) {
    for (const auto& e : l.expected) {
      if (!absl::StartsWith(e.rule, "hardware_")) continue;
      ++expected;
      EXPECT_EQ(l.role, kRoleAdversary) << l.id;
      Finding f{e.rule, absl::StrCat(e.subject_kind, ":", e.subject_id)};
      EXPECT_TRUE(findings_->count(f)) << l.id << ": " << f.first << " " << f.second;
      for (const auto& n : e.nodes) {
        EXPECT_NE(std::find(l.nodes.begin(), l.nodes.end(), n), l.nodes.end()) << l.id;
      }
    }
  }
  // relabelled 8 cards, moved, cloned, silent node and card, 2 undeclared, 2 assignments.
  EXPECT_EQ(expected, 16);
}

TEST_F(HardwareTypologiesTest, NoDiscrepancyOutsideTheAdversaries) {
  absl::flat_hash_map<std::string, const Lineage*> owner;  // node or serial -> lineage
  for (const auto& l : out_->truth.lineages) {
    for (const auto& n : l.nodes) owner.emplace(n, &l);
    for (const auto& s : l.serials) owner.emplace(s, &l);
  }
  for (const auto& [rule, subject] : *findings_) {
    std::string key = subject.substr(subject.find(':') + 1);
    auto it = owner.find(key);
    ASSERT_NE(it, owner.end()) << rule << " " << subject << " belongs to no lineage";
    EXPECT_EQ(it->second->role, kRoleAdversary)
        << rule << " " << subject << " on " << it->second->id << " (" << it->second->typology
        << ")";
    EXPECT_TRUE(absl::StartsWith(it->second->typology, "h_")) << it->second->id;
  }
}

TEST_F(HardwareTypologiesTest, LookAlikesWouldBeFlaggedWithoutTheReimport) {
  // The same world with the declared events left out of the inventory: the RMA swap, the planned
  // move and the maintenance now look like an undeclared card, a move and a silent node. The
  // look-alikes test something only because the re-import is imported in time.
  sim::v1::Scenario s = out_->scenario;
  for (auto& e : *s.mutable_hardware_events()) e.set_declared(false);
  std::set<Finding> undeclared = Reconcile(s);
  std::set<std::string> typologies;
  absl::flat_hash_map<std::string, const Lineage*> owner;
  for (const auto& l : out_->truth.lineages) {
    for (const auto& n : l.nodes) owner.emplace(n, &l);
    for (const auto& sn : l.serials) owner.emplace(sn, &l);
  }
  for (const auto& [rule, subject] : undeclared) {
    auto it = owner.find(subject.substr(subject.find(':') + 1));
    if (it != owner.end() && it->second->role == kRoleLookAlike) {
      typologies.insert(it->second->typology);
    }
  }
  EXPECT_EQ(typologies, (std::set<std::string>{"lookalike_maintenance", "lookalike_planned_move",
                                               "lookalike_rma_swap"}));
}

TEST_F(HardwareTypologiesTest, InventoryFilesParseAndReimportBeforeTheDeclaredEvents) {
  ASSERT_EQ(out_->inventory_files.size(), 2u);
  EXPECT_EQ(out_->inventory_files[0].first, "inventory.csv");
  EXPECT_EQ(out_->inventory_files[1].first, "inventory.at-20.csv");  // reports / 2
  auto initial = inventory::ParseInventory(out_->inventory_files[0].second,
                                           inventory::InventoryFormat::kCsv, "inventory.csv");
  ASSERT_TRUE(initial.ok()) << initial.status();
  EXPECT_TRUE(initial->errors.empty());
  // Every card of every node but the dark one.
  EXPECT_EQ(initial->rows.size(), 79u * 8);
  auto update = inventory::ParseInventory(out_->inventory_files[1].second,
                                          inventory::InventoryFormat::kCsv, "inventory.at-20.csv");
  ASSERT_TRUE(update.ok()) << update.status();
  // RMA: old rma + new in service; planned move: 1 row; maintenance: the node's 8 cards spare.
  EXPECT_EQ(update->rows.size(), 2u + 1 + 8);
  // Renters: the relabelled node, the assignment's renter, the RMA and reboot look-alikes.
  int rented = 0;
  for (const auto& r : initial->rows) rented += !r.account().empty();
  EXPECT_EQ(rented, 4 * 8);
  for (const auto& c : out_->checks) {
    if (absl::StartsWith(c, "declared inventory:")) return;
  }
  ADD_FAILURE() << "no inventory check";
}

}  // namespace
}  // namespace prov::eval
