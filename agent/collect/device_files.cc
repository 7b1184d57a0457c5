#include "agent/collect/device_files.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/fs.h"

namespace prov::agent {
namespace {

bool NumberAfter(absl::string_view path, absl::string_view prefix, int* n) {
  if (!absl::ConsumePrefix(&path, prefix) || path.empty()) return false;
  for (char c : path) {
    if (c < '0' || c > '9') return false;
  }
  return absl::SimpleAtoi(path, n);
}

std::string LinkedPci(const std::string& sysfs_root, const std::string& rel) {
  auto link = ReadSymlink(JoinPath(sysfs_root, rel));
  if (!link.ok()) return "";
  size_t slash = link->rfind('/');
  return slash == std::string::npos ? *link : link->substr(slash + 1);
}

}  // namespace

DeviceRef ClassifyDevicePath(absl::string_view path) {
  int n = -1;
  if (NumberAfter(path, "/dev/nvidia", &n)) return {DeviceKind::kNvidia, n};
  if (path == "/dev/nvidiactl" || path == "/dev/nvidia-uvm" || path == "/dev/nvidia-uvm-tools" ||
      path == "/dev/nvidia-modeset" || absl::StartsWith(path, "/dev/nvidia-caps/")) {
    return {DeviceKind::kNvidiaControl, -1};
  }
  if (NumberAfter(path, "/dev/dri/renderD", &n)) return {DeviceKind::kAmdRender, n};
  if (path == "/dev/kfd") return {DeviceKind::kAmdKfd, -1};
  if (NumberAfter(path, "/dev/accel/accel", &n) || NumberAfter(path, "/dev/accel", &n)) {
    return {DeviceKind::kAccel, n};
  }
  if (NumberAfter(path, "/dev/davinci", &n)) return {DeviceKind::kDavinci, n};
  if (path == "/dev/davinci_manager" || path == "/dev/devmm_svm" || path == "/dev/hisi_hdc") {
    return {DeviceKind::kDavinci, -1};
  }
  return {};
}

std::string VendorOf(DeviceKind kind) {
  switch (kind) {
    case DeviceKind::kNvidia:
    case DeviceKind::kNvidiaControl:
      return "nvidia";
    case DeviceKind::kAmdRender:
    case DeviceKind::kAmdKfd:
      return "amd";
    case DeviceKind::kDavinci:
      return "huawei";
    case DeviceKind::kAccel:
    case DeviceKind::kNone:
      return "";
  }
  return "";
}

std::vector<std::string> MapDeviceToAccelerators(
    const DeviceRef& ref, const std::string& sysfs_root,
    const std::vector<provenance::v1::Accelerator>& accelerators, std::string* note) {
  std::vector<std::string> out;
  auto all_of = [&](std::initializer_list<absl::string_view> vendors) {
    for (const auto& a : accelerators) {
      for (absl::string_view v : vendors) {
        if (a.vendor() == v) out.push_back(a.pci_address());
      }
    }
  };
  auto pci_present = [&](const std::string& pci) {
    for (const auto& a : accelerators) {
      if (a.pci_address() == pci) return true;
    }
    return false;
  };
  switch (ref.kind) {
    case DeviceKind::kNone:
    case DeviceKind::kNvidiaControl:
      return out;
    case DeviceKind::kNvidia:
      for (const auto& a : accelerators) {
        if (a.vendor() == "nvidia" && a.device_minor() == ref.index) out.push_back(a.pci_address());
      }
      if (out.empty()) {
        all_of({"nvidia"});
        *note = absl::StrCat("/dev/nvidia", ref.index,
                             " matches no known GPU minor; charged to all NVIDIA GPUs");
      }
      return out;
    case DeviceKind::kAmdRender: {
      std::string pci =
          LinkedPci(sysfs_root, absl::StrCat("class/drm/renderD", ref.index, "/device"));
      if (!pci.empty() && pci_present(pci)) return {pci};
      all_of({"amd"});
      *note = absl::StrCat("/dev/dri/renderD", ref.index,
                           " not linked to a known PCI device in sysfs; charged to all AMD GPUs");
      return out;
    }
    case DeviceKind::kAmdKfd:
      all_of({"amd"});
      *note = "/dev/kfd is shared by all AMD GPUs; charged to all AMD GPUs";
      return out;
    case DeviceKind::kAccel: {
      std::string pci =
          LinkedPci(sysfs_root, absl::StrCat("class/accel/accel", ref.index, "/device"));
      if (!pci.empty() && pci_present(pci)) return {pci};
      all_of({"habana", "google", "unknown"});
      *note = absl::StrCat("accel", ref.index,
                           " not linked to a known PCI device in sysfs; charged to all "
                           "Habana/TPU/unknown accelerators");
      return out;
    }
    case DeviceKind::kDavinci:
      all_of({"huawei"});
      *note =
          "Ascend /dev/davinci* ids are not mapped to PCI addresses; charged to all Huawei "
          "accelerators";
      return out;
  }
  return out;
}

}  // namespace prov::agent
