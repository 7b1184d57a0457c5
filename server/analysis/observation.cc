#include "server/analysis/observation.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <utility>

#include "absl/container/inlined_vector.h"
#include "absl/hash/hash.h"
#include "server/store/store.h"

namespace prov::server {

bool ObservationCache::Unchanged(uint64_t key, uint64_t fingerprint) {
  if (seen_.size() >= kMaxEntries) seen_.clear();
  auto [it, inserted] = seen_.try_emplace(key, fingerprint);
  if (inserted) return false;
  if (it->second == fingerprint) return true;
  it->second = fingerprint;
  return false;
}

namespace {

bool IsIpAddress(const std::string& text) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, text.c_str(), buf) == 1 || inet_pton(AF_INET6, text.c_str(), buf) == 1;
}

uint64_t AcceleratorFingerprint(const provenance::v1::NodeReport& report) {
  uint64_t h = absl::HashOf(report.accelerators_size());
  for (const auto& a : report.accelerators()) {
    h = absl::HashOf(h, a.pci_address(), a.vendor_id(), a.device_id(), a.vendor(), a.model(),
                     a.family(), a.serial(), a.uuid());
  }
  return h;
}

uint64_t DetailsFingerprint(const provenance::v1::Workload& w) {
  uint64_t h = absl::HashOf(w.image_digest(), w.cmdline_digest(), w.distributed().master_addr(),
                            w.distributed().master_port(), w.artifact_digests_size(),
                            w.listening_ports_size(), w.accelerator_pci_addresses_size());
  for (const auto& d : w.artifact_digests()) h = absl::HashOf(h, d);
  for (uint32_t port : w.listening_ports()) h = absl::HashOf(h, port);
  for (const auto& pci : w.accelerator_pci_addresses()) h = absl::HashOf(h, pci);
  return h;
}

}  // namespace

void ComputeObservationHints(const provenance::v1::NodeReport& report, ObservationHints* hints) {
  hints->valid = true;
  hints->accelerators_fingerprint = AcceleratorFingerprint(report);
  // Few samples per report: a linear scan beats building a map.
  absl::InlinedVector<std::pair<absl::string_view, double>, 16> activity;
  for (const auto& s : report.samples()) {
    if (s.has_utilization_pct()) {
      activity.emplace_back(s.pci_address(), s.utilization_pct());
    } else if (s.has_tensor_activity()) {
      activity.emplace_back(s.pci_address(), s.tensor_activity() * 100);
    }
  }
  hints->workloads.resize(report.workloads_size());
  for (int i = 0; i < report.workloads_size(); ++i) {
    const auto& w = report.workloads(i);
    ObservationHints::Workload& h = hints->workloads[i];
    h.details_fingerprint = DetailsFingerprint(w);
    h.started_us = w.has_started_at() ? ToUnixMicros(w.started_at()) : 0;
    double sum = 0;
    int n = 0;
    for (const auto& pci : w.accelerator_pci_addresses()) {
      for (const auto& [addr, pct] : activity) {
        if (addr == pci) {
          sum += pct;
          ++n;
          break;
        }
      }
    }
    h.activity_pct = n > 0 ? sum / n : -1;
  }
}

ReportObservation ObserveReport(const provenance::v1::NodeReport& report,
                                const std::vector<WorkloadUsage>& usage, ObservationCache* cache,
                                const ObservationHints* hints) {
  ObservationHints computed;
  if (hints == nullptr || !hints->valid ||
      hints->workloads.size() != static_cast<size_t>(report.workloads_size())) {
    ComputeObservationHints(report, &computed);
    hints = &computed;
  }
  ReportObservation obs;
  const auto& node = report.node();
  obs.node_id = node.node_id();
  obs.hostname = node.hostname();
  obs.datacenter = node.datacenter();
  obs.region = node.region();
  // Only well-formed IP addresses, at most kMaxNodeAddresses: an agent cannot flood the address
  // index (and the validator does not look at this field yet).
  for (const auto& a : node.addresses()) {
    if (obs.addresses.size() >= kMaxNodeAddresses) break;
    if (IsIpAddress(a)) obs.addresses.push_back(a);
  }
  obs.time_us = ToUnixMicros(report.collected_at());
  obs.interval_seconds = report.interval_seconds();
  obs.complete = !report.has_health() || report.health().collector_errors_size() == 0;
  const uint64_t node_key = absl::HashOf(node.node_id());
  obs.accelerators_unchanged =
      cache != nullptr && cache->Unchanged(node_key, hints->accelerators_fingerprint);
  if (!obs.accelerators_unchanged) {
    obs.accelerators.reserve(report.accelerators_size());
    for (const auto& a : report.accelerators()) {
      provenance::v1::AcceleratorFact& f = obs.accelerators.emplace_back();
      f.set_pci_address(a.pci_address());
      f.set_vendor_id(a.vendor_id());
      f.set_device_id(a.device_id());
      f.set_vendor(a.vendor());
      f.set_model(a.model());
      f.set_family(a.family());
      f.set_serial(a.serial());
      f.set_uuid(a.uuid());
    }
  }
  obs.workloads.reserve(report.workloads_size());
  for (int i = 0; i < report.workloads_size(); ++i) {
    const auto& w = report.workloads(i);
    const ObservationHints::Workload& h = hints->workloads[i];
    const bool has_usage = static_cast<size_t>(i) < usage.size();
    WorkloadObservation& o = obs.workloads.emplace_back();
    // The usage's id, account and class are the same values (ledger/usage.h), and already in
    // cache; the parsed Workload is not.
    if (has_usage) {
      o.workload_id = usage[i].workload_id;
      o.account = usage[i].account;
    } else {
      o.workload_id = w.workload_id();
      o.account =
          w.attribution().account().empty() ? kUnattributedAccount : w.attribution().account();
    }
    o.workload_class = has_usage ? usage[i].workload_class : w.workload_class();
    o.started_us = h.started_us;
    o.details_unchanged =
        cache != nullptr &&
        cache->Unchanged(absl::HashOf(node_key, o.workload_id), h.details_fingerprint);
    if (!o.details_unchanged) {
      if (!w.image_digest().empty()) o.digests.push_back(w.image_digest());
      if (!w.cmdline_digest().empty()) o.digests.push_back(w.cmdline_digest());
      for (const auto& d : w.artifact_digests()) {
        o.digests.push_back(d);
        o.artifact_digests.push_back(d);
      }
      o.master_addr = w.distributed().master_addr();
      o.master_port = w.distributed().master_port();
      o.listening_ports.assign(w.listening_ports().begin(), w.listening_ports().end());
      o.accelerators.assign(w.accelerator_pci_addresses().begin(),
                            w.accelerator_pci_addresses().end());
    }
    o.peers.reserve(w.peers_size());
    for (const auto& p : w.peers()) {
      PeerObservation& peer = o.peers.emplace_back();
      peer.address = p.remote_address();
      peer.port = p.remote_port();
      // Bounded by the validator (far below 2^63), so the cast keeps the value.
      if (p.has_interval_bytes_sent()) {
        peer.bytes_sent = static_cast<int64_t>(p.interval_bytes_sent());
      }
      if (p.has_interval_bytes_received()) {
        peer.bytes_received = static_cast<int64_t>(p.interval_bytes_received());
      }
      peer.interval_seconds = report.interval_seconds();
    }
    o.activity_pct = h.activity_pct;
    if (has_usage) {
      const WorkloadUsage& u = usage[i];
      o.usage.workload_class = u.workload_class;
      o.usage.accelerator_count = u.accelerator_count;
      o.usage.accelerator_model = u.accelerator_model;
      o.usage.accelerator_seconds = u.accelerator_seconds;
      o.usage.flop_low = u.flop_low;
      o.usage.flop_high = u.flop_high;
      o.usage.method = u.method;
    }
  }
  return obs;
}

}  // namespace prov::server
