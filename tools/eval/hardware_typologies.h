// prov-eval-gen's hardware typologies (issue 10): one adversary per hardware event of prov-sim
// (tools/prov-sim/hardware_plan.h) and the look-alikes that must not be flagged, with ground truth
// in the contract of the reconciliation rules (hardware_relabelled, hardware_moved,
// hardware_cloned_identity, hardware_silent, hardware_undeclared, hardware_assignment; see
// tools/eval/README.md). Internal to tools/eval.
//
//   PROV_RETURN_IF_ERROR(AddHardwareTypologies(&ctx, inst, dc_base));   // once per instance set
//
// Adversary events happen at report reports/4; the look-alikes' declared events (RMA swap,
// planned move, maintenance) at reports/2, recorded by a re-import prov-sim writes beside the
// declared inventory and runs before that report (--inventory-out / --inventory-command).
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "tools/eval/eval_context.h"

namespace prov::eval {

inline constexpr uint32_t kHardwareNodesPerInstance = 15;

absl::Status AddHardwareTypologies(EvalContext* ctx, int inst, int dc_base);
// Typologies added here (adversaries "h_*" and their look-alikes): no compute tier expected.
bool IsHardwareTypology(const std::string& typology);

}  // namespace prov::eval
