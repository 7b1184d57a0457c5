// Observation: the compact evidence the analysis engine keeps from one committed report, copied on
// the ingest writer's thread (the report itself is recycled right after the commit).
//
//   ReportObservation obs = ObserveReport(report, usage);   // usage = ComputeUsage(report, ...)
//   engine.Submit(std::move(obs));
//
// Activity of a workload = mean utilization_pct of its accelerators' samples (tensor_activity x 100
// when a sample has no utilization); -1 when no sample covers it. Pure; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "provenance/v1/analysis_state.pb.h"
#include "provenance/v1/report.pb.h"
#include "server/ledger/usage.h"

namespace prov::server {

struct PeerObservation {
  std::string address;
  uint32_t port = 0;
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
  WorkloadUsage usage;
};

struct ReportObservation {
  std::string node_id, hostname, datacenter, region;
  std::vector<std::string> addresses;
  std::vector<provenance::v1::AcceleratorFact> accelerators;
  int64_t time_us = 0;  // collected_at
  uint32_t interval_seconds = 0;
  std::vector<WorkloadObservation> workloads;
};

ReportObservation ObserveReport(const provenance::v1::NodeReport& report,
                                const std::vector<WorkloadUsage>& usage);

}  // namespace prov::server
