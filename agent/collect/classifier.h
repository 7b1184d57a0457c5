// Training/inference classifier: readable rules over what the agent already read in memory
// (argv of each process and its parent, allow-listed environment, network shape, memory use).
//
//   ClassifierInput in{.processes = {&p1, &p2}, .inbound_peer_addresses = 0};
//   Classification c = Classify(in);
//   c.workload_class, c.confidence (0..1), c.reasons ("launcher torchrun", ...), c.launcher
//
// Each rule adds weight to "training" or "inference"; weights combine as 1 - prod(1 - w). The
// larger side wins when it reaches 0.3, else UNKNOWN; confidence is winner - loser / 2. Serving
// launchers (vllm serve, vllm.entrypoints, trtllm-serve, tritonserver, TGI, sglang.launch_server)
// weigh 0.9, so serving with RANK/WORLD_SIZE (tensor-parallel vLLM) stays inference: ranks alone
// weigh only 0.2. Reasons name rules and launchers, never argument values or paths.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "agent/collect/process_scanner.h"
#include "provenance/v1/report.pb.h"

namespace prov::agent {

struct ClassifierInput {
  std::vector<const ProcessInfo*> processes;
  size_t inbound_peer_addresses = 0;  // distinct clients of the workload's listening ports
  std::optional<uint64_t> memory_used_bytes =
      std::nullopt;  // accelerator memory the workload uses (NVML)
};

struct Classification {
  provenance::v1::WorkloadClass workload_class = provenance::v1::WORKLOAD_CLASS_UNKNOWN;
  double confidence = 0;
  std::vector<std::string> reasons;
  std::string launcher;  // "torchrun", "deepspeed", "accelerate", "megatron", "vllm", ...
  provenance::v1::DistributedMarkers markers;  // lowest RANK/LOCAL_RANK among the processes
};

inline constexpr size_t kManyInboundPeers = 4;

Classification Classify(const ClassifierInput& input);

// Model size named in argv ("...-70B...", "7b"), in parameters; exposed for tests.
std::optional<double> ModelSizeHint(const std::vector<std::string>& argv);

}  // namespace prov::agent
