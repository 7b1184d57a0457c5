// FakeNvml: an in-memory Nvml for unit tests (the DCGM "nvml-injection" idea, in miniature).
//
//   FakeNvml nvml;
//   nvml.AddDevice("0000:3b:00.0", {.uuid = "GPU-1", .minor_number = 0});
//   collector options.nvml = &nvml;
#pragma once

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "agent/nvml/nvml.h"

namespace prov::agent {

class FakeNvml final : public Nvml {
 public:
  void AddDevice(const std::string& pci_bus_id, NvmlDeviceInfo info) {
    devices_[pci_bus_id] = std::move(info);
  }
  absl::StatusOr<uint32_t> DeviceCount() override { return static_cast<uint32_t>(devices_.size()); }
  absl::StatusOr<NvmlDeviceInfo> DeviceInfo(const std::string& pci_bus_id) override {
    auto it = devices_.find(pci_bus_id);
    if (it == devices_.end()) {
      return absl::NotFoundError(absl::StrCat("no NVML device at ", pci_bus_id));
    }
    return it->second;
  }

 private:
  std::map<std::string, NvmlDeviceInfo> devices_;
};

}  // namespace prov::agent
