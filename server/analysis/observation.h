// Observation: the compact evidence the analysis engine keeps from one committed report, copied on
// the ingest writer's thread (the report itself is recycled right after the commit).
//
//   ReportObservation obs = ObserveReport(report, usage);   // usage = ComputeUsage(report, ...)
//   engine.Submit(std::move(obs));
//
// Activity of a workload = mean utilization_pct of its accelerators' samples (tensor_activity x 100
// when a sample has no utilization); -1 when no sample covers it.
//
// With an ObservationCache (owned by the writer thread, one per provd) facts that rarely change
// are sent only when they did: a node's accelerators, and a workload's digests, MASTER_ADDR,
// listening ports and accelerators (`*_unchanged` says they were left out). The cache lives as
// long as the analysis engine it feeds, so the engine always saw the full version first.
//
// ObservationHints: what ObserveReport computes from parts of the report that only it reads
// (samples, digests, ports, start times), computed ahead on the gRPC thread that has just parsed
// the report, while its memory is still in that core's cache; the writer thread then reads
// only what the store has already touched. Plain values, so a recycled one allocates nothing.
//   ObservationHints hints;
//   ComputeObservationHints(report, &hints);                 // any thread
//   ReportObservation obs = ObserveReport(report, usage, &cache, &hints);   // writer thread
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "provenance/v1/analysis_state.pb.h"
#include "provenance/v1/report.pb.h"
#include "server/ledger/usage.h"

namespace prov::server {

inline constexpr size_t kMaxNodeAddresses = 64;

// One socket of a workload. Bytes over the report's interval (NetPeer.interval_bytes_*), -1 when
// the agent could not measure them; interval_seconds: the report's interval (0: unknown).
struct PeerObservation {
  std::string address;
  uint32_t port = 0;
  int64_t bytes_sent = -1;
  int64_t bytes_received = -1;
  uint32_t interval_seconds = 0;
};

// Writer-thread state for ObserveReport's delta encoding: 64-bit fingerprints per node and per
// workload. Not thread-safe; bounded (cleared past kMaxEntries, which only costs full copies).
class ObservationCache {
 public:
  static constexpr size_t kMaxEntries = 1 << 22;
  // True when `fingerprint` equals the one stored for `key` (and stores it otherwise).
  bool Unchanged(uint64_t key, uint64_t fingerprint);

 private:
  absl::flat_hash_map<uint64_t, uint64_t> seen_;
};

struct WorkloadObservation {
  std::string workload_id;
  std::string account;
  int workload_class = 0;
  int64_t started_us = 0;                     // 0: unknown
  std::vector<std::string> digests;           // image, cmdline, artifact digests
  std::vector<std::string> artifact_digests;  // checkpoint/dataset digests only
  std::string master_addr;
  uint32_t master_port = 0;
  std::vector<PeerObservation> peers;
  std::vector<uint32_t> listening_ports;
  double activity_pct = -1;
  std::vector<std::string> accelerators;  // pci addresses
  bool details_unchanged = false;         // digests, master, ports, accelerators left out (cache)
  WorkloadUsage usage;                    // workload_id and account left empty (see above)
};

struct ReportObservation {
  std::string node_id, hostname, datacenter, region;
  std::vector<std::string> addresses;
  std::vector<provenance::v1::AcceleratorFact> accelerators;
  bool accelerators_unchanged = false;  // left out: same as the last report of the node (cache)
  int64_t time_us = 0;                  // collected_at
  uint32_t interval_seconds = 0;
  // No collector failed (AgentHealth.collector_errors empty): the report is a whole snapshot of the
  // node's hardware; an incomplete one proves no card missing.
  bool complete = true;
  std::vector<WorkloadObservation> workloads;
};

struct ObservationHints {
  struct Workload {
    uint64_t details_fingerprint = 0;  // digests, master, listening ports, accelerators
    double activity_pct = -1;
    int64_t started_us = 0;
  };
  bool valid = false;  // computed for the report it travels with
  uint64_t accelerators_fingerprint = 0;
  std::vector<Workload> workloads;  // one per workload, in report order
};

// Fills *hints for `report`, reusing its vector's storage.
void ComputeObservationHints(const provenance::v1::NodeReport& report, ObservationHints* hints);

// hints: ComputeObservationHints of this report, or null (computed here).
ReportObservation ObserveReport(const provenance::v1::NodeReport& report,
                                const std::vector<WorkloadUsage>& usage,
                                ObservationCache* cache = nullptr,
                                const ObservationHints* hints = nullptr);

}  // namespace prov::server
