// Job shapes from the real Alibaba GPU trace (alibaba/clusterdata cluster-trace-gpu-v2023,
// openb_pod_list_default.csv; see ../shared/data/README.md). Only shapes are taken: GPU count,
// fractional GPU share and lifetime. The trace has no accounts or regions: anything prov-sim puts
// on top of these shapes is a synthetic overlay, and prov-sim says so in its output.
//
//   auto shapes = prov::sim::ReadAlibabaPods("../shared/data/traces/alibaba_gpu_v2023_pods.csv");
//   if (!shapes.ok()) ...   // NOT_FOUND "... is missing", or a line/column naming the bad value
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace prov::sim {

struct JobShape {
  std::string name;        // pod name in the trace
  uint32_t num_gpu = 0;    // whole GPUs (pods with 0 GPUs are skipped)
  uint32_t gpu_milli = 0;  // share of each GPU, 1..1000
  int64_t lifetime_s = 0;  // deletion_time - creation_time
};

// Reads the CSV (header required: num_gpu, gpu_milli, creation_time, deletion_time, name).
absl::StatusOr<std::vector<JobShape>> ParseAlibabaPods(const std::string& csv,
                                                       const std::string& source);
absl::StatusOr<std::vector<JobShape>> ReadAlibabaPods(const std::string& path);

}  // namespace prov::sim
