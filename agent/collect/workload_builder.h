// Workload builder: groups accelerator-using processes into Workloads by cgroup and fills in
// attribution, classification, network peers, digests and ids.
//
//   WorkloadContext ctx{.procfs_root = "/proc", .sysfs_root = "/sys", .boot_id = boot, ...};
//   std::vector<provenance::v1::Workload> w = BuildWorkloads(ctx, processes, &errors);
//
// Workload ids (report.proto): "k8s:<pod uid>", "slurm:<cluster>:<job id>" (cluster from
// SLURM_CLUSTER_NAME, "slurm:<job id>" when absent), "container:<id>",
// "proc:<boot id>:<pid>:<start ticks>" (each bare process is its own workload).
// The main process (lowest pid) gives cmdline_digest = Sha256Hex(NUL-joined argv); argv itself
// never leaves this function. Device-mapping caveats are appended to class_reasons, prefixed
// "device mapping:".
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent/collect/attribution.h"
#include "agent/collect/kubelet_pods.h"
#include "agent/collect/pod_resources.h"
#include "agent/collect/process_scanner.h"
#include "agent/collect/tcp_counters.h"
#include "provenance/v1/report.pb.h"

namespace prov::agent {

struct WorkloadContext {
  std::string procfs_root, sysfs_root, boot_id;
  std::optional<int64_t> boot_time_unix;  // "btime" of <procfs>/stat, for started_at
  const std::vector<provenance::v1::Accelerator>* accelerators = nullptr;
  const AttributionConfig* attribution = nullptr;
  const PodIndex* pods = nullptr;
  // The kubelet's device allocations (pod_resources.h); nullptr: not on Kubernetes, or unused.
  const DeviceOwnerIndex* device_owners = nullptr;
  const TcpVolume* tcp_volume = nullptr;  // per-socket byte counters; nullptr: none
  // From NVML: pid -> accelerators it computes on, and its accelerator memory.
  std::map<uint32_t, std::vector<std::string>> nvml_pids;
  std::map<uint32_t, uint64_t> nvml_memory;
};

std::vector<provenance::v1::Workload> BuildWorkloads(const WorkloadContext& ctx,
                                                     const std::vector<ProcessInfo>& processes,
                                                     std::vector<std::string>* errors);

}  // namespace prov::agent
