// hardware_moved and hardware_cloned_identity (issue 10 §3): a declared card reporting from
// another node than its declared one; one identity on two nodes within one silence window.
#include <string>
#include <vector>

#include "absl/strings/match.h"
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

TEST(HardwareMovedTest, ADeclaredCardOnAnotherNodeNamesBothNodesAndWhen) {
  Analyzer a(TestPolicy());
  a.SetInventory(Inventory({Row("SN1", "n1"), Row("SN2", "n2")}), 1);
  a.Observe(
      HwReport("n2", kT0, {Card{.serial = "SN2"}, Card{.serial = "SN1", .pci = "0000:3c:00.0"}}));
  a.Evaluate(kT0);
  std::vector<Flag> flags = FlagsOf(a, "hardware_moved");
  ASSERT_EQ(flags.size(), 1u);
  const Flag& f = flags[0];
  EXPECT_EQ(f.subject(), "accelerator:SN1");
  ASSERT_EQ(f.nodes_size(), 2);
  EXPECT_EQ(f.nodes(0), "n1");
  EXPECT_EQ(f.nodes(1), "n2");
  EXPECT_EQ(f.datacenters(0), "dc-n1");
  EXPECT_EQ(f.datacenters(1), "dc-n2");
  const std::string& e = f.evidence(0).sentence();
  EXPECT_TRUE(absl::StrContains(e, "on node n1, dc-n1 rack r1")) << e;
  EXPECT_TRUE(absl::StrContains(e, "Observed on node n2")) << e;
  EXPECT_TRUE(absl::StrContains(e, "first seen there 2025-11-24")) << e;
  EXPECT_TRUE(FlagsOf(a, "hardware_cloned_identity").empty());  // n1 never reported it
}

TEST(HardwareMovedTest, APlannedMoveInAReimportedInventoryResolvesIt) {
  Analyzer a(TestPolicy());
  a.SetInventory(Inventory({Row("SN1", "n1")}), 1);
  a.Observe(HwReport("n2", kT0, {Card{.serial = "SN1"}}));
  a.Evaluate(kT0);
  ASSERT_EQ(FlagsOf(a, "hardware_moved").size(), 1u);
  a.SetInventory(Inventory({Row("SN1", "n2", "", provenance::v1::INVENTORY_STATUS_IN_SERVICE, 2)}),
                 2);
  a.Evaluate(kT0 + absl::Minutes(1));
  std::vector<Flag> flags = FlagsOf(a, "hardware_moved");
  ASSERT_EQ(flags.size(), 1u);
  EXPECT_EQ(flags[0].status(), provenance::v1::FLAG_STATUS_RESOLVED);
}

TEST(HardwareMovedTest, AMoveDeclaredBeforeTheCardReportsIsNeverFlagged) {
  Analyzer a(TestPolicy());
  a.SetInventory(Inventory({Row("SN1", "n1")}), 1);
  a.Observe(HwReport("n1", kT0, {Card{.serial = "SN1"}}));
  a.Evaluate(kT0);
  a.SetInventory(Inventory({Row("SN1", "n2", "", provenance::v1::INVENTORY_STATUS_IN_SERVICE, 2)}),
                 2);
  a.Observe(HwReport("n1", kT0 + absl::Minutes(1), {}));
  a.Observe(HwReport("n2", kT0 + absl::Minutes(40), {Card{.serial = "SN1"}}));
  a.Evaluate(kT0 + absl::Minutes(40));
  EXPECT_TRUE(FlagsOf(a, "hardware_moved").empty());
  EXPECT_TRUE(FlagsOf(a, "hardware_cloned_identity").empty());
}

TEST(HardwareClonedIdentityTest, OneSerialOnTwoNodesAtOnceIsCritical) {
  Analyzer a(TestPolicy());
  a.Observe(HwReport("n1", kT0, {Card{.serial = "SN1"}}));
  a.Observe(HwReport("n2", kT0 + absl::Seconds(30), {Card{.serial = "SN1"}}));
  a.Evaluate(kT0 + absl::Seconds(30));
  EXPECT_TRUE(FlagsOf(a, "hardware_cloned_identity").empty());  // could still be a move
  a.Observe(HwReport("n1", kT0 + absl::Seconds(60), {Card{.serial = "SN1"}}));  // it was not
  a.Evaluate(kT0 + absl::Seconds(60));
  std::vector<Flag> flags = FlagsOf(a, "hardware_cloned_identity");
  ASSERT_EQ(flags.size(), 1u);  // no inventory needed
  EXPECT_EQ(flags[0].severity(), provenance::v1::SEVERITY_CRITICAL);
  EXPECT_EQ(flags[0].subject(), "accelerator:SN1");
  ASSERT_EQ(flags[0].nodes_size(), 2);
  EXPECT_TRUE(absl::StrContains(flags[0].evidence(0).sentence(), "the two spans overlap"))
      << flags[0].evidence(0).sentence();
}

TEST(HardwareClonedIdentityTest, ACardMovedAwayAndBackIsNoClone) {
  Analyzer a(TestPolicy());
  for (int m = 0; m <= 5; ++m)
    a.Observe(HwReport("n1", kT0 + absl::Minutes(m), {Card{.serial = "SN1"}}));
  for (int m = 30; m <= 35; ++m)
    a.Observe(HwReport("n2", kT0 + absl::Minutes(m), {Card{.serial = "SN1"}}));
  a.Evaluate(kT0 + absl::Minutes(35));
  for (int m = 60; m <= 65; ++m)
    a.Observe(HwReport("n1", kT0 + absl::Minutes(m), {Card{.serial = "SN1"}}));
  a.Evaluate(kT0 + absl::Minutes(65));
  EXPECT_TRUE(FlagsOf(a, "hardware_cloned_identity").empty());
}

TEST(HardwareMovedTest, ACardStillOnItsPreviousNodeAfterARedeclarationWaitsForTheGrace) {
  Analyzer a(TestPolicy());
  a.SetInventory(Inventory({Row("SN1", "n1")}), 1);
  a.Observe(HwReport("n1", kT0, {Card{.serial = "SN1"}}));
  a.Evaluate(kT0);
  // The asset system moves it to n2 first; the card moves later (or never).
  a.SetInventory(Inventory({Row("SN1", "n2", "", provenance::v1::INVENTORY_STATUS_IN_SERVICE, 2)}),
                 2);
  a.Observe(HwReport("n1", kT0 + absl::Minutes(1), {Card{.serial = "SN1"}}));
  a.Evaluate(kT0 + absl::Minutes(1));
  EXPECT_TRUE(FlagsOf(a, "hardware_moved").empty());
  a.Observe(HwReport("n1", kT0 + absl::Hours(25), {Card{.serial = "SN1"}}));
  a.Evaluate(kT0 + absl::Hours(25));
  EXPECT_EQ(FlagsOf(a, "hardware_moved").size(), 1u);  // a day later it still has not moved
}

TEST(HardwareClonedIdentityTest, ReportsArrivingOutOfOrderStillOverlap) {
  Analyzer a(TestPolicy());
  a.Observe(HwReport("n2", kT0 + absl::Minutes(1), {Card{.serial = "SN1"}}));
  a.Evaluate(kT0 + absl::Minutes(10));
  // n1's reports of minutes 2 and 0 arrive later (spooled), newest first.
  a.Observe(HwReport("n1", kT0 + absl::Minutes(2), {Card{.serial = "SN1"}}));
  a.Observe(HwReport("n1", kT0, {Card{.serial = "SN1"}}));
  a.Evaluate(kT0 + absl::Minutes(11));
  std::vector<Flag> flags = FlagsOf(a, "hardware_cloned_identity");
  ASSERT_EQ(flags.size(), 1u);
  EXPECT_TRUE(absl::StrContains(flags[0].evidence(0).sentence(), "the two spans overlap"))
      << flags[0].evidence(0).sentence();
}

TEST(HardwareClonedIdentityTest, APhysicalMoveIsNotACloneAndPlaceholdersAreNoIdentity) {
  Analyzer a(TestPolicy());
  a.Observe(
      HwReport("n1", kT0, {Card{.serial = "SN1"}, Card{.serial = "0", .pci = "0000:3c:00.0"}}));
  a.Observe(HwReport("n1", kT0 + absl::Minutes(10), {Card{.serial = "SN1"}}));
  a.Evaluate(kT0 + absl::Minutes(10));
  // Power down, pull, install, boot: the card reports from n2 half an hour later.
  a.Observe(HwReport("n2", kT0 + absl::Minutes(40),
                     {Card{.serial = "SN1"}, Card{.serial = "0", .pci = "0000:3c:00.0"}}));
  a.Evaluate(kT0 + absl::Minutes(40));
  EXPECT_TRUE(FlagsOf(a, "hardware_cloned_identity").empty());
  // Boards without a serial report "0" or "[N/A]" everywhere at once: no identity, no clone.
  a.Observe(HwReport("n3", kT0 + absl::Minutes(41), {Card{.serial = "0", .uuid = "[N/A]"}}));
  a.Observe(HwReport("n4", kT0 + absl::Minutes(41), {Card{.serial = "0", .uuid = "[N/A]"}}));
  a.Evaluate(kT0 + absl::Minutes(41));
  EXPECT_TRUE(FlagsOf(a, "hardware_cloned_identity").empty());
}

}  // namespace
}  // namespace prov::server

namespace prov::server {
namespace {

// Review findings (issue 10 §3): benign fleets the first version flagged.
TEST(HardwareClonedIdentityTest, ASpooledBatchListsEachReportsOwnCards) {
  Analyzer a(TestPolicy());
  for (int m = 0; m <= 2; ++m) {
    a.Observe(HwReport("n1", kT0 + absl::Minutes(m), {Card{.serial = "SN1"}}));
    a.Observe(HwReport("n2", kT0 + absl::Minutes(m), {Card{.serial = "SN2"}}));
    a.Evaluate(kT0 + absl::Minutes(m));
  }
  // n2 goes offline at minute 3; SN1 is listed by n1 until minute 10, then moved to n2.
  for (int m = 3; m <= 30; ++m) {
    a.Observe(HwReport("n1", kT0 + absl::Minutes(m),
                       m <= 10 ? std::vector<Card>{Card{.serial = "SN1"}} : std::vector<Card>{}));
    a.Evaluate(kT0 + absl::Minutes(m));
  }
  // n2's spool (minutes 3..30) arrives in one batch: SN1 only from minute 20.
  for (int m = 3; m <= 30; ++m) {
    std::vector<Card> cards = {Card{.serial = "SN2"}};
    if (m >= 20) cards.push_back(Card{.serial = "SN1", .pci = "0000:3c:00.0"});
    a.Observe(HwReport("n2", kT0 + absl::Minutes(m), cards));
  }
  a.Evaluate(kT0 + absl::Minutes(31));
  EXPECT_TRUE(FlagsOf(a, "hardware_cloned_identity").empty());
}

TEST(HardwareClonedIdentityTest, ALaggingNodeClockDoesNotMakeAMoveAClone) {
  Analyzer a(TestPolicy());
  for (int m = 0; m <= 10; ++m) {
    a.Observe(HwReport("n1", kT0 + absl::Minutes(m), {Card{.serial = "SN1"}}));
    a.Evaluate(kT0 + absl::Minutes(m));
  }
  // Moved to n2 after 15 minutes of downtime; n2's clock runs 30 minutes behind.
  for (int m = 25; m <= 30; ++m) {
    a.Observe(HwReport("n2", kT0 + absl::Minutes(m - 30), {Card{.serial = "SN1"}}));
    a.Evaluate(kT0 + absl::Minutes(m));
  }
  EXPECT_TRUE(FlagsOf(a, "hardware_cloned_identity").empty());
}

TEST(HardwareMovedTest, AnIdenticalReimportLeavesAPersonsResolutionAlone) {
  Analyzer a(TestPolicy());
  a.SetInventory(Inventory({Row("SN1", "n1")}), 1);
  a.Observe(HwReport("n2", kT0, {Card{.serial = "SN1"}}));
  a.Evaluate(kT0);
  std::vector<Flag> flags = FlagsOf(a, "hardware_moved");
  ASSERT_EQ(flags.size(), 1u);
  ASSERT_NE(
      a.SetFlagCase(flags[0].flag_id(), provenance::v1::FLAG_STATUS_RESOLVED,
                    provenance::v1::DISPOSITION_FALSE_POSITIVE, "ana", kT0 + absl::Minutes(1)),
      nullptr);
  // The nightly export: the same rows again, as a new version.
  a.SetInventory(Inventory({Row("SN1", "n1", "", provenance::v1::INVENTORY_STATUS_IN_SERVICE, 2)}),
                 2);
  a.Observe(HwReport("n2", kT0 + absl::Minutes(2), {Card{.serial = "SN1"}}));
  a.Evaluate(kT0 + absl::Minutes(2));
  flags = FlagsOf(a, "hardware_moved");
  ASSERT_EQ(flags.size(), 1u);
  EXPECT_EQ(flags[0].status(), provenance::v1::FLAG_STATUS_RESOLVED);
  EXPECT_EQ(flags[0].disposition(), provenance::v1::DISPOSITION_FALSE_POSITIVE);
}

}  // namespace
}  // namespace prov::server
