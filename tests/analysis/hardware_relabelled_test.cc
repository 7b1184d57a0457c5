// hardware_relabelled (issue 10 §3): a card whose PCI ID or driver name contradicts what the
// inventory declares for its serial (or for its node's slot when it reports no identity). A
// restricted chip under another name is critical; a corrected inventory resolves the flag.
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

constexpr char kRule[] = "hardware_relabelled";

Card Ascend(const std::string& serial) {
  return Card{.serial = serial,
              .vendor_id = 0x19e5,
              .device_id = 0xd802,
              .model = "NVIDIA A100-SXM4-80GB"};  // the firmware lies, the PCI ID does not
}

TEST(HardwareRelabelledTest, AnAscendDeclaredAsAnA100IsCriticalWithBothSidesInTheEvidence) {
  Analyzer a(TestPolicy());
  a.SetInventory(Inventory({Row("SN1", "n1", "acme")}), 1);
  a.Observe(HwReport("n1", kT0, {Ascend("SN1")}));
  a.Evaluate(kT0);
  std::vector<Flag> flags = FlagsOf(a, kRule);
  ASSERT_EQ(flags.size(), 1u);
  const Flag& f = flags[0];
  EXPECT_EQ(f.subject(), "accelerator:SN1");
  EXPECT_EQ(f.severity(), provenance::v1::SEVERITY_CRITICAL);
  EXPECT_TRUE(absl::StrContains(f.summary(), "Restricted chip (huawei-ascend)")) << f.summary();
  ASSERT_EQ(f.evidence_size(), 1);
  const std::string& e = f.evidence(0).sentence();
  EXPECT_TRUE(absl::StrContains(e, "PCI 0x19e5:0xd802 (catalog: Ascend 910B)")) << e;
  EXPECT_TRUE(absl::StrContains(e, "declared A100 SXM4 80GB 0x10de:0x20b2 on node n1")) << e;
  EXPECT_TRUE(absl::StrContains(e, "not the declared 0x10de:0x20b2")) << e;
  EXPECT_EQ(f.accounts(0), "acme");
  EXPECT_EQ(f.accelerators(0), "n1/0000:3b:00.0");
}

TEST(HardwareRelabelledTest, TheDeclaredCardRaisesNothing) {
  Analyzer a(TestPolicy());
  a.SetInventory(Inventory({Row("SN1", "n1")}), 1);
  a.Observe(HwReport("n1", kT0, {Card{.serial = "SN1"}}));
  a.Evaluate(kT0);
  EXPECT_TRUE(FlagsOf(a, kRule).empty());
}

TEST(HardwareRelabelledTest, ADriverNameContradictingTheDeclaredModelIsHighNotCritical) {
  Analyzer a(TestPolicy());
  a.SetInventory(Inventory({Row("SN1", "n1")}), 1);
  a.Observe(HwReport("n1", kT0, {Card{.serial = "SN1", .model = "NVIDIA H100 80GB HBM3"}}));
  a.Evaluate(kT0);
  std::vector<Flag> flags = FlagsOf(a, kRule);
  ASSERT_EQ(flags.size(), 1u);
  EXPECT_EQ(flags[0].severity(), provenance::v1::SEVERITY_HIGH);
  EXPECT_TRUE(absl::StrContains(flags[0].evidence(0).sentence(),
                                "the driver names it \"NVIDIA H100 80GB HBM3\""))
      << flags[0].evidence(0).sentence();
}

TEST(HardwareRelabelledTest, ACardWithoutIdentityIsJudgedOnItsNodesDeclaredSlot) {
  Analyzer a(TestPolicy());
  a.SetInventory(Inventory({Row("SN1", "n1")}), 1);
  Card anonymous = Ascend("[N/A]");  // NVML's placeholder: no identity at all
  a.Observe(HwReport("n1", kT0, {anonymous}));
  a.Evaluate(kT0);
  std::vector<Flag> flags = FlagsOf(a, kRule);
  ASSERT_EQ(flags.size(), 1u);
  EXPECT_EQ(flags[0].subject(), "accelerator:n1/0000:3b:00.0");
  EXPECT_TRUE(absl::StrContains(flags[0].summary(), "judged on its slot")) << flags[0].summary();
  EXPECT_TRUE(FlagsOf(a, "hardware_undeclared").empty());  // it fills the declared slot
}

TEST(HardwareRelabelledTest, AnInventoryThatDeclaresTheTruthResolvesIt) {
  Analyzer a(TestPolicy());
  a.SetInventory(Inventory({Row("SN1", "n1")}), 1);
  a.Observe(HwReport("n1", kT0, {Ascend("SN1")}));
  a.Evaluate(kT0);
  ASSERT_EQ(FlagsOf(a, kRule).size(), 1u);
  auto corrected = Row("SN1", "n1", "", provenance::v1::INVENTORY_STATUS_IN_SERVICE, 2);
  corrected.mutable_declared()->set_declared_model("Ascend 910B");
  corrected.mutable_declared()->set_vendor_id(0x19e5);
  corrected.mutable_declared()->set_device_id(0xd802);
  corrected.mutable_declared()->set_declared_model("");  // the IDs say it all
  a.SetInventory(Inventory({corrected}), 2);
  a.Evaluate(kT0 + absl::Minutes(1));
  std::vector<Flag> flags = FlagsOf(a, kRule);
  ASSERT_EQ(flags.size(), 1u);
  EXPECT_EQ(flags[0].status(), provenance::v1::FLAG_STATUS_RESOLVED);
  EXPECT_EQ(flags[0].evidence(flags[0].evidence_size() - 1).kind(), "reconciled");
}

TEST(HardwareRelabelledTest, NothingWithoutAnInventory) {
  Analyzer a(TestPolicy());
  a.Observe(HwReport("n1", kT0, {Ascend("SN1")}));
  a.Evaluate(kT0);
  EXPECT_TRUE(FlagsOf(a, kRule).empty());
  EXPECT_EQ(FlagsOf(a, "restricted_hardware:").size(), 1u);  // the chip itself still is
}

}  // namespace
}  // namespace prov::server

namespace prov::server {
namespace {

TEST(HardwareRelabelledTest, SlotsMatchCardsWithoutSerialsByPciIdFirst) {
  Analyzer a(TestPolicy());
  auto h100 = Row("SN-H", "n1");
  h100.mutable_declared()->set_declared_model("H100 SXM5 80GB");
  h100.mutable_declared()->set_device_id(0x2330);
  // The H100 row is listed first, the A100 sits at the lower PCI address; neither has a serial.
  a.SetInventory(Inventory({h100, Row("SN-A", "n1")}), 1);
  a.Observe(HwReport(
      "n1", kT0,
      {Card{.serial = "[N/A]", .pci = "0000:18:00.0"}, Card{.serial = "[N/A]",
                                                            .pci = "0000:3b:00.0",
                                                            .device_id = 0x2330,
                                                            .model = "NVIDIA H100 80GB HBM3"}}));
  a.Evaluate(kT0);
  EXPECT_TRUE(FlagsOf(a, "hardware_relabelled").empty());
}

}  // namespace
}  // namespace prov::server
