#include "server/analysis/observation.h"

#include "absl/container/flat_hash_map.h"
#include "server/store/store.h"

namespace prov::server {

ReportObservation ObserveReport(const provenance::v1::NodeReport& report,
                                const std::vector<WorkloadUsage>& usage) {
  ReportObservation obs;
  const auto& node = report.node();
  obs.node_id = node.node_id();
  obs.hostname = node.hostname();
  obs.datacenter = node.datacenter();
  obs.region = node.region();
  obs.addresses.assign(node.addresses().begin(), node.addresses().end());
  obs.time_us = ToUnixMicros(report.collected_at());
  obs.interval_seconds = report.interval_seconds();
  for (const auto& a : report.accelerators()) {
    provenance::v1::AcceleratorFact& f = obs.accelerators.emplace_back();
    f.set_pci_address(a.pci_address());
    f.set_vendor_id(a.vendor_id());
    f.set_device_id(a.device_id());
    f.set_vendor(a.vendor());
    f.set_model(a.model());
    f.set_family(a.family());
  }
  absl::flat_hash_map<absl::string_view, double> activity;
  for (const auto& s : report.samples()) {
    if (s.has_utilization_pct()) {
      activity[s.pci_address()] = s.utilization_pct();
    } else if (s.has_tensor_activity()) {
      activity[s.pci_address()] = s.tensor_activity() * 100;
    }
  }
  obs.workloads.reserve(report.workloads_size());
  for (int i = 0; i < report.workloads_size(); ++i) {
    const auto& w = report.workloads(i);
    WorkloadObservation& o = obs.workloads.emplace_back();
    o.workload_id = w.workload_id();
    o.account =
        w.attribution().account().empty() ? kUnattributedAccount : w.attribution().account();
    o.workload_class = w.workload_class();
    if (w.has_started_at()) o.started_us = ToUnixMicros(w.started_at());
    if (!w.image_digest().empty()) o.digests.push_back(w.image_digest());
    if (!w.cmdline_digest().empty()) o.digests.push_back(w.cmdline_digest());
    for (const auto& d : w.artifact_digests()) {
      o.digests.push_back(d);
      o.artifact_digests.push_back(d);
    }
    o.master_addr = w.distributed().master_addr();
    o.master_port = w.distributed().master_port();
    for (const auto& p : w.peers()) o.peers.push_back({p.remote_address(), p.remote_port()});
    o.listening_ports.assign(w.listening_ports().begin(), w.listening_ports().end());
    double sum = 0;
    int n = 0;
    for (const auto& pci : w.accelerator_pci_addresses()) {
      o.accelerators.push_back(pci);
      if (auto it = activity.find(pci); it != activity.end()) {
        sum += it->second;
        ++n;
      }
    }
    if (n > 0) o.activity_pct = sum / n;
    if (static_cast<size_t>(i) < usage.size()) o.usage = usage[i];
  }
  return obs;
}

}  // namespace prov::server
