// SMBIOS identity and driver sysfs serials (agent/collect/hardware_identity.h) on fixture trees,
// and how they land in a collected report next to NVML's facts.
#include "agent/collect/hardware_identity.h"

#include <net/if.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "agent/collect/node_collector.h"
#include "agent/collect/pci_scanner.h"
#include "agent/nvml/fake_nvml.h"
#include "common/testing/fake_clock.h"
#include "common/utf8.h"
#include "gtest/gtest.h"
#include "tests/agent/fixture_tree.h"

namespace prov::agent {
namespace {

using provenance::v1::Accelerator;
using provenance::v1::NodeReport;
using testing::FixtureTree;

constexpr auto kDmi = provenance::v1::FACT_SOURCE_DMI_SYSFS;
constexpr auto kDriver = provenance::v1::FACT_SOURCE_DRIVER_SYSFS;
constexpr auto kNvml = provenance::v1::FACT_SOURCE_NVML;

void AddDmi(FixtureTree& t) {
  t.Write("sys/class/dmi/id/product_uuid", "4C4C4544-0042-3510-8052-B4C04F384D32\n");
  t.Write("sys/class/dmi/id/product_serial", "7X2Y3Z2\n");
  t.Write("sys/class/dmi/id/board_serial", ".7X2Y3Z2.CNFCP0012300AB.\n");
  t.Write("sys/class/dmi/id/chassis_serial", "7X2Y3Z2\n");
  t.Write("sys/class/dmi/id/product_name", "PowerEdge XE9680\n");
  t.Write("sys/class/dmi/id/sys_vendor", "Dell Inc.\n");
  t.Write("sys/class/dmi/id/board_name", "0W8MYC\n");
}

TEST(HardwareIdentityTest, ReadsEverySmbiosFactWithItsSource) {
  FixtureTree t;
  AddDmi(t);
  std::vector<std::string> errors;
  auto hw = ReadDmiIdentity(t.sys(), &errors);
  ASSERT_TRUE(hw.has_value());
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(hw->system_uuid(), "4c4c4544-0042-3510-8052-b4c04f384d32") << "one spelling";
  EXPECT_EQ(hw->product_serial(), "7X2Y3Z2");
  EXPECT_EQ(hw->board_serial(), ".7X2Y3Z2.CNFCP0012300AB.");
  EXPECT_EQ(hw->chassis_serial(), "7X2Y3Z2");
  EXPECT_EQ(hw->product_name(), "PowerEdge XE9680");
  EXPECT_EQ(hw->sys_vendor(), "Dell Inc.");
  EXPECT_EQ(hw->board_name(), "0W8MYC");
  ASSERT_EQ(hw->fact_sources_size(), 7);
  for (const auto& [field, source] : hw->fact_sources()) EXPECT_EQ(source, kDmi) << field;
}

TEST(HardwareIdentityTest, NoSmbiosMeansNoHardwareAndNoError) {
  FixtureTree t;
  t.Write("sys/bus/pci/devices/.keep", "");
  std::vector<std::string> errors;
  EXPECT_FALSE(ReadDmiIdentity(t.sys(), &errors).has_value());
  EXPECT_TRUE(errors.empty()) << "a VM without SMBIOS is not a collector failure";
}

TEST(HardwareIdentityTest, PlaceholdersAreDroppedNeverReported) {
  FixtureTree t;
  t.Write("sys/class/dmi/id/product_uuid", "00000000-0000-0000-0000-000000000000\n");
  t.Write("sys/class/dmi/id/product_serial", "To Be Filled By O.E.M.\n");
  t.Write("sys/class/dmi/id/board_serial", "Default string\n");
  t.Write("sys/class/dmi/id/chassis_serial", "Not Specified\n");
  t.Write("sys/class/dmi/id/product_name", "  \n");
  t.Write("sys/class/dmi/id/sys_vendor", "Supermicro\n");
  std::vector<std::string> errors;
  auto hw = ReadDmiIdentity(t.sys(), &errors);
  ASSERT_TRUE(hw.has_value());
  EXPECT_EQ(hw->system_uuid(), "");
  EXPECT_EQ(hw->product_serial(), "");
  EXPECT_EQ(hw->board_serial(), "");
  EXPECT_EQ(hw->chassis_serial(), "");
  EXPECT_EQ(hw->product_name(), "");
  EXPECT_EQ(hw->sys_vendor(), "Supermicro");
  EXPECT_EQ(hw->fact_sources_size(), 1);
  EXPECT_TRUE(IsPlaceholderIdentity("FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF"));
  EXPECT_TRUE(IsPlaceholderIdentity("0123456789"));
  EXPECT_FALSE(IsPlaceholderIdentity("0F0F-1"));
  EXPECT_FALSE(IsPlaceholderIdentity("1324721000123"));
}

TEST(HardwareIdentityTest, AFileThatExistsButCannotBeReadIsNamedInAnError) {
  FixtureTree t;
  AddDmi(t);
  // Tests may run as root, which reads 0400 files: a directory in the file's place fails the
  // same read path (the agent's message for EACCES is checked through the permission branch in
  // non-root runs below).
  std::filesystem::remove(t.Path("sys/class/dmi/id/product_uuid"));
  std::filesystem::create_directories(t.Path("sys/class/dmi/id/product_uuid"));
  bool root = ::geteuid() == 0;
  if (!root) ::chmod(t.Path("sys/class/dmi/id/board_serial").c_str(), 0);
  std::vector<std::string> errors;
  auto hw = ReadDmiIdentity(t.sys(), &errors);
  ASSERT_TRUE(hw.has_value());
  EXPECT_EQ(hw->system_uuid(), "") << "absent, never invented";
  EXPECT_FALSE(hw->fact_sources().contains("system_uuid"));
  ASSERT_EQ(errors.size(), root ? 1u : 2u);
  EXPECT_EQ(errors[0].rfind("product_uuid unreadable (", 0), 0u) << errors[0];
  if (!root) {
    EXPECT_EQ(errors[1], "board_serial unreadable (permission denied; the agent is not root)");
    EXPECT_EQ(hw->board_serial(), "");
  }
  EXPECT_EQ(hw->product_name(), "PowerEdge XE9680");
}

TEST(HardwareIdentityTest, DriverSysfsSerialsForAmdAndHabana) {
  FixtureTree t;
  t.AddPci("0000:4a:00.0", 0x1002, 0x74a1, 0x120000, "amdgpu");      // MI300X
  t.AddPci("0000:6a:00.0", 0x1da3, 0x1020, 0x120000, "habanalabs");  // Gaudi2
  t.AddPci("0000:5a:00.0", 0x19e5, 0xd802, 0x120000, "devdrv");      // Ascend: nothing there
  t.Write("sys/bus/pci/devices/0000:4a:00.0/serial_number", "692251001234\n");
  t.Write("sys/bus/pci/devices/0000:4a:00.0/unique_id", "a1b2c3d4e5f60708\n");
  t.Write("sys/bus/pci/devices/0000:6a:00.0/serial_number", "AN12345678\n");
  std::vector<std::string> errors;
  std::map<std::string, Accelerator> accs;
  for (auto& a : ScanPciAccelerators(t.sys(), AcceleratorCatalog::Builtin(), &errors)) {
    AddDriverSysfsIdentity(t.sys(), &a, &errors);
    accs[a.pci_address()] = a;
  }
  EXPECT_TRUE(errors.empty());
  const Accelerator& mi300 = accs.at("0000:4a:00.0");
  EXPECT_EQ(mi300.serial(), "692251001234");
  EXPECT_EQ(mi300.uuid(), "a1b2c3d4e5f60708");
  EXPECT_EQ(mi300.fact_sources().at("serial"), kDriver);
  EXPECT_EQ(mi300.fact_sources().at("uuid"), kDriver);
  const Accelerator& gaudi = accs.at("0000:6a:00.0");
  EXPECT_EQ(gaudi.serial(), "AN12345678");
  EXPECT_EQ(gaudi.uuid(), "");
  EXPECT_FALSE(gaudi.fact_sources().contains("uuid"));
  const Accelerator& ascend = accs.at("0000:5a:00.0");
  EXPECT_EQ(ascend.serial(), "");
  EXPECT_FALSE(ascend.fact_sources().contains("serial"));
}

TEST(HardwareIdentityTest, CollectedReportCarriesSmbiosAndEverySourcesSerials) {
  FixtureTree t;
  AddDmi(t);
  t.AddBoot("2431f2f7-9d93-448f-9344-e16c78ae6abe", 1'700'000'000);
  t.AddPci("0000:3b:00.0", 0x10de, 0x2330, 0x030200, "nvidia");
  t.AddPci("0000:4a:00.0", 0x1002, 0x74a1, 0x120000, "amdgpu");
  t.Write("sys/bus/pci/devices/0000:4a:00.0/serial_number", "692251001234\n");
  t.AddNvidiaInfo("0000:3b:00.0", 0, "GPU-procfs-uuid");
  FakeNvml nvml;
  nvml.AddDevice(
      "0000:3b:00.0",
      {.uuid = "GPU-8f1c", .serial = "1654923004511", .board_part_number = "692-2G520-0200-000"});
  NodeCollectorOptions o;
  o.sysfs_root = t.sys();
  o.procfs_root = t.proc();
  o.node_id = "node-1";
  FixedInterfaceAddressSource addresses{{{"eth0", AF_INET, "10.0.0.5", IFF_UP}}};
  o.address_source = &addresses;
  FakeClock clock{absl::FromUnixSeconds(1'700'000'123)};
  NodeCollector collector(o, &nvml, clock);
  NodeReport r = collector.Collect();
  ASSERT_TRUE(r.node().has_hardware());
  EXPECT_EQ(r.node().hardware().system_uuid(), "4c4c4544-0042-3510-8052-b4c04f384d32");
  EXPECT_EQ(r.node().hardware().chassis_serial(), "7X2Y3Z2");
  std::map<std::string, Accelerator> accs;
  for (const auto& a : r.accelerators()) accs[a.pci_address()] = a;
  const Accelerator& h100 = accs.at("0000:3b:00.0");
  EXPECT_EQ(h100.uuid(), "GPU-8f1c") << "NVML wins over the driver's procfs";
  EXPECT_EQ(h100.serial(), "1654923004511");
  EXPECT_EQ(h100.board_part_number(), "692-2G520-0200-000");
  EXPECT_EQ(h100.fact_sources().at("uuid"), kNvml);
  EXPECT_EQ(h100.fact_sources().at("serial"), kNvml);
  EXPECT_EQ(h100.fact_sources().at("board_part_number"), kNvml);
  EXPECT_EQ(accs.at("0000:4a:00.0").serial(), "692251001234");
  EXPECT_EQ(accs.at("0000:4a:00.0").fact_sources().at("serial"), kDriver);
  for (const auto& e : r.health().collector_errors()) {
    EXPECT_NE(e.collector(), "dmi") << e.message();
  }
}

TEST(HardwareIdentityTest, UnreadableDmiIsACollectorErrorAndHardwareStaysPartial) {
  FixtureTree t;
  AddDmi(t);
  std::filesystem::remove(t.Path("sys/class/dmi/id/board_serial"));
  std::filesystem::create_directories(t.Path("sys/class/dmi/id/board_serial"));
  t.AddBoot("2431f2f7-9d93-448f-9344-e16c78ae6abe", 1'700'000'000);
  NodeCollectorOptions o;
  o.sysfs_root = t.sys();
  o.procfs_root = t.proc();
  o.node_id = "node-1";
  FixedInterfaceAddressSource addresses{{{"eth0", AF_INET, "10.0.0.5", IFF_UP}}};
  o.address_source = &addresses;
  FakeClock clock{absl::FromUnixSeconds(1'700'000'123)};
  NodeCollector collector(o, nullptr, clock);
  NodeReport r = collector.Collect();
  EXPECT_EQ(r.node().hardware().board_serial(), "");
  EXPECT_EQ(r.node().hardware().product_serial(), "7X2Y3Z2");
  bool named = false;
  for (const auto& e : r.health().collector_errors()) {
    if (e.collector() == "dmi" && e.message().rfind("board_serial unreadable", 0) == 0)
      named = true;
  }
  EXPECT_TRUE(named) << r.health().DebugString();
}

TEST(HardwareIdentityTest, InvalidUtf8AndOversizedSmbiosStringsAreRepairedBeforeTheWire) {
  FixtureTree t;
  t.Write("sys/class/dmi/id/product_name", "Rack\xff\xfeServer\n");
  t.Write("sys/class/dmi/id/board_serial", std::string(300, 'S') + "\n");
  t.AddBoot("2431f2f7-9d93-448f-9344-e16c78ae6abe", 1'700'000'000);
  NodeCollectorOptions o;
  o.sysfs_root = t.sys();
  o.procfs_root = t.proc();
  o.node_id = "node-1";
  FixedInterfaceAddressSource addresses{{{"eth0", AF_INET, "10.0.0.5", IFF_UP}}};
  o.address_source = &addresses;
  FakeClock clock{absl::FromUnixSeconds(1'700'000'123)};
  NodeCollector collector(o, nullptr, clock);
  NodeReport r = collector.Collect();
  EXPECT_TRUE(IsValidUtf8(r.node().hardware().product_name()));
  EXPECT_EQ(r.node().hardware().board_serial().size(), 255u);
  EXPECT_EQ(r.health().strings_repaired(), 1u);
  EXPECT_EQ(r.health().strings_truncated(), 1u);
  NodeReport back;
  EXPECT_TRUE(back.ParseFromString(r.SerializeAsString()));
}

}  // namespace
}  // namespace prov::agent
