// hardware_assignment (issue 10 §3): a workload of another account on a card the inventory rents
// to someone else (the fibre run to the next rack).
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
using testing::Training;

constexpr char kRule[] = "hardware_assignment";

WorkloadObservation On(WorkloadObservation w, const std::string& pci) {
  w.accelerators = {pci};
  return w;
}

TEST(HardwareAssignmentTest, AnotherAccountsWorkloadOnARentedCardNamesBothAccounts) {
  Analyzer a(TestPolicy());
  a.SetInventory(Inventory({Row("SN1", "n1", "acme"), Row("SN2", "n1", "acme")}), 1);
  a.Observe(HwReport("n1", kT0,
                     {Card{.serial = "SN1"}, Card{.serial = "SN2", .pci = "0000:3c:00.0"}},
                     {On(Training("pod-a", "acme", 1e15), "0000:3b:00.0"),
                      On(Training("pod-x", "shadow", 1e15), "0000:3c:00.0")}));
  a.Evaluate(kT0);
  std::vector<Flag> flags = FlagsOf(a, kRule);
  ASSERT_EQ(flags.size(), 1u);
  const Flag& f = flags[0];
  EXPECT_EQ(f.subject(), "accelerator:SN2");
  ASSERT_EQ(f.accounts_size(), 2);
  EXPECT_EQ(f.accounts(0), "acme");
  EXPECT_EQ(f.accounts(1), "shadow");
  EXPECT_EQ(f.workloads(0), "n1/pod-x");
  EXPECT_TRUE(absl::StrContains(f.summary(), "rented to acme but runs workloads of shadow"))
      << f.summary();
}

TEST(HardwareAssignmentTest, TheRentersOwnWorkloadsAndUnrentedCardsRaiseNothing) {
  Analyzer a(TestPolicy());
  a.SetInventory(Inventory({Row("SN1", "n1", "acme"), Row("SN2", "n1", "")}), 1);
  a.Observe(HwReport("n1", kT0,
                     {Card{.serial = "SN1"}, Card{.serial = "SN2", .pci = "0000:3c:00.0"}},
                     {On(Training("pod-a", "acme", 1e15), "0000:3b:00.0"),
                      On(Training("pod-x", "other", 1e15), "0000:3c:00.0")}));
  a.Evaluate(kT0);
  EXPECT_TRUE(FlagsOf(a, kRule).empty());
}

TEST(HardwareAssignmentTest, ResolvedWhenOnlyTheRenterUsesItAgain) {
  Analyzer a(TestPolicy());
  a.SetInventory(Inventory({Row("SN1", "n1", "acme")}), 1);
  a.Observe(HwReport("n1", kT0, {Card{.serial = "SN1"}},
                     {On(Training("pod-x", "shadow", 1e15), "0000:3b:00.0")}));
  a.Evaluate(kT0);
  ASSERT_EQ(FlagsOf(a, kRule).size(), 1u);
  a.Observe(HwReport("n1", kT0 + absl::Minutes(1), {Card{.serial = "SN1"}},
                     {On(Training("pod-a", "acme", 1e15), "0000:3b:00.0")}));
  a.Evaluate(kT0 + absl::Minutes(1));
  EXPECT_EQ(FlagsOf(a, kRule)[0].status(), provenance::v1::FLAG_STATUS_RESOLVED);
}

}  // namespace
}  // namespace prov::server
