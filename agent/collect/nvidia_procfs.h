// NVIDIA driver procfs: minor number and UUID of a GPU without NVML, from
// <procfs-root>/driver/nvidia/gpus/<pci>/information ("Device Minor:", "GPU UUID:" lines).
//
//   NvidiaProcfsInfo info = ParseNvidiaInformation(text);   // pure, for tests
//   absl::StatusOr<NvidiaProcfsInfo> r = ReadNvidiaProcfs("/proc", "0000:3b:00.0");
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace prov::agent {

struct NvidiaProcfsInfo {
  std::optional<int> minor;
  std::string uuid;  // empty when the driver hides it
};

NvidiaProcfsInfo ParseNvidiaInformation(absl::string_view text);
// NOT_FOUND when the driver has no entry for the GPU (driver not loaded).
absl::StatusOr<NvidiaProcfsInfo> ReadNvidiaProcfs(const std::string& procfs_root,
                                                  const std::string& pci_address);

}  // namespace prov::agent
