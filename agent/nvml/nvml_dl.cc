// Real NVML through dlopen/dlsym.
//
// The few C declarations below are written from NVIDIA's public NVML API reference
// (https://docs.nvidia.com/deploy/nvml-api/): function names, return codes and struct layouts.
// NVIDIA's header notice asks that reproduced declarations carry its disclaimer: "NVIDIA MAKES NO
// REPRESENTATION ABOUT THE SUITABILITY OF THIS SOURCE CODE FOR ANY PURPOSE. IT IS PROVIDED "AS IS"
// WITHOUT EXPRESS OR IMPLIED WARRANTY OF ANY KIND." No NVIDIA header or library is needed to build.
//
// Tensor-pipe activity (GPM metrics) is deliberately not read: the GPM API needs versioned
// structs and sample pairs that we cannot verify without hardware, so tensor_activity stays unset
// rather than guessed.
#include "agent/nvml/nvml_dl.h"

#include <dlfcn.h>

#include <cstring>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace prov::agent {
namespace {

// --- Declarations after NVIDIA's NVML API reference (see the notice above). ---
using nvmlReturn_t = int;
using nvmlDevice_t = struct nvmlDevice_st*;
constexpr nvmlReturn_t NVML_SUCCESS = 0;
constexpr nvmlReturn_t NVML_ERROR_NOT_FOUND = 6;
constexpr nvmlReturn_t NVML_ERROR_INSUFFICIENT_SIZE = 7;
struct nvmlMemory_t {
  unsigned long long total, free, used;
};
struct nvmlUtilization_t {
  unsigned int gpu, memory;
};
struct nvmlProcessInfo_v1_t {  // nvmlDeviceGetComputeRunningProcesses (unversioned)
  unsigned int pid;
  unsigned long long usedGpuMemory;
};
struct nvmlProcessInfo_v2_t {  // _v2 and _v3 entry points
  unsigned int pid;
  unsigned long long usedGpuMemory;
  unsigned int gpuInstanceId, computeInstanceId;
};
// NVML_VALUE_NOT_AVAILABLE for usedGpuMemory (e.g. under Windows WDDM or without permission).
constexpr unsigned long long kValueNotAvailable = ~0ULL;
constexpr unsigned int kStringBuffer = 96;  // >= NVML_DEVICE_UUID_V2_BUFFER_SIZE (96)

struct Api {
  nvmlReturn_t (*init)();
  nvmlReturn_t (*shutdown)();
  const char* (*error_string)(nvmlReturn_t);
  nvmlReturn_t (*count)(unsigned int*);
  nvmlReturn_t (*by_pci)(const char*, nvmlDevice_t*);
  nvmlReturn_t (*uuid)(nvmlDevice_t, char*, unsigned int);
  nvmlReturn_t (*serial)(nvmlDevice_t, char*, unsigned int);
  nvmlReturn_t (*part)(nvmlDevice_t, char*, unsigned int);
  nvmlReturn_t (*name)(nvmlDevice_t, char*, unsigned int);
  nvmlReturn_t (*memory)(nvmlDevice_t, nvmlMemory_t*);
  nvmlReturn_t (*util)(nvmlDevice_t, nvmlUtilization_t*);
  nvmlReturn_t (*power)(nvmlDevice_t, unsigned int*);
  nvmlReturn_t (*energy)(nvmlDevice_t, unsigned long long*);  // optional (Volta+)
  nvmlReturn_t (*minor)(nvmlDevice_t, unsigned int*);
  nvmlReturn_t (*procs_v2)(nvmlDevice_t, unsigned int*, nvmlProcessInfo_v2_t*);  // _v3 or _v2
  nvmlReturn_t (*procs_v1)(nvmlDevice_t, unsigned int*, nvmlProcessInfo_v1_t*);
};

class DlNvml final : public Nvml {
 public:
  DlNvml(void* handle, Api api) : handle_(handle), api_(api) {}
  ~DlNvml() override {
    api_.shutdown();
    ::dlclose(handle_);
  }

  absl::StatusOr<uint32_t> DeviceCount() override {
    unsigned int n = 0;
    if (nvmlReturn_t r = api_.count(&n); r != NVML_SUCCESS) return Error("DeviceGetCount", r);
    return n;
  }

  absl::StatusOr<NvmlDeviceInfo> DeviceInfo(const std::string& pci_bus_id) override {
    nvmlDevice_t dev = nullptr;
    nvmlReturn_t r = api_.by_pci(pci_bus_id.c_str(), &dev);
    if (r == NVML_ERROR_NOT_FOUND) {
      return absl::NotFoundError(absl::StrCat("NVML has no device at ", pci_bus_id));
    }
    if (r != NVML_SUCCESS) return Error("DeviceGetHandleByPciBusId", r);
    NvmlDeviceInfo info;
    info.uuid = String(api_.uuid, dev);
    info.serial = String(api_.serial, dev);
    info.board_part_number = String(api_.part, dev);
    info.name = String(api_.name, dev);
    if (nvmlMemory_t m{}; api_.memory(dev, &m) == NVML_SUCCESS) {
      info.memory_total_bytes = m.total;
      info.memory_used_bytes = m.used;
    }
    if (nvmlUtilization_t u{}; api_.util(dev, &u) == NVML_SUCCESS) info.utilization_gpu_pct = u.gpu;
    if (unsigned int mw = 0; api_.power(dev, &mw) == NVML_SUCCESS) info.power_milliwatts = mw;
    if (unsigned long long mj = 0; api_.energy && api_.energy(dev, &mj) == NVML_SUCCESS) {
      info.energy_millijoules = mj;
    }
    if (unsigned int minor = 0; api_.minor(dev, &minor) == NVML_SUCCESS) {
      info.minor_number = static_cast<int32_t>(minor);
    }
    info.compute_processes = Processes(dev);
    return info;
  }

 private:
  using StringFn = nvmlReturn_t (*)(nvmlDevice_t, char*, unsigned int);
  static std::string String(StringFn fn, nvmlDevice_t dev) {
    char buf[kStringBuffer + 1] = {};
    if (fn(dev, buf, kStringBuffer) != NVML_SUCCESS) return "";
    return std::string(buf, ::strnlen(buf, kStringBuffer));
  }

  template <typename Info, typename Fn>
  static std::vector<NvmlProcess> List(Fn fn, nvmlDevice_t dev) {
    std::vector<Info> infos(64);
    for (int attempt = 0; attempt < 4; ++attempt) {
      unsigned int n = static_cast<unsigned int>(infos.size());
      nvmlReturn_t r = fn(dev, &n, infos.data());
      if (r == NVML_ERROR_INSUFFICIENT_SIZE) {  // n now holds the needed count (it can grow)
        infos.resize(static_cast<size_t>(n) + 16);
        continue;
      }
      if (r != NVML_SUCCESS) return {};
      std::vector<NvmlProcess> out;
      for (unsigned int i = 0; i < n && i < infos.size(); ++i) {
        NvmlProcess p{infos[i].pid, std::nullopt};
        if (infos[i].usedGpuMemory != kValueNotAvailable)
          p.used_memory_bytes = infos[i].usedGpuMemory;
        out.push_back(p);
      }
      return out;
    }
    return {};
  }

  std::vector<NvmlProcess> Processes(nvmlDevice_t dev) {
    if (api_.procs_v2) return List<nvmlProcessInfo_v2_t>(api_.procs_v2, dev);
    if (api_.procs_v1) return List<nvmlProcessInfo_v1_t>(api_.procs_v1, dev);
    return {};
  }

  absl::Status Error(absl::string_view call, nvmlReturn_t r) {
    const char* text = api_.error_string ? api_.error_string(r) : nullptr;
    return absl::UnavailableError(
        absl::StrCat("nvml", call, " failed: ", text ? text : "error", " (", r, ")"));
  }

  void* handle_;
  Api api_;
};

template <typename T>
bool Sym(void* handle, const char* name, T* out) {
  *out = reinterpret_cast<T>(::dlsym(handle, name));
  return *out != nullptr;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Nvml>> LoadNvml(const std::string& library_path) {
  void* handle = ::dlopen(library_path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* err = ::dlerror();
    return absl::UnavailableError(
        absl::StrCat("cannot load ", library_path, ": ", err ? err : "dlopen failed"));
  }
  Api api{};
  struct Required {
    const char* name;
    bool ok;
  };
  const Required required[] = {
      {"nvmlInit_v2", Sym(handle, "nvmlInit_v2", &api.init)},
      {"nvmlShutdown", Sym(handle, "nvmlShutdown", &api.shutdown)},
      {"nvmlDeviceGetCount_v2", Sym(handle, "nvmlDeviceGetCount_v2", &api.count)},
      {"nvmlDeviceGetHandleByPciBusId_v2",
       Sym(handle, "nvmlDeviceGetHandleByPciBusId_v2", &api.by_pci)},
      {"nvmlDeviceGetUUID", Sym(handle, "nvmlDeviceGetUUID", &api.uuid)},
      {"nvmlDeviceGetSerial", Sym(handle, "nvmlDeviceGetSerial", &api.serial)},
      {"nvmlDeviceGetBoardPartNumber", Sym(handle, "nvmlDeviceGetBoardPartNumber", &api.part)},
      {"nvmlDeviceGetName", Sym(handle, "nvmlDeviceGetName", &api.name)},
      {"nvmlDeviceGetMemoryInfo", Sym(handle, "nvmlDeviceGetMemoryInfo", &api.memory)},
      {"nvmlDeviceGetUtilizationRates", Sym(handle, "nvmlDeviceGetUtilizationRates", &api.util)},
      {"nvmlDeviceGetPowerUsage", Sym(handle, "nvmlDeviceGetPowerUsage", &api.power)},
      {"nvmlDeviceGetMinorNumber", Sym(handle, "nvmlDeviceGetMinorNumber", &api.minor)},
  };
  for (const Required& r : required) {
    if (!r.ok) {
      ::dlclose(handle);
      return absl::UnavailableError(absl::StrCat(library_path, " lacks symbol ", r.name));
    }
  }
  Sym(handle, "nvmlErrorString", &api.error_string);
  Sym(handle, "nvmlDeviceGetTotalEnergyConsumption", &api.energy);
  if (!Sym(handle, "nvmlDeviceGetComputeRunningProcesses_v3", &api.procs_v2)) {
    Sym(handle, "nvmlDeviceGetComputeRunningProcesses_v2", &api.procs_v2);
  }
  Sym(handle, "nvmlDeviceGetComputeRunningProcesses", &api.procs_v1);
  if (nvmlReturn_t r = api.init(); r != NVML_SUCCESS) {
    // Build the message before dlclose: the error string lives in the library.
    const char* text = api.error_string ? api.error_string(r) : nullptr;
    absl::Status status = absl::UnavailableError(
        absl::StrCat("nvmlInit_v2 failed: ", text ? text : "error", " (", r, ")"));
    ::dlclose(handle);
    return status;
  }
  return std::unique_ptr<Nvml>(new DlNvml(handle, api));
}

}  // namespace prov::agent
