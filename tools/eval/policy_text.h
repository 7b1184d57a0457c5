// The evaluation policy (policy.yaml written by prov-eval-gen): deploy/policy/default.yaml with
// compute tiers SCALED to the simulation's length (labelled as such in description and basis) and
// projection off (horizon 0h). Everything else (jurisdictions, screening min_score, restricted
// hardware, correlation weights and windows) is the default policy's.
//
//   std::string yaml = EvalPolicyYaml(truth, options);   // truth.tiers must be set
#pragma once

#include <string>

#include "tools/eval/eval_generator.h"
#include "tools/eval/ground_truth.h"

namespace prov::eval {

std::string EvalPolicyYaml(const GroundTruth& truth, const EvalOptions& options);

}  // namespace prov::eval
