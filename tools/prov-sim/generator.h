// The default fleet generator: a deterministic (per --seed) synthetic Scenario, optionally with
// job shapes (GPU count, lifetime) drawn from the real Alibaba trace (alibaba_trace.h).
//
//   prov::sim::FleetOptions opts{.nodes = 100, .datacenters = 4, .accounts = 20};
//   prov::sim::v1::Scenario s = prov::sim::GenerateFleet(opts, /*shapes=*/nullptr);
//
// Everything it invents (accounts, data centres, regions, IPs, workload classes, distributed
// markers) is synthetic; Scenario.provenance_note says so and prov-sim prints it.
#pragma once

#include <cstdint>
#include <vector>

#include "tools/prov-sim/alibaba_trace.h"
#include "tools/prov-sim/scenario.pb.h"

namespace prov::sim {

struct FleetOptions {
  uint32_t nodes = 10;
  uint32_t datacenters = 2;
  uint32_t accounts = 5;
  uint32_t workloads_per_node = 2;
  uint32_t interval_seconds = 10;
  uint32_t reports_per_node = 6;
  uint64_t seed = 1;
  int64_t start_unix_seconds = 0;  // 0: now, chosen by the driver
};

v1::Scenario GenerateFleet(const FleetOptions& options, const std::vector<JobShape>* shapes);

}  // namespace prov::sim
