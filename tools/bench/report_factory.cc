#include "tools/bench/report_factory.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/sha256.h"

namespace prov::bench {
namespace {

namespace pb = provenance::v1;

constexpr uint32_t kNvidiaVendor = 0x10de;
constexpr uint32_t kH100Sxm5 = 0x2330;
constexpr uint32_t kH100Subsystem = 0x16c1;
constexpr uint32_t k3dController = 0x030200;
constexpr uint64_t kH100MemoryBytes = 80ull * 1024 * 1024 * 1024;
constexpr const char* kPciBuses[ReportFactory::kAccelerators] = {"18", "2a", "3a", "5d",
                                                                 "9a", "ab", "ba", "db"};

std::string PciAddress(int gpu) { return absl::StrFormat("0000:%s:00.0", kPciBuses[gpu]); }

// A deterministic NVML-shaped UUID: GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx.
std::string GpuUuid(int agent, int gpu) {
  std::string h = Sha256Hex(absl::StrFormat("gpu-%d-%d", agent, gpu));
  return absl::StrFormat("GPU-%s-%s-%s-%s-%s", h.substr(0, 8), h.substr(8, 4), h.substr(12, 4),
                         h.substr(16, 4), h.substr(20, 12));
}

void AddAccelerator(pb::NodeReport& r, int agent, int gpu) {
  pb::Accelerator* a = r.add_accelerators();
  a->set_pci_address(PciAddress(gpu));
  a->set_vendor_id(kNvidiaVendor);
  a->set_device_id(kH100Sxm5);
  a->set_subsystem_vendor_id(kNvidiaVendor);
  a->set_subsystem_device_id(kH100Subsystem);
  a->set_class_code(k3dController);
  a->set_vendor("nvidia");
  a->set_model("H100 SXM5 80GB");
  a->set_uuid(GpuUuid(agent, gpu));
  a->set_serial(absl::StrFormat("16549%08d", agent * 8 + gpu));
  a->set_memory_total_bytes(kH100MemoryBytes);

  pb::AcceleratorSample* s = r.add_samples();
  s->set_pci_address(a->pci_address());
  s->set_utilization_pct(gpu < 6 ? 98.0 : 0.0);
  s->set_tensor_activity(gpu < 6 ? 0.41 : 0.0);
  s->set_memory_used_bytes(gpu < 6 ? 71ull << 30 : 0);
  s->set_power_watts(gpu < 6 ? 612.5 : 71.0);
  s->set_energy_millijoules(123456789ull + gpu);
  s->set_source(pb::FACT_SOURCE_NVML);
}

void AddWorkload(pb::NodeReport& r, int agent, int w) {
  pb::Workload* wl = r.add_workloads();
  const bool slurm = w % 3 != 1;  // 7 Slurm jobs, 3 Kubernetes pods
  if (slurm) {
    wl->set_kind(pb::WORKLOAD_KIND_SLURM_JOB);
    wl->set_slurm_job_id(absl::StrCat(100000 + agent * 10 + w));
    wl->set_workload_id(absl::StrCat("slurm:", wl->slurm_job_id()));
    wl->set_slurm_step("0");
    wl->set_launcher("torchrun");
  } else {
    wl->set_kind(pb::WORKLOAD_KIND_K8S_POD);
    wl->set_pod_uid(absl::StrFormat("5f1c%04x-9e2b-4c1d-8a7e-%012x", w, agent));
    wl->set_workload_id(absl::StrCat("k8s:", wl->pod_uid()));
    wl->set_pod_namespace("team-a");
    wl->set_launcher("vllm");
  }
  pb::Attribution* at = wl->mutable_attribution();
  at->set_account(absl::StrFormat("acct-%03d", (agent + w) % 97));
  at->set_source(slurm ? pb::ATTRIBUTION_SOURCE_SLURM_ENV : pb::ATTRIBUTION_SOURCE_K8S_LABEL);
  at->set_confidence(0.9);
  wl->add_accelerator_pci_addresses(PciAddress(w % ReportFactory::kAccelerators));
  wl->add_pids(4000 + w);
  if (slurm) {
    pb::DistributedMarkers* d = wl->mutable_distributed();
    d->set_world_size(64);
    d->set_rank(w);
    d->set_master_addr("10.1.2.3");
    d->set_master_port(29500);
  }
  // Digests on two jobs and reasons on two keep the report near 2 KB.
  if (w < 2) wl->set_cmdline_digest(Sha256Hex(absl::StrFormat("cmd-%d-%d", agent, w)));
  wl->set_workload_class(slurm ? pb::WORKLOAD_CLASS_TRAINING : pb::WORKLOAD_CLASS_INFERENCE);
  wl->set_class_confidence(0.8);
  if (w < 2) wl->add_class_reasons(slurm ? "torchrun" : "vllm serve");
  if (w < 1) {
    pb::NetPeer* p = wl->add_peers();
    p->set_remote_address("10.1.2.3");
    p->set_remote_port(29500);
    p->set_local_port(41000 + w);
    p->set_state("ESTABLISHED");
  }
}

}  // namespace

pb::NodeReport ReportFactory::MakeTemplate(int agent_index) const {
  pb::NodeReport r;
  pb::NodeIdentity* n = r.mutable_node();
  n->set_node_id(absl::StrFormat("bench-node-%05d", agent_index));
  n->set_hostname(absl::StrFormat("gpu%05d.dc1", agent_index));
  n->set_datacenter("dc1");
  n->set_region("eu-west");
  n->set_agent_version("bench");
  std::string h = Sha256Hex(absl::StrFormat("boot-%d", agent_index));
  n->set_boot_id(absl::StrFormat("%s-%s-%s-%s-%s", h.substr(0, 8), h.substr(8, 4), h.substr(12, 4),
                                 h.substr(16, 4), h.substr(20, 12)));
  r.set_interval_seconds(kIntervalSeconds);
  for (int g = 0; g < kAccelerators; ++g) AddAccelerator(r, agent_index, g);
  for (int w = 0; w < kWorkloads; ++w) AddWorkload(r, agent_index, w);
  pb::AgentHealth* health = r.mutable_health();
  health->set_nvml_available(true);
  health->set_cpu_seconds(1.5);
  health->set_rss_bytes(15u << 20);
  Stamp(r, 1, absl::UnixEpoch() + absl::Seconds(1700000000));
  return r;
}

void ReportFactory::Stamp(pb::NodeReport& report, uint64_t seq, absl::Time now) {
  report.set_seq(seq);
  const absl::Duration since_epoch = now - absl::UnixEpoch();
  const int64_t nanos = absl::ToInt64Nanoseconds(since_epoch);
  report.mutable_collected_at()->set_seconds(nanos / 1000000000);
  report.mutable_collected_at()->set_nanos(static_cast<int32_t>(nanos % 1000000000));
}

}  // namespace prov::bench
