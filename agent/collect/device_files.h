// Device files: which accelerator a path under /dev that a process holds open belongs to.
//
//   DeviceRef ref = ClassifyDevicePath("/dev/nvidia3");   // {kNvidia, index 3}
//   std::vector<std::string> pcis = MapDeviceToAccelerators(ref, "/sys", accelerators, &note);
//
// Mapping per vendor (documented here because it decides which GPUs a workload is charged for):
//  - NVIDIA /dev/nvidia<N>: N is the device minor; the GPU whose device_minor (NVML or
//    /proc/driver/nvidia/gpus/<pci>/information) is N. /dev/nvidiactl, nvidia-uvm, nvidia-modeset,
//    nvidia-caps/*: node-level, no specific GPU.
//  - AMD /dev/dri/renderD<N>: <sysfs>/class/drm/renderD<N>/device links to the PCI device.
//    /dev/kfd is shared by all AMD GPUs (compute queues are opened through it): node-level, charged
//    to every AMD accelerator unless a renderD node narrows it.
//  - Habana, Google TPU, generic: /dev/accel/accel<N> or /dev/accel<N>:
//    <sysfs>/class/accel/accel<N>/device links to the PCI device.
//  - Huawei Ascend /dev/davinci<N>: N is the driver's logical id, which sysfs does not map to a PCI
//    address; charged to every Huawei accelerator on the node.
// When a mapping fails the reference is charged to every accelerator of that vendor (vendor set
// for accel nodes: habana, google, unknown) and *note says so.
#pragma once

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "provenance/v1/report.pb.h"

namespace prov::agent {

enum class DeviceKind { kNone, kNvidia, kNvidiaControl, kAmdRender, kAmdKfd, kAccel, kDavinci };

struct DeviceRef {
  DeviceKind kind = DeviceKind::kNone;
  int index = -1;  // N in nvidia<N>, renderD<N>, accel<N>, davinci<N>; -1 for node-level nodes

  bool operator==(const DeviceRef&) const = default;
};

// kNone for paths that are not accelerator device files (including /dev/davinci_manager, which
// every Ascend process opens; it marks Ascend use but is node-level: returned as kDavinci, -1).
DeviceRef ClassifyDevicePath(absl::string_view path);

// Vendor name ("nvidia", "amd", "huawei") the kind belongs to; empty for kAccel (several vendors).
std::string VendorOf(DeviceKind kind);

// PCI addresses the reference is charged to. Node-level NVIDIA control nodes map to nothing.
std::vector<std::string> MapDeviceToAccelerators(
    const DeviceRef& ref, const std::string& sysfs_root,
    const std::vector<provenance::v1::Accelerator>& accelerators, std::string* note);

}  // namespace prov::agent
