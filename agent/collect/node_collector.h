// NodeCollector: assembles one provenance::v1::NodeReport (everything except seq, which the
// uplink assigns) from injected pieces: sysfs and procfs roots, an optional Nvml, a Clock.
//
//   NodeCollectorOptions opts;
//   opts.sysfs_root = "/sys"; opts.procfs_root = "/proc"; opts.datacenter = "fra1";
//   NodeCollector collector(opts, nvml.get() /* may be null */, RealClock::Get());
//   provenance::v1::NodeReport report = collector.Collect();
//
// Steps: SMBIOS identity (hardware_identity.h) -> PCI scan -> driver sysfs serials/UUIDs ->
// NVIDIA enrichment (driver procfs, then NVML, which wins) -> samples ->
// processes holding accelerator device files plus NVML's compute processes -> workloads grouped
// by cgroup (workload_builder.h) with attribution, classification and network peers; the node's
// own unicast addresses (node_addresses.h) into node.addresses, re-read on every collection;
// per-socket TCP byte counters (tcp_counters.h) for the peers, read once per collection.
// Collector errors go into report.health.collector_errors (counted per collector and message);
// nothing here aborts. Not thread-safe: one collection at a time.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "agent/collect/attribution.h"
#include "agent/collect/kubelet_pods.h"
#include "agent/collect/node_addresses.h"
#include "agent/collect/pod_resources.h"
#include "agent/collect/tcp_counters.h"
#include "agent/nvml/nvml.h"
#include "common/accelerator_catalog.h"
#include "common/clock.h"
#include "provenance/v1/report.pb.h"

namespace prov::agent {

struct NodeCollectorOptions {
  std::string sysfs_root = "/sys";
  std::string procfs_root = "/proc";
  std::string node_id;  // empty: machine id, else hostname
  std::string machine_id_file = "/etc/machine-id";
  std::string hostname;  // the caller resolves it (gethostname in main)
  std::string datacenter, region;
  uint32_t interval_seconds = 10;
  const AcceleratorCatalog* catalog = nullptr;  // nullptr: AcceleratorCatalog::Builtin()
  AttributionConfig attribution;                // chain defaults to kDefaultAttributionChain
  // Kubelet PodList JSON (pod names, labels, annotations, image digests); re-read on every
  // collection because pods come and go. Empty: no pod metadata.
  std::string kubelet_pods_file;
  // Which pod holds which accelerator, from the kubelet's PodResources API (pod_resources.h);
  // nullptr: not used. Asked once per collection; an error is a `podresources` collector error.
  // Not owned.
  PodResourcesSource* pod_resources = nullptr;
  // Where node.addresses come from; nullptr: RealInterfaceAddresses() (getifaddrs). Not owned.
  // Read on every collection: one netlink dump, tens of microseconds, and a renumbered or
  // newly-up interface shows in the very next report (see agent/collect/README.md).
  InterfaceAddressSource* address_source = nullptr;
  // Per-socket TCP byte counters (tcp_counters.h); nullptr: RealTcpCounterSource() (one
  // NETLINK_SOCK_DIAG dump per collection). Not owned. Unreadable: peers carry no counters and
  // the error is a "net_bytes" collector error.
  TcpCounterSource* tcp_counters = nullptr;
};

class NodeCollector {
 public:
  NodeCollector(NodeCollectorOptions options, Nvml* nvml, Clock& clock);

  provenance::v1::NodeReport Collect();
  const std::string& node_id() const { return node_id_; }
  // The agent's watchdog (agent/watchdog/watchdog.h) while it backs off: the period the next
  // reports cover, and whether to skip the expensive collectors (the per-socket TCP byte
  // counters: one sock_diag dump of every socket on the node; a "net_bytes" collector error
  // says they were skipped).
  void set_interval_seconds(uint32_t seconds) { options_.interval_seconds = seconds; }
  void set_skip_expensive(bool skip) { skip_expensive_ = skip; }

 private:
  struct NvmlView;  // per-collection NVML results, see node_collector.cc
  void Enrich(provenance::v1::NodeReport* report, NvmlView* view);

  NodeCollectorOptions options_;
  Nvml* nvml_;  // not owned; may be null
  Clock& clock_;
  std::string node_id_;
  bool skip_expensive_ = false;
  std::unique_ptr<TcpCounterSource> own_tcp_counters_;  // when options_.tcp_counters is null
  TcpVolume tcp_volume_;                                // counters across collections
  // (collector, message) -> count, for the current collection.
  std::map<std::pair<std::string, std::string>, uint64_t> errors_;
};

}  // namespace prov::agent
