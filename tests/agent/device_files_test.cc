#include "agent/collect/device_files.h"

#include "gtest/gtest.h"
#include "tests/agent/fixture_tree.h"

namespace prov::agent {
namespace {

using provenance::v1::Accelerator;

Accelerator Acc(const std::string& pci, const std::string& vendor, int minor = -1) {
  Accelerator a;
  a.set_pci_address(pci);
  a.set_vendor(vendor);
  a.set_device_minor(minor);
  return a;
}

TEST(DeviceFilesTest, Classify) {
  EXPECT_EQ(ClassifyDevicePath("/dev/nvidia7"), (DeviceRef{DeviceKind::kNvidia, 7}));
  EXPECT_EQ(ClassifyDevicePath("/dev/nvidia-uvm").kind, DeviceKind::kNvidiaControl);
  EXPECT_EQ(ClassifyDevicePath("/dev/nvidia-caps/nvidia-cap1").kind, DeviceKind::kNvidiaControl);
  EXPECT_EQ(ClassifyDevicePath("/dev/nvidiax").kind, DeviceKind::kNone);
  EXPECT_EQ(ClassifyDevicePath("/dev/dri/card0").kind, DeviceKind::kNone);
  EXPECT_EQ(ClassifyDevicePath("/dev/accel/accel0"), (DeviceRef{DeviceKind::kAccel, 0}));
  EXPECT_EQ(ClassifyDevicePath("/dev/davinci12"), (DeviceRef{DeviceKind::kDavinci, 12}));
  EXPECT_EQ(ClassifyDevicePath("/tmp/nvidia0").kind, DeviceKind::kNone);
}

TEST(DeviceFilesTest, MapsEachVendor) {
  testing::FixtureTree t;
  t.Link("sys/class/drm/renderD129/device", "../../../0000:4b:00.0");
  t.Link("sys/class/accel/accel1/device", "../../../0000:6b:00.0");
  std::vector<Accelerator> accs = {
      Acc("0000:3b:00.0", "nvidia", 0), Acc("0000:3c:00.0", "nvidia", 1),
      Acc("0000:4a:00.0", "amd"),       Acc("0000:4b:00.0", "amd"),
      Acc("0000:5a:00.0", "huawei"),    Acc("0000:5b:00.0", "huawei"),
      Acc("0000:6a:00.0", "habana"),    Acc("0000:6b:00.0", "habana")};
  auto map = [&](DeviceRef ref, std::string* note) {
    return MapDeviceToAccelerators(ref, t.sys(), accs, note);
  };
  std::string note;
  EXPECT_EQ(map({DeviceKind::kNvidia, 1}, &note), std::vector<std::string>{"0000:3c:00.0"});
  EXPECT_TRUE(note.empty());
  EXPECT_EQ(map({DeviceKind::kNvidia, 9}, &note).size(), 2u);  // unknown minor: all NVIDIA
  EXPECT_NE(note.find("charged to all NVIDIA GPUs"), std::string::npos);
  note.clear();
  EXPECT_TRUE(map({DeviceKind::kNvidiaControl, -1}, &note).empty());
  EXPECT_EQ(map({DeviceKind::kAmdRender, 129}, &note), std::vector<std::string>{"0000:4b:00.0"});
  EXPECT_TRUE(note.empty());
  EXPECT_EQ(map({DeviceKind::kAmdRender, 130}, &note).size(), 2u);
  EXPECT_NE(note.find("AMD"), std::string::npos);
  note.clear();
  EXPECT_EQ(map({DeviceKind::kAmdKfd, -1}, &note).size(), 2u);
  EXPECT_NE(note.find("/dev/kfd"), std::string::npos);
  note.clear();
  EXPECT_EQ(map({DeviceKind::kAccel, 1}, &note), std::vector<std::string>{"0000:6b:00.0"});
  EXPECT_TRUE(note.empty());
  EXPECT_EQ(map({DeviceKind::kAccel, 0}, &note).size(), 2u);
  note.clear();
  EXPECT_EQ(map({DeviceKind::kDavinci, 0}, &note),
            (std::vector<std::string>{"0000:5a:00.0", "0000:5b:00.0"}));
  EXPECT_NE(note.find("Huawei"), std::string::npos);
}

}  // namespace
}  // namespace prov::agent
