#include "agent/collect/node_collector.h"

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "agent/collect/hardware_identity.h"
#include "agent/collect/nvidia_procfs.h"
#include "agent/collect/pci_scanner.h"
#include "agent/collect/process_scanner.h"
#include "agent/collect/report_limits.h"
#include "agent/collect/report_strings.h"
#include "agent/collect/workload_builder.h"
#include "common/fs.h"
#include "common/utf8.h"
#include "common/version.h"

namespace prov::agent {
namespace {

using provenance::v1::Accelerator;
using provenance::v1::NodeReport;

std::string ReadTrimmed(const std::string& path) {
  auto text = ReadFileToString(path, 4096);
  return text.ok() ? std::string(absl::StripAsciiWhitespace(*text)) : "";
}

std::optional<int64_t> BootTime(const std::string& procfs_root) {
  auto text = ReadFileToString(JoinPath(procfs_root, "stat"), 1 << 20);
  if (!text.ok()) return std::nullopt;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    int64_t btime = 0;
    if (absl::ConsumePrefix(&line, "btime ") && absl::SimpleAtoi(line, &btime)) return btime;
  }
  return std::nullopt;
}

}  // namespace

struct NodeCollector::NvmlView {
  std::map<uint32_t, std::vector<std::string>> pids;  // pid -> GPUs it computes on
  std::map<uint32_t, uint64_t> memory;                // pid -> accelerator memory used
};

NodeCollector::NodeCollector(NodeCollectorOptions options, Nvml* nvml, Clock& clock)
    : options_(std::move(options)), nvml_(nvml), clock_(clock) {
  if (options_.catalog == nullptr) options_.catalog = &AcceleratorCatalog::Builtin();
  if (options_.address_source == nullptr) options_.address_source = &RealInterfaceAddresses();
  if (options_.attribution.chain.empty()) {
    options_.attribution.chain = *ParseAttributionChain(kDefaultAttributionChain);
  }
  node_id_ = options_.node_id;
  if (node_id_.empty()) node_id_ = ReadTrimmed(options_.machine_id_file);
  if (node_id_.empty()) node_id_ = options_.hostname;
}

void NodeCollector::Enrich(NodeReport* report, NvmlView* view) {
  const auto kProcfs = provenance::v1::FACT_SOURCE_DRIVER_PROCFS;
  const auto kNvml = provenance::v1::FACT_SOURCE_NVML;
  for (Accelerator& acc : *report->mutable_accelerators()) {
    provenance::v1::AcceleratorSample* sample = report->add_samples();
    sample->set_pci_address(acc.pci_address());
    if (acc.vendor() != "nvidia") continue;
    auto& src = *acc.mutable_fact_sources();
    if (auto info = ReadNvidiaProcfs(options_.procfs_root, acc.pci_address()); info.ok()) {
      if (info->minor) {
        acc.set_device_minor(*info->minor);
        src["device_minor"] = kProcfs;
      }
      if (!info->uuid.empty()) {
        acc.set_uuid(info->uuid);
        src["uuid"] = kProcfs;
      }
    } else if (!absl::IsNotFound(info.status())) {
      errors_[{"driver_procfs", std::string(info.status().message())}]++;
    }
    if (nvml_ == nullptr) continue;
    auto info = nvml_->DeviceInfo(acc.pci_address());
    if (!info.ok()) {
      errors_[{"nvml", std::string(info.status().message())}]++;
      continue;
    }
    auto set = [&](const std::string& value, const char* field, auto setter) {
      if (value.empty()) return;
      (acc.*setter)(value);
      src[field] = kNvml;
    };
    set(info->uuid, "uuid", &Accelerator::set_uuid<const std::string&>);
    set(info->serial, "serial", &Accelerator::set_serial<const std::string&>);
    set(info->board_part_number, "board_part_number",
        &Accelerator::set_board_part_number<const std::string&>);
    if (!acc.model_known() && !info->name.empty())
      set(info->name, "model", &Accelerator::set_model<const std::string&>);
    if (info->memory_total_bytes) {
      acc.set_memory_total_bytes(*info->memory_total_bytes);
      src["memory_total_bytes"] = kNvml;
    }
    if (info->minor_number) {
      acc.set_device_minor(*info->minor_number);
      src["device_minor"] = kNvml;
    }
    sample->set_source(kNvml);
    if (info->utilization_gpu_pct) sample->set_utilization_pct(*info->utilization_gpu_pct);
    if (info->memory_used_bytes) sample->set_memory_used_bytes(*info->memory_used_bytes);
    if (info->power_milliwatts) sample->set_power_watts(*info->power_milliwatts / 1000.0);
    if (info->energy_millijoules) sample->set_energy_millijoules(*info->energy_millijoules);
    for (const NvmlProcess& p : info->compute_processes) {
      view->pids[p.pid].push_back(acc.pci_address());
      if (p.used_memory_bytes) view->memory[p.pid] += *p.used_memory_bytes;
    }
  }
}

NodeReport NodeCollector::Collect() {
  errors_.clear();
  NodeReport report;
  const absl::Time now = clock_.Now();
  report.mutable_collected_at()->set_seconds(absl::ToUnixSeconds(now));
  report.mutable_collected_at()->set_nanos(static_cast<int32_t>(
      absl::ToInt64Nanoseconds(now - absl::FromUnixSeconds(absl::ToUnixSeconds(now)))));
  report.set_interval_seconds(options_.interval_seconds);
  auto* node = report.mutable_node();
  node->set_node_id(node_id_);
  node->set_hostname(options_.hostname);
  node->set_datacenter(options_.datacenter);
  node->set_region(options_.region);
  node->set_agent_version(kVersion);
  node->set_boot_id(ReadTrimmed(JoinPath(options_.procfs_root, "sys/kernel/random/boot_id")));
  if (node->boot_id().empty()) errors_[{"procfs", "boot_id unreadable"}]++;
  std::vector<std::string> address_errors;
  for (std::string& a : CollectNodeAddresses(*options_.address_source, &address_errors)) {
    node->add_addresses(std::move(a));
  }
  for (const std::string& e : address_errors) errors_[{"addresses", e}]++;
  std::vector<std::string> dmi_errors;
  if (auto hw = ReadDmiIdentity(options_.sysfs_root, &dmi_errors)) {
    *node->mutable_hardware() = std::move(*hw);
  }
  for (const std::string& e : dmi_errors) errors_[{"dmi", e}]++;

  std::vector<std::string> pci_errors;
  for (Accelerator& acc :
       ScanPciAccelerators(options_.sysfs_root, *options_.catalog, &pci_errors)) {
    *report.add_accelerators() = std::move(acc);
  }
  for (const std::string& e : pci_errors) errors_[{"pci", e}]++;
  std::vector<std::string> driver_errors;
  for (Accelerator& acc : *report.mutable_accelerators()) {
    AddDriverSysfsIdentity(options_.sysfs_root, &acc, &driver_errors);
  }
  for (const std::string& e : driver_errors) errors_[{"driver_sysfs", e}]++;
  NvmlView view;
  Enrich(&report, &view);

  ProcessScanStats stats;
  std::vector<ProcessInfo> procs = ScanAcceleratorProcesses(options_.procfs_root, &stats);
  if (stats.unreadable > 0) {
    // Usually a non-root agent: other users' accelerator processes would be invisible.
    errors_[{"procfs", absl::StrCat("fd directory unreadable for ", stats.unreadable, " of ",
                                    stats.processes_seen, " processes (permission, or exited)")}]++;
  }
  std::set<uint32_t> seen;
  for (const ProcessInfo& p : procs) seen.insert(p.pid);
  for (const auto& [pid, pcis] : view.pids) {
    if (seen.count(pid)) continue;
    // NVML knows a compute process that holds no device file we could see (another pid
    // namespace, or fds we may not read): keep it with what procfs still tells us.
    auto p = ReadProcess(options_.procfs_root, pid);
    if (p.ok()) {
      procs.push_back(std::move(*p));
    } else {
      ProcessInfo bare;
      bare.pid = pid;
      procs.push_back(std::move(bare));
    }
  }
  WorkloadContext ctx;
  ctx.procfs_root = options_.procfs_root;
  ctx.sysfs_root = options_.sysfs_root;
  ctx.boot_id = node->boot_id();
  ctx.boot_time_unix = BootTime(options_.procfs_root);
  std::vector<Accelerator> accs(report.accelerators().begin(), report.accelerators().end());
  ctx.accelerators = &accs;
  ctx.attribution = &options_.attribution;
  PodIndex pods;
  if (!options_.kubelet_pods_file.empty()) {
    auto loaded = LoadKubeletPods(options_.kubelet_pods_file);
    if (loaded.ok()) {
      pods = std::move(*loaded);
    } else {
      errors_[{"kubelet", std::string(loaded.status().message())}]++;
    }
  }
  ctx.pods = &pods;
  DeviceOwnerIndex device_owners;
  if (options_.pod_resources != nullptr) {
    absl::StatusOr<DeviceOwnerIndex> listed = options_.pod_resources->List();
    if (listed.ok()) {
      device_owners = std::move(*listed);
      ctx.device_owners = &device_owners;
      if (device_owners.skipped > 0 || device_owners.conflicts > 0) {
        errors_[{"podresources",
                 absl::StrCat(device_owners.skipped, " entries over bounds skipped, ",
                              device_owners.conflicts, " devices allocated twice")}]++;
      }
    } else {
      errors_[{"podresources", std::string(listed.status().message())}]++;
    }
  }
  if (skip_expensive_) {
    static constexpr char kSkipped[] =
        "skipped: the agent's watchdog is backing off (CPU over --watchdog-cpu-percent)";
    errors_[{"net_bytes", kSkipped}]++;
    tcp_volume_.Update(absl::UnavailableError(kSkipped));
  } else {
    TcpCounterSource* source = options_.tcp_counters;
    if (source == nullptr) {
      if (own_tcp_counters_ == nullptr) own_tcp_counters_ = RealTcpCounterSource();
      source = own_tcp_counters_.get();
    }
    absl::StatusOr<TcpCounterMap> counters = source->Read();
    if (!counters.ok()) errors_[{"net_bytes", std::string(counters.status().message())}]++;
    tcp_volume_.Update(std::move(counters));
  }
  ctx.tcp_volume = &tcp_volume_;
  ctx.nvml_pids = std::move(view.pids);
  ctx.nvml_memory = std::move(view.memory);
  std::vector<std::string> net_errors;
  for (auto& w : BuildWorkloads(ctx, procs, &net_errors)) *report.add_workloads() = std::move(w);
  for (const std::string& e : net_errors) errors_[{"net", e}]++;

  auto* health = report.mutable_health();
  health->set_nvml_available(nvml_ != nullptr);
  for (const auto& [key, count] : errors_) {
    auto* e = health->add_collector_errors();
    e->set_collector(key.first);
    e->set_message(key.second);
    e->set_count(count);
  }
  // Last: nothing copied from the node reaches the wire unrepaired (report_strings.h).
  StringRepairs repairs = RepairNodeStrings(&report);
  if (repairs.any()) {
    auto* e = health->add_collector_errors();
    e->set_collector("strings");
    e->set_message(absl::StrCat(repairs.repaired, " strings with invalid UTF-8 repaired, ",
                                repairs.truncated, " truncated, in ",
                                absl::StrJoin(repairs.fields, ", ")));
    e->set_count(repairs.repaired + repairs.truncated);
  }
  // And no list longer than provd accepts (report_limits.h): cut, and said so.
  std::vector<std::string> cut = CapNodeLists(&report);
  if (!cut.empty()) {
    auto* e = report.mutable_health()->add_collector_errors();
    e->set_collector("limits");
    e->set_message(
        MakeValidUtf8(absl::StrCat("lists over provd's limits cut: ", absl::StrJoin(cut, ", ")),
                      1024)
            .value);
    e->set_count(cut.size());
  }
  return report;
}

}  // namespace prov::agent
