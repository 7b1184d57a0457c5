// hardware_silent (issue 10 §3): declared in_service cards not reported, on provd's clock, in the
// node's own interval (3 x 60 s here, at least the policy's silent_min of 5 min): the whole node
// silent, or its node reporting without the card. Recovers when it reports again; a report whose
// collectors failed proves nothing missing; maintenance (status not in_service) is never silent;
// a provd restart does not make the fleet silent.
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/analysis/analyzer.h"
#include "tests/analysis/hardware_test_util.h"

namespace prov::server {
namespace {

using provenance::v1::Flag;
using testing::Card;
using testing::FlagsOf;
using testing::HwReport;
using testing::Inventory;
using testing::kT0;
using testing::Row;
using testing::TestPolicy;

constexpr char kRule[] = "hardware_silent";

// The node reports every minute from kT0 to `until` (provd's clock = the report time).
void ReportEveryMinute(Analyzer& a, const std::string& node, const std::vector<Card>& cards,
                       absl::Time from, absl::Time until, bool complete = true) {
  for (absl::Time t = from; t <= until; t += absl::Minutes(1)) {
    ReportObservation r = HwReport(node, t, cards);
    r.complete = complete;
    a.Observe(r);
    a.Evaluate(t);
  }
}

TEST(HardwareSilentTest, ANodeKeptOfflineIsSilentAfterItsWindowAndRecoversWithTheDarkTime) {
  Analyzer a(TestPolicy());
  a.SetInventory(Inventory({Row("SN1", "n1", "acme"), Row("SN2", "n1", "acme")}), 1);
  const std::vector<Card> cards = {Card{.serial = "SN1"},
                                   Card{.serial = "SN2", .pci = "0000:3c:00.0"}};
  ReportEveryMinute(a, "n1", cards, kT0, kT0 + absl::Minutes(10));
  const absl::Time last = kT0 + absl::Minutes(10);
  a.Evaluate(last + absl::Minutes(4));  // 3 intervals passed, but under silent_min: a reboot
  EXPECT_TRUE(FlagsOf(a, kRule).empty());
  a.Evaluate(last + absl::Minutes(5) + absl::Seconds(2));
  std::vector<Flag> flags = FlagsOf(a, kRule);
  ASSERT_EQ(flags.size(), 1u);
  EXPECT_EQ(flags[0].subject(), "node:n1");
  EXPECT_EQ(flags[0].accelerators_size(), 2);
  EXPECT_TRUE(absl::StrContains(flags[0].summary(), "Node n1 silent: 2 declared in-service"))
      << flags[0].summary();
  EXPECT_EQ(flags[0].accounts(0), "acme");
  // Back after two hours: resolved, and the dark time stays in the evidence.
  ReportEveryMinute(a, "n1", cards, last + absl::Hours(2), last + absl::Hours(2));
  flags = FlagsOf(a, kRule);
  ASSERT_EQ(flags.size(), 1u);
  EXPECT_EQ(flags[0].status(), provenance::v1::FLAG_STATUS_RESOLVED);
  const auto& note = flags[0].evidence(flags[0].evidence_size() - 1);
  EXPECT_EQ(note.kind(), "recovered");
  EXPECT_TRUE(absl::StrContains(note.sentence(), "dark for 2 h 0 min")) << note.sentence();
}

TEST(HardwareSilentTest, ACardMissingFromCompleteReportsIsPulled) {
  Analyzer a(TestPolicy());
  a.SetInventory(Inventory({Row("SN1", "n1"), Row("SN2", "n1")}), 1);
  ReportEveryMinute(a, "n1", {Card{.serial = "SN1"}, Card{.serial = "SN2", .pci = "0000:3c:00.0"}},
                    kT0, kT0 + absl::Minutes(2));
  // SN2 pulled; the node keeps reporting. Its reports whose collectors failed prove nothing.
  ReportEveryMinute(a, "n1", {Card{.serial = "SN1"}}, kT0 + absl::Minutes(3),
                    kT0 + absl::Minutes(9), /*complete=*/false);
  EXPECT_TRUE(FlagsOf(a, kRule).empty());
  ReportEveryMinute(a, "n1", {Card{.serial = "SN1"}}, kT0 + absl::Minutes(10),
                    kT0 + absl::Minutes(10));
  std::vector<Flag> flags = FlagsOf(a, kRule);
  ASSERT_EQ(flags.size(), 1u);
  EXPECT_EQ(flags[0].subject(), "accelerator:SN2");
  EXPECT_TRUE(absl::StrContains(flags[0].summary(), "while the node reports (pulled or hidden)"))
      << flags[0].summary();
  // Put back: resolved.
  ReportEveryMinute(a, "n1", {Card{.serial = "SN1"}, Card{.serial = "SN2", .pci = "0000:3c:00.0"}},
                    kT0 + absl::Minutes(11), kT0 + absl::Minutes(11));
  EXPECT_EQ(FlagsOf(a, kRule)[0].status(), provenance::v1::FLAG_STATUS_RESOLVED);
}

TEST(HardwareSilentTest, AnRmaReplacementDeclaredBeforeItReportsIsNotMissing) {
  Analyzer a(TestPolicy());
  a.SetInventory(Inventory({Row("OLD", "n1")}), 1);
  ReportEveryMinute(a, "n1", {Card{.serial = "OLD"}}, kT0, kT0 + absl::Minutes(30));
  // The swap is recorded: OLD goes to RMA, NEW is in service; the node reports NEW a minute later.
  a.SetInventory(Inventory({Row("OLD", "n1", "", provenance::v1::INVENTORY_STATUS_RMA, 2),
                            Row("NEW", "n1", "", provenance::v1::INVENTORY_STATUS_IN_SERVICE, 2)}),
                 2);
  ReportEveryMinute(a, "n1", {Card{.serial = "OLD"}}, kT0 + absl::Minutes(31),
                    kT0 + absl::Minutes(31));
  ReportEveryMinute(a, "n1", {Card{.serial = "NEW"}}, kT0 + absl::Minutes(32),
                    kT0 + absl::Minutes(40));
  EXPECT_TRUE(FlagsOf(a, kRule).empty());
  EXPECT_TRUE(FlagsOf(a, "hardware_undeclared").empty());
}

TEST(HardwareSilentTest, MaintenanceAndSparesAreNeverSilent) {
  Analyzer a(TestPolicy());
  a.SetInventory(Inventory({Row("SN1", "n1", "", provenance::v1::INVENTORY_STATUS_RMA),
                            Row("SN2", "n2", "", provenance::v1::INVENTORY_STATUS_SPARE)}),
                 1);
  ReportEveryMinute(a, "n1", {Card{.serial = "SN1"}}, kT0, kT0 + absl::Minutes(2));
  a.Evaluate(kT0 + absl::Hours(3));
  EXPECT_TRUE(FlagsOf(a, kRule).empty());
}

TEST(HardwareSilentTest, AReimportThatTakesTheNodeOutOfServiceResolvesIt) {
  Analyzer a(TestPolicy());
  a.SetInventory(Inventory({Row("SN1", "n1")}), 1);
  ReportEveryMinute(a, "n1", {Card{.serial = "SN1"}}, kT0, kT0 + absl::Minutes(2));
  a.Evaluate(kT0 + absl::Hours(1));
  ASSERT_EQ(FlagsOf(a, kRule).size(), 1u);
  a.SetInventory(Inventory({Row("SN1", "n1", "", provenance::v1::INVENTORY_STATUS_RMA, 2)}), 2);
  a.Evaluate(kT0 + absl::Hours(1) + absl::Minutes(1));
  EXPECT_EQ(FlagsOf(a, kRule)[0].status(), provenance::v1::FLAG_STATUS_RESOLVED);
}

TEST(HardwareSilentTest, ADeclaredNodeThatNeverReportsIsSilentOnceProvdHasBeenUpLongEnough) {
  Analyzer a(TestPolicy());
  a.SetInventory(Inventory({Row("SN1", "n1"), Row("SN7", "ghost")}), 1);
  ReportEveryMinute(a, "n1", {Card{.serial = "SN1"}}, kT0, kT0 + absl::Minutes(4));
  EXPECT_TRUE(FlagsOf(a, kRule).empty());
  ReportEveryMinute(a, "n1", {Card{.serial = "SN1"}}, kT0 + absl::Minutes(5),
                    kT0 + absl::Minutes(6));
  std::vector<Flag> flags = FlagsOf(a, kRule);
  ASSERT_EQ(flags.size(), 1u);
  EXPECT_EQ(flags[0].subject(), "node:ghost");
  EXPECT_TRUE(absl::StrContains(flags[0].summary(), "not heard from since provd started"))
      << flags[0].summary();
}

TEST(HardwareSilentTest, AProvdRestartDoesNotMakeTheFleetSilent) {
  provenance::v1::NodeFacts stored;
  {
    Analyzer before(TestPolicy());
    before.SetInventory(Inventory({Row("SN1", "n1")}), 1);
    ReportEveryMinute(before, "n1", {Card{.serial = "SN1"}}, kT0, kT0 + absl::Minutes(2));
    stored = *before.node("n1");
  }
  // provd was down for an hour; it restarts with the stored facts.
  Analyzer after(TestPolicy());
  after.RestoreNode(stored);
  after.FinishRestore();
  after.SetInventory(Inventory({Row("SN1", "n1")}), 1);
  const absl::Time up = kT0 + absl::Hours(1);
  after.Evaluate(up);
  after.Evaluate(up + absl::Minutes(4));
  EXPECT_TRUE(FlagsOf(after, kRule).empty());  // not silent for the time provd was down
  after.Evaluate(up + absl::Minutes(5) + absl::Seconds(2));
  EXPECT_EQ(FlagsOf(after, kRule).size(), 1u);  // but silent once provd was up long enough
}

// A fleet of 40 nodes reporting every minute; `dark(i, t)` says which are cut off at t.
void RunFleet(Analyzer& a, int nodes, absl::Time from, absl::Time until,
              const std::function<bool(int, absl::Time)>& dark) {
  for (absl::Time t = from; t <= until; t += absl::Minutes(1)) {
    for (int i = 0; i < nodes; ++i) {
      if (dark(i, t)) continue;
      a.Observe(HwReport(absl::StrCat("n", i), t, {Card{.serial = absl::StrCat("SN", i)}}));
    }
    a.Evaluate(t);
  }
}
std::shared_ptr<const inventory::InventoryIndex> FleetInventory(int nodes) {
  std::vector<provenance::v1::InventoryEntry> rows;
  for (int i = 0; i < nodes; ++i) rows.push_back(Row(absl::StrCat("SN", i), absl::StrCat("n", i)));
  return Inventory(rows);
}

// 30 of 40 nodes cut off together for 10 minutes (a data centre's uplink, provd's ingest stalled)
// is an outage, not 30 unplugged nodes: no node is flagged for it. The one node still dark when
// the others are back is flagged then, dated from its own last report, with the outage told.
TEST(HardwareSilentTest, ManyNodesSilentAtOnceAreAnOutageNotUnpluggedNodes) {
  Analyzer a(TestPolicy());
  a.SetInventory(FleetInventory(40), 1);
  const absl::Time cut = kT0 + absl::Minutes(10), back = cut + absl::Minutes(10);
  auto dark = [&](int i, absl::Time t) {
    if (i == 39) return t >= cut;  // this one stays dark
    return i < 30 && t >= cut && t < back;
  };
  RunFleet(a, 40, kT0, back - absl::Minutes(1), dark);
  EXPECT_TRUE(FlagsOf(a, kRule).empty());
  EXPECT_EQ(a.stats().silence_outages, 1u);
  EXPECT_EQ(a.stats().overdue_nodes, 31u);
  EXPECT_EQ(a.stats().silence_held_nodes, 31u);
  RunFleet(a, 40, back, back + absl::Minutes(2), dark);  // the 30 are back; n39 is not
  std::vector<Flag> flags = FlagsOf(a, kRule);
  ASSERT_EQ(flags.size(), 1u);
  EXPECT_EQ(flags[0].subject(), "node:n39");
  EXPECT_EQ(flags[0].first_time().seconds(), absl::ToUnixSeconds(cut - absl::Minutes(1)));
  EXPECT_TRUE(absl::StrContains(flags[0].evidence(0).sentence(), "Held while up to 31 of 40"))
      << flags[0].evidence(0).sentence();
  EXPECT_EQ(a.stats().silence_held_nodes, 0u);
  EXPECT_EQ(a.stats().overdue_nodes, 1u);
}

// An outage that lasts beyond hardware.outage_hold no longer holds anything: an adversary with
// many nodes cannot stay dark for ever by taking them all down together.
TEST(HardwareSilentTest, AnOutagePastItsHoldIsJudgedNodeByNode) {
  auto policy = std::make_shared<policy::Policy>(*TestPolicy());
  policy->hardware.outage_hold = absl::Minutes(20);
  Analyzer a(policy);
  a.SetInventory(FleetInventory(40), 1);
  const absl::Time cut = kT0 + absl::Minutes(10);
  RunFleet(a, 40, kT0, cut + absl::Minutes(20),
           [&](int i, absl::Time t) { return i < 30 && t >= cut; });
  EXPECT_TRUE(FlagsOf(a, kRule).empty());  // 30 overdue from cut + 5 min: held
  RunFleet(a, 40, cut + absl::Minutes(26), cut + absl::Minutes(26),
           [&](int i, absl::Time) { return i < 30; });
  std::vector<Flag> flags = FlagsOf(a, kRule);
  ASSERT_EQ(flags.size(), 30u);
  EXPECT_TRUE(absl::StrContains(flags[0].evidence(0).sentence(), "Judged although 30 of 40"))
      << flags[0].evidence(0).sentence();
}

// A few nodes dark in a small fleet are not an outage (hardware.outage_min_nodes): each is
// flagged after its own window, as before.
TEST(HardwareSilentTest, AFewSilentNodesOfASmallFleetAreEachFlagged) {
  Analyzer a(TestPolicy());
  a.SetInventory(FleetInventory(5), 1);
  const absl::Time cut = kT0 + absl::Minutes(10);
  RunFleet(a, 5, kT0, cut + absl::Minutes(6),
           [&](int i, absl::Time t) { return i < 4 && t >= cut; });
  EXPECT_EQ(FlagsOf(a, kRule).size(), 4u);
  EXPECT_EQ(a.stats().silence_outages, 0u);
}

TEST(HardwareSilentTest, ACardSeenOnAnotherNodeIsMovedNotSilent) {
  Analyzer a(TestPolicy());
  a.SetInventory(Inventory({Row("SN1", "n1"), Row("SN2", "n1")}), 1);
  ReportEveryMinute(a, "n1", {Card{.serial = "SN1"}, Card{.serial = "SN2", .pci = "0000:3c:00.0"}},
                    kT0, kT0 + absl::Minutes(1));
  for (int m = 2; m <= 12; ++m) {
    const absl::Time t = kT0 + absl::Minutes(m);
    a.Observe(HwReport("n1", t, {Card{.serial = "SN1"}}));
    a.Observe(HwReport("n2", t, {Card{.serial = "SN2"}}));
    a.Evaluate(t);
  }
  EXPECT_TRUE(FlagsOf(a, kRule).empty());
  EXPECT_EQ(FlagsOf(a, "hardware_moved").size(), 1u);
}

}  // namespace
}  // namespace prov::server

namespace prov::server {
namespace {

// Review findings (issue 10 §3): benign fleets the first version flagged.
TEST(HardwareSilentTest, CardsWithoutSerialsFillTheirSlotsAndAreNeverMissing) {
  Analyzer a(TestPolicy());
  a.SetInventory(Inventory({Row("SN1", "n1"), Row("SN2", "n1")}), 1);
  // Boards without serial files (NVML "[N/A]"): two anonymous cards for two declared rows.
  ReportEveryMinute(a, "n1",
                    {Card{.serial = "[N/A]"}, Card{.serial = "[N/A]", .pci = "0000:3c:00.0"}}, kT0,
                    kT0 + absl::Minutes(15));
  EXPECT_TRUE(FlagsOf(a, kRule).empty());
  EXPECT_TRUE(FlagsOf(a, "hardware_undeclared").empty());
  // One of them gone: the node lists one card for two rows: one is missing.
  ReportEveryMinute(a, "n1", {Card{.serial = "[N/A]"}}, kT0 + absl::Minutes(16),
                    kT0 + absl::Minutes(25));
  EXPECT_EQ(FlagsOf(a, kRule).size(), 1u);
}

TEST(HardwareSilentTest, ANodeQuietBeforeTheFirstImportIsJudgedByIt) {
  Analyzer a(TestPolicy());
  ReportEveryMinute(a, "n1", {Card{.serial = "SN1"}}, kT0, kT0 + absl::Minutes(2));
  a.Evaluate(kT0 + absl::Minutes(20));  // n1 went quiet; no inventory yet
  a.SetInventory(Inventory({Row("SN1", "n1")}), 1);
  a.Evaluate(kT0 + absl::Minutes(21));
  std::vector<Flag> flags = FlagsOf(a, kRule);
  ASSERT_EQ(flags.size(), 1u);
  EXPECT_EQ(flags[0].subject(), "node:n1");
}

}  // namespace
}  // namespace prov::server
