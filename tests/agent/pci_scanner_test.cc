#include "agent/collect/pci_scanner.h"

#include <map>

#include "gtest/gtest.h"
#include "tests/agent/fixture_tree.h"

namespace prov::agent {
namespace {

using provenance::v1::Accelerator;
using testing::FixtureTree;

std::map<std::string, Accelerator> Scan(const FixtureTree& t, std::vector<std::string>* errors) {
  std::map<std::string, Accelerator> out;
  for (auto& a : ScanPciAccelerators(t.sys(), AcceleratorCatalog::Builtin(), errors)) {
    out[a.pci_address()] = a;
  }
  return out;
}

TEST(PciScannerTest, EveryVendorFoundSwitchesAndNicsExcluded) {
  FixtureTree t;
  t.AddPci("0000:3b:00.0", 0x10de, 0x2330, 0x030200, "nvidia", 0x10de, 0x16c1);  // H100 SXM5
  t.AddPci("0000:07:00.0", 0x10de, 0x22a3, 0x068000, "nvidia");      // NVSwitch (bridge class)
  t.AddPci("0000:08:00.0", 0x10de, 0x22a3, 0x030200, "nvidia");      // NVSwitch even if 3D class
  t.AddPci("0000:4a:00.0", 0x1002, 0x74a1, 0x120000, "amdgpu");      // MI300X
  t.AddPci("0000:5a:00.0", 0x19e5, 0xd802, 0x120000, "devdrv");      // Ascend 910B
  t.AddPci("0000:5b:00.0", 0x19e5, 0xd803, 0x120000, "devdrv");      // unknown Ascend (910C?)
  t.AddPci("0000:5c:00.0", 0x19e5, 0x0222, 0x020000, "hinic");       // Huawei NIC
  t.AddPci("0000:6a:00.0", 0x1da3, 0x1020, 0x120000, "habanalabs");  // Gaudi2
  t.AddPci("0000:00:04.0", 0x1ae0, 0x0062, 0x120000, "vfio-pci");    // TPU v5p
  t.AddPci("0000:7a:00.0", 0x1eee, 0x0001, 0x120000);                // unknown vendor accel
  t.AddPci("0000:7b:00.0", 0x8086, 0x1572, 0x020000, "i40e");        // ordinary NIC
  t.AddPci("0000:7c:00.0", 0x1234, 0x1111, 0x030000);                // VGA of unknown vendor
  std::vector<std::string> errors;
  auto accs = Scan(t, &errors);
  EXPECT_TRUE(errors.empty());
  ASSERT_EQ(accs.size(), 7u);
  EXPECT_FALSE(accs.count("0000:07:00.0"));
  EXPECT_FALSE(accs.count("0000:08:00.0"));
  EXPECT_FALSE(accs.count("0000:5c:00.0"));
  EXPECT_FALSE(accs.count("0000:7b:00.0"));
  EXPECT_FALSE(accs.count("0000:7c:00.0"));

  const Accelerator& h100 = accs["0000:3b:00.0"];
  EXPECT_EQ(h100.vendor(), "nvidia");
  EXPECT_EQ(h100.model(), "H100 SXM5 80GB");
  EXPECT_TRUE(h100.model_known());
  EXPECT_EQ(h100.family(), "hopper");
  EXPECT_EQ(h100.class_code(), 0x030200u);
  EXPECT_EQ(h100.subsystem_vendor_id(), 0x10deu);
  EXPECT_EQ(h100.subsystem_device_id(), 0x16c1u);
  EXPECT_EQ(h100.driver(), "nvidia");
  EXPECT_EQ(h100.device_minor(), -1);
  EXPECT_EQ(h100.memory_total_bytes(), 80ull << 30);
  EXPECT_EQ(h100.fact_sources().at("vendor_id"), provenance::v1::FACT_SOURCE_PCI_SYSFS);
  EXPECT_EQ(h100.fact_sources().at("model"), provenance::v1::FACT_SOURCE_CATALOG);
  EXPECT_EQ(h100.fact_sources().at("memory_total_bytes"), provenance::v1::FACT_SOURCE_CATALOG);
  EXPECT_EQ(h100.fact_sources().at("driver"), provenance::v1::FACT_SOURCE_PCI_SYSFS);

  EXPECT_EQ(accs["0000:4a:00.0"].model(), "Instinct MI300X");
  EXPECT_EQ(accs["0000:5a:00.0"].model(), "Ascend 910B");
  EXPECT_EQ(accs["0000:6a:00.0"].vendor(), "habana");
  EXPECT_EQ(accs["0000:6a:00.0"].model(), "Gaudi2");
  EXPECT_EQ(accs["0000:00:04.0"].vendor(), "google");
  EXPECT_EQ(accs["0000:00:04.0"].model(), "TPU v5p");

  const Accelerator& ascend = accs["0000:5b:00.0"];
  EXPECT_EQ(ascend.vendor(), "huawei");
  EXPECT_EQ(ascend.family(), "ascend");
  EXPECT_FALSE(ascend.model_known());
  EXPECT_EQ(ascend.device_id(), 0xd803u);

  const Accelerator& unknown = accs["0000:7a:00.0"];
  EXPECT_EQ(unknown.vendor(), "unknown");
  EXPECT_FALSE(unknown.model_known());
  EXPECT_EQ(unknown.model(), "");
  EXPECT_EQ(unknown.vendor_id(), 0x1eeeu);
  EXPECT_EQ(unknown.device_id(), 0x0001u);
  EXPECT_EQ(unknown.driver(), "");
}

TEST(PciScannerTest, ClassRules) {
  const auto& c = AcceleratorCatalog::Builtin();
  EXPECT_TRUE(IsAcceleratorDevice(0x038000, 0x1eee, 1, c));        // other display controller
  EXPECT_TRUE(IsAcceleratorDevice(0x0b4000, 0x1eee, 1, c));        // co-processor
  EXPECT_TRUE(IsAcceleratorDevice(0x030000, 0x10de, 0x9999, c));   // VGA of a known vendor
  EXPECT_FALSE(IsAcceleratorDevice(0x030000, 0x1234, 1, c));       // VGA of an unknown vendor
  EXPECT_TRUE(IsAcceleratorDevice(0x020000, 0x10de, 0x2330, c));   // exact catalog non-switch
  EXPECT_FALSE(IsAcceleratorDevice(0x020000, 0x19e5, 0x0222, c));  // Huawei NIC
  EXPECT_FALSE(IsAcceleratorDevice(0x030200, 0x10de, 0x22a3, c));  // NVSwitch
}

TEST(PciScannerTest, MalformedDeviceSkippedWithError) {
  FixtureTree t;
  t.AddPci("0000:3b:00.0", 0x10de, 0x2330, 0x030200, "nvidia");
  t.Write("sys/bus/pci/devices/0000:3c:00.0/vendor", "garbage\n");
  t.Write("sys/bus/pci/devices/0000:3c:00.0/device", "0x2330\n");
  t.Write("sys/bus/pci/devices/0000:3c:00.0/class", "0x030200\n");
  std::vector<std::string> errors;
  auto accs = Scan(t, &errors);
  EXPECT_EQ(accs.size(), 1u);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("0000:3c:00.0/vendor: not a hex number"), std::string::npos)
      << errors[0];
}

TEST(PciScannerTest, NoSysfsMeansNoAcceleratorsAndAnError) {
  FixtureTree t;
  std::vector<std::string> errors;
  EXPECT_TRUE(Scan(t, &errors).empty());
  EXPECT_EQ(errors.size(), 1u);
}

}  // namespace
}  // namespace prov::agent
