#include "tools/prov-sim/report_builder.h"

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/sha256.h"
#include "common/version.h"

namespace prov::sim {
namespace {

using provenance::v1::NodeReport;

google::protobuf::Timestamp ToProto(absl::Time t) {
  google::protobuf::Timestamp ts;
  int64_t micros = absl::ToUnixMicros(t);
  ts.set_seconds(micros / 1000000);
  ts.set_nanos(static_cast<int32_t>((micros % 1000000) * 1000));
  return ts;
}

provenance::v1::AttributionSource SourceFor(provenance::v1::WorkloadKind kind) {
  switch (kind) {
    case provenance::v1::WORKLOAD_KIND_SLURM_JOB:
      return provenance::v1::ATTRIBUTION_SOURCE_SLURM_ENV;
    case provenance::v1::WORKLOAD_KIND_K8S_POD:
      return provenance::v1::ATTRIBUTION_SOURCE_K8S_LABEL;
    case provenance::v1::WORKLOAD_KIND_CONTAINER:
      return provenance::v1::ATTRIBUTION_SOURCE_STATIC_MAP;
    default:
      return provenance::v1::ATTRIBUTION_SOURCE_UNIX_USER;
  }
}

}  // namespace

bool IsIdle(const v1::SimWorkload& w, uint32_t report_index) {
  for (uint32_t r : w.idle_reports()) {
    if (r == report_index) return true;
  }
  return false;
}

bool PeerActive(const v1::SimPeer& p, uint32_t report_index) {
  if (p.period_reports() == 0) return true;
  return report_index >= p.phase_report() &&
         (report_index - p.phase_report()) % p.period_reports() == 0;
}

ReportBuilder::ReportBuilder(const v1::Scenario& scenario, const AcceleratorCatalog& catalog)
    : scenario_(scenario),
      catalog_(catalog),
      plan_(scenario),
      workloads_by_node_(scenario.nodes_size()) {
  absl::flat_hash_map<std::string, size_t> index;
  for (int i = 0; i < scenario.nodes_size(); ++i) index[scenario.nodes(i).node_id()] = i;
  for (int w = 0; w < scenario.workloads_size(); ++w) {
    auto it = index.find(scenario.workloads(w).node_id());
    if (it != index.end()) workloads_by_node_[it->second].push_back(w);
  }
}

std::vector<const v1::SimWorkload*> ReportBuilder::ActiveWorkloads(size_t node_index,
                                                                   uint32_t k) const {
  std::vector<const v1::SimWorkload*> active;
  for (int w : workloads_by_node_[node_index]) {
    const auto& wl = scenario_.workloads(w);
    bool started = k >= wl.start_report();
    bool ended = wl.duration_reports() != 0 && k >= wl.start_report() + wl.duration_reports();
    if (started && !ended) active.push_back(&wl);
  }
  return active;
}

NodeReport ReportBuilder::Build(size_t node_index, uint32_t k, absl::Time run_start,
                                absl::Time collected_at, const std::string& boot_id) const {
  const v1::SimNode& node = scenario_.nodes(node_index);
  const uint32_t interval = scenario_.interval_seconds();
  NodeReport r;
  auto* id = r.mutable_node();
  id->set_node_id(node.node_id());
  id->set_hostname(node.hostname());
  id->set_datacenter(node.datacenter());
  for (const auto& dc : scenario_.datacenters()) {
    if (dc.name() == node.datacenter()) id->set_region(dc.region());
  }
  if (!node.ip_address().empty()) id->add_addresses(node.ip_address());
  id->set_agent_version(absl::StrCat(kVersion, "-sim"));
  const uint32_t boot = plan_.Boot(node_index, k);
  id->set_boot_id(boot == 0 ? boot_id : absl::StrCat(boot_id, "-reboot", boot));
  *r.mutable_collected_at() = ToProto(collected_at);
  r.set_interval_seconds(interval);

  std::vector<const SimCard*> cards = plan_.CardsAt(node_index, k);
  std::vector<const v1::SimWorkload*> active = ActiveWorkloads(node_index, k);
  // Workloads use slots [first, first + count); a slot whose card is gone (moved, silent) is not
  // theirs any more.
  std::vector<const v1::SimWorkload*> owner(kMaxSlots, nullptr);
  std::vector<bool> idle(kMaxSlots, false);
  for (const auto* w : active) {
    bool w_idle = IsIdle(*w, k);
    for (uint32_t a = w->first_accelerator();
         a < w->first_accelerator() + w->accelerator_count() && a < owner.size(); ++a) {
      owner[a] = w;
      idle[a] = w_idle;
    }
  }
  std::vector<bool> present(kMaxSlots, false);
  for (const SimCard* card : cards) {
    auto match = catalog_.Lookup(card->vendor_id, card->device_id);
    const CatalogEntry* entry = match ? match->entry : nullptr;
    double peak_watts = entry != nullptr && entry->peak_flops > 1.5e15 ? 1000 : 700;
    uint64_t memory_total = static_cast<uint64_t>((entry ? entry->memory_gib : 0) * (1ull << 30));
    const uint32_t a = card->slot;
    present[a] = true;
    std::string pci = PciAddress(a);
    auto* acc = r.add_accelerators();
    acc->set_pci_address(pci);
    acc->set_vendor_id(card->vendor_id);
    acc->set_device_id(card->device_id);
    acc->set_class_code(card->vendor_id == 0x10de ? 0x030200 : 0x120000);
    acc->set_vendor(catalog_.VendorName(card->vendor_id));
    acc->set_device_minor(static_cast<int32_t>(a));
    if (entry != nullptr) {
      acc->set_model(entry->model);
      acc->set_model_known(match->exact && !entry->model.empty());
      acc->set_family(entry->family);
    }
    acc->set_uuid(card->uuid);
    acc->set_serial(card->serial);
    acc->set_memory_total_bytes(memory_total);
    (*acc->mutable_fact_sources())["pci_address"] = provenance::v1::FACT_SOURCE_PCI_SYSFS;
    (*acc->mutable_fact_sources())["model"] = provenance::v1::FACT_SOURCE_CATALOG;
    (*acc->mutable_fact_sources())["uuid"] = provenance::v1::FACT_SOURCE_NVML;
    (*acc->mutable_fact_sources())["serial"] = provenance::v1::FACT_SOURCE_NVML;

    const v1::SimWorkload* w = owner[a];
    double util = 0, tensor = w != nullptr ? w->tensor_activity() : 0;
    if (w != nullptr && idle[a]) {
      util = kIdleUtilizationPct;
      tensor = tensor < 0 ? tensor : kIdleTensorActivity;
    } else if (w != nullptr && w->utilization_series_size() > 0) {
      util = w->utilization_series((k - w->start_report()) % w->utilization_series_size());
      if (tensor >= 0) tensor *= util / 100;
    } else if (w != nullptr) {
      util = w->utilization_pct();
    }
    auto* sample = r.add_samples();
    sample->set_pci_address(pci);
    sample->set_utilization_pct(util);
    if (w != nullptr && tensor >= 0) sample->set_tensor_activity(tensor);
    if (w == nullptr) sample->set_tensor_activity(0);
    sample->set_memory_used_bytes(static_cast<uint64_t>(memory_total * util / 100 * 0.9));
    double watts = 80 + (peak_watts - 80) * util / 100;
    sample->set_power_watts(watts);
    sample->set_energy_millijoules(static_cast<uint64_t>(watts * 1000 * interval * (k + 1)));
    sample->set_source(provenance::v1::FACT_SOURCE_NVML);
  }
  for (const auto* w : active) {
    auto* out = r.add_workloads();
    out->set_workload_id(w->workload_id());
    out->set_kind(w->kind());
    if (w->kind() == provenance::v1::WORKLOAD_KIND_K8S_POD) {
      out->set_pod_uid(w->workload_id().substr(4));
      out->set_pod_namespace(w->account());
      out->set_pod_name(absl::StrCat(w->launcher(), "-", w->workload_id().substr(4, 6)));
    } else if (w->kind() == provenance::v1::WORKLOAD_KIND_SLURM_JOB) {
      out->set_slurm_job_id(w->workload_id().substr(w->workload_id().rfind(':') + 1));
      out->set_slurm_step("batch");
    }
    auto* attribution = out->mutable_attribution();
    attribution->set_account(w->account());
    attribution->set_source(SourceFor(w->kind()));
    attribution->set_confidence(0.9);
    attribution->set_detail(absl::StrCat("prov-sim (", w->origin(), ")"));
    for (uint32_t a = w->first_accelerator(); a < w->first_accelerator() + w->accelerator_count();
         ++a) {
      if (a < present.size() && present[a]) out->add_accelerator_pci_addresses(PciAddress(a));
    }
    out->add_pids(10000 + static_cast<uint32_t>(w->first_accelerator()));
    out->set_launcher(w->launcher());
    if (w->world_size() > 0) {
      auto* d = out->mutable_distributed();
      d->set_world_size(w->world_size());
      d->set_rank(w->rank());
      d->set_local_rank(0);
      d->set_master_addr(w->master_addr());
      d->set_master_port(w->master_port());
    }
    out->set_cmdline_digest(!w->cmdline_digest().empty()
                                ? w->cmdline_digest()
                                : Sha256Hex(absl::StrCat("sim-cmdline:", w->workload_id())));
    out->set_image_digest(w->image_digest());
    for (const auto& d : w->artifact_digests()) out->add_artifact_digests(d);
    out->set_workload_class(w->workload_class());
    out->set_class_confidence(w->class_confidence());
    out->add_class_reasons(
        absl::StrCat("simulated ", w->launcher(), " workload (", w->origin(), ")"));
    for (const auto& p : w->peers()) {
      uint64_t reports_so_far = k + 1;
      if (p.period_reports() > 0) {
        if (!PeerActive(p, k)) continue;
        reports_so_far = (k - p.phase_report()) / p.period_reports() + 1;
      }
      auto* peer = out->add_peers();
      peer->set_remote_address(p.remote_address());
      peer->set_remote_port(p.remote_port());
      peer->set_local_port(40000 + static_cast<uint32_t>(k % 20000));
      peer->set_state("ESTABLISHED");
      if (p.bytes_per_report() > 0) {
        // Lifetime counters grow by the per-report volume; the interval counters are that volume.
        const uint64_t received = p.bytes_received_per_report() > 0 ? p.bytes_received_per_report()
                                                                    : p.bytes_per_report();
        peer->set_bytes_sent(p.bytes_per_report() * reports_so_far);
        peer->set_bytes_received(received * reports_so_far);
        peer->set_interval_bytes_sent(p.bytes_per_report());
        peer->set_interval_bytes_received(received);
      }
    }
    for (uint32_t port : w->listening_ports()) out->add_listening_ports(port);
    *out->mutable_started_at() =
        ToProto(run_start + absl::Seconds(int64_t{interval} * w->start_report()));
  }
  r.mutable_health()->set_nvml_available(true);
  return r;
}

}  // namespace prov::sim
