// LoadNvml: the real Nvml, backed by libnvidia-ml.so.1 opened with dlopen(3) at run time, so
// prov-agent builds without NVIDIA headers and runs on machines without a driver.
//
//   auto nvml = prov::agent::LoadNvml("libnvidia-ml.so.1");   // --nvml-library overrides the path
//   if (!nvml.ok()) std::cerr << "NVML unavailable: " << nvml.status().message() << "\n";
//
// Returns UNAVAILABLE when the library cannot be opened, lacks a required symbol, or nvmlInit
// fails (no driver); the message says which. The returned object calls nvmlShutdown and
// dlclose on destruction. Optional symbols (energy, versioned process lists) may be missing on
// old drivers; the matching fields are then left empty.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "agent/nvml/nvml.h"

namespace prov::agent {

inline constexpr char kDefaultNvmlLibrary[] = "libnvidia-ml.so.1";

absl::StatusOr<std::unique_ptr<Nvml>> LoadNvml(const std::string& library_path);

}  // namespace prov::agent
