// ReportFactory: builds the synthetic ~2 KB NodeReports the ingest benchmark sends.
//
//   ReportFactory factory;
//   provenance::v1::NodeReport report = factory.MakeTemplate(/*agent_index=*/42);
//   factory.Stamp(report, /*seq=*/1, absl::Now());   // per send: seq and collected_at
//   size_t bytes = report.ByteSizeLong();              // about 2 KB
//
// Each template describes one 8-GPU H100 SXM5 node (real PCI IDs 0x10de:0x2330, NVML-style
// UUIDs and serials), 8 samples, 10 workloads (Slurm jobs and Kubernetes pods) with attribution,
// distributed-training markers, command-line and image digests and a few network peers, so the
// target does the same validation and ledger work a real fleet would cause. Node ids and boot ids
// are unique per agent_index, so a server that deduplicates stores every report.
//
// Thread-safety: stateless; safe from any thread.
#pragma once

#include <cstdint>

#include "absl/time/time.h"
#include "provenance/v1/report.pb.h"

namespace prov::bench {

class ReportFactory {
 public:
  static constexpr int kAccelerators = 8;
  static constexpr int kWorkloads = 10;
  static constexpr uint32_t kIntervalSeconds = 10;

  provenance::v1::NodeReport MakeTemplate(int agent_index) const;
  // Sets seq and collected_at; everything else stays as the template made it.
  static void Stamp(provenance::v1::NodeReport& report, uint64_t seq, absl::Time now);
};

}  // namespace prov::bench
