// Nvml: the narrow slice of NVIDIA's management library (NVML) that prov-agent uses, as a C++
// interface so collectors can be tested with FakeNvml and run on machines without a driver.
//
//   absl::StatusOr<std::unique_ptr<Nvml>> nvml = LoadNvml("libnvidia-ml.so.1");  // nvml_dl.h
//   if (!nvml.ok()) { log "NVML unavailable: " << nvml.status().message(); carry on without it }
//   absl::StatusOr<NvmlDeviceInfo> info = (*nvml)->DeviceInfo("0000:3b:00.0");
//
// Devices are addressed by PCI bus id ("0000:3b:00.0"), the key the PCI scanner already has, so
// NVML's own enumeration order never matters. Every getter is optional on the driver side: a field
// NVML refuses (NOT_SUPPORTED on older boards) is left empty/nullopt, never invented.
//
// Thread-safety: implementations are safe to call from one collector thread at a time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace prov::agent {

struct NvmlProcess {
  uint32_t pid = 0;
  std::optional<uint64_t> used_memory_bytes;  // nullopt when NVML says "not available"
};

struct NvmlDeviceInfo {
  std::string uuid;  // "GPU-..."; empty when not given
  std::string serial;
  std::string board_part_number;
  std::string name;  // marketing name, e.g. "NVIDIA H100 80GB HBM3"
  std::optional<uint64_t> memory_total_bytes;
  std::optional<uint64_t> memory_used_bytes;
  std::optional<uint32_t> utilization_gpu_pct;  // 0..100, coarse "busy" fraction
  std::optional<uint32_t> power_milliwatts;
  std::optional<uint64_t> energy_millijoules;  // since driver load
  std::optional<int32_t> minor_number;         // /dev/nvidia<minor>
  std::vector<NvmlProcess> compute_processes = {};
};

class Nvml {
 public:
  virtual ~Nvml() = default;
  virtual absl::StatusOr<uint32_t> DeviceCount() = 0;
  // NOT_FOUND when NVML has no device at that PCI bus id.
  virtual absl::StatusOr<NvmlDeviceInfo> DeviceInfo(const std::string& pci_bus_id) = 0;
};

}  // namespace prov::agent
