// hardware_undeclared (issue 10 §3): dark hardware, cards (or whole nodes) the inventory does not
// know.
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

constexpr char kRule[] = "hardware_undeclared";

TEST(HardwareUndeclaredTest, ACardWithoutARowIsListedOnItsNode) {
  Analyzer a(TestPolicy());
  a.SetInventory(Inventory({Row("SN1", "n1")}), 1);
  a.Observe(
      HwReport("n1", kT0, {Card{.serial = "SN1"}, Card{.serial = "SNX", .pci = "0000:3c:00.0"}}));
  a.Evaluate(kT0);
  std::vector<Flag> flags = FlagsOf(a, kRule);
  ASSERT_EQ(flags.size(), 1u);
  EXPECT_EQ(flags[0].subject(), "node:n1");
  ASSERT_EQ(flags[0].accelerators_size(), 1);
  EXPECT_EQ(flags[0].accelerators(0), "n1/0000:3c:00.0");
  EXPECT_TRUE(absl::StartsWith(flags[0].summary(), "Undeclared accelerators: n1"))
      << flags[0].summary();
  EXPECT_TRUE(absl::StrContains(flags[0].evidence(0).sentence(), "serial SNX"));
}

TEST(HardwareUndeclaredTest, ANodeTheInventoryDoesNotKnowIsDark) {
  Analyzer a(TestPolicy());
  a.SetInventory(Inventory({Row("SN1", "n1")}), 1);
  a.Observe(HwReport("n9", kT0, {Card{.serial = "SN9"}}));
  a.Evaluate(kT0);
  std::vector<Flag> flags = FlagsOf(a, kRule);
  ASSERT_EQ(flags.size(), 1u);
  EXPECT_TRUE(absl::StartsWith(flags[0].summary(), "Node unknown to the inventory: n9"))
      << flags[0].summary();
}

TEST(HardwareUndeclaredTest, AReimportThatDeclaresItResolvesIt) {
  Analyzer a(TestPolicy());
  a.SetInventory(Inventory({Row("SN1", "n1")}), 1);
  a.Observe(
      HwReport("n1", kT0, {Card{.serial = "SN1"}, Card{.serial = "SNX", .pci = "0000:3c:00.0"}}));
  a.Evaluate(kT0);
  ASSERT_EQ(FlagsOf(a, kRule).size(), 1u);
  a.SetInventory(Inventory({Row("SN1", "n1"),
                            Row("SNX", "n1", "", provenance::v1::INVENTORY_STATUS_IN_SERVICE, 2)}),
                 2);
  a.Evaluate(kT0 + absl::Minutes(1));
  EXPECT_EQ(FlagsOf(a, kRule)[0].status(), provenance::v1::FLAG_STATUS_RESOLVED);
}

TEST(HardwareUndeclaredTest, NothingBeforeAnInventoryIsImported) {
  Analyzer a(TestPolicy());
  a.Observe(HwReport("n1", kT0, {Card{.serial = "SN1"}}));
  a.Evaluate(kT0);
  EXPECT_TRUE(FlagsOf(a, kRule).empty());
}

}  // namespace
}  // namespace prov::server
