// Benign background for the evaluation: ordinary tenants, one node each, running several jobs in
// turn on two 4-accelerator lanes, none linked to any other account. Job shapes (GPU count,
// relative lifetime) come from the real Alibaba GPU trace and per-report utilisation from the real
// Alibaba GenAI duty-cycle series when those files are given; otherwise they are generated.
// Accounts, sites, models, classes and images are always a synthetic overlay.
//
//   TraceData traces;
//   PROV_ASSIGN_OR_RETURN(traces.duty_cycles, ReadDutyCycles(path));   // optional
//   AddBackground(&ctx, {.nodes = 1800, .workloads = 18000}, traces);
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tools/eval/eval_context.h"
#include "tools/prov-sim/alibaba_trace.h"

namespace prov::eval {

struct TraceData {
  std::vector<sim::JobShape> shapes;  // empty: synthetic shapes
  std::vector<std::vector<float>>
      duty_cycles;  // one 1-minute series per container; empty: synthetic
};

// alibaba_genai_v2026_gpu_duty_cycle.csv (value,timestamp_anon,container_ip): one series per
// container, in time order. Errors name the line and column.
absl::StatusOr<std::vector<std::vector<float>>> ReadDutyCycles(const std::string& path);
absl::StatusOr<std::vector<std::vector<float>>> ParseDutyCycles(const std::string& csv,
                                                                const std::string& source);

struct BackgroundOptions {
  uint32_t nodes = 0;
  uint32_t workloads = 0;
};

// Adds the background tenants (one account and lineage per node) to ctx.
void AddBackground(EvalContext* ctx, const BackgroundOptions& options, const TraceData& traces);

// The public base images every background workload may use (each used by many accounts).
const std::vector<std::string>& PublicImages();

}  // namespace prov::eval
