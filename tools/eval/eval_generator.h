// prov-eval-gen's generator: an adversarial evaluation scenario with ground truth.
//
//   EvalOptions o{.nodes = 2000, .workloads = 20000, .seed = 7};
//   PROV_ASSIGN_OR_RETURN(EvalOutput out, GenerateEval(o, csl, traces));
//   // out.scenario (prov-sim), out.accounts_csv (KYC), out.policy_yaml, out.truth, out.checks
//
// Adversary typologies (each at least `instances` times), benign look-alikes and background are
// described in tools/eval/README.md. Compute tiers are SCALED to the simulation: tier 1 is set so
// that one adversary account alone stays below it and each compute lineage crosses it combined,
// and it is above every background account (checked; a failed check is an error). Deterministic
// for a given seed and inputs.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "server/screening/csl_list.h"
#include "tools/eval/background.h"
#include "tools/eval/ground_truth.h"
#include "tools/eval/population.h"
#include "tools/prov-sim/scenario.pb.h"

namespace prov::eval {

struct EvalOptions {
  uint32_t nodes = 100;
  uint32_t workloads = 400;
  uint32_t instances = 0;  // per typology; 0: max(1, nodes / 400)
  uint32_t interval_seconds = 60;
  uint32_t reports = 60;
  uint64_t seed = 1;
  std::string traces_note;  // what the traces were (for provenance_note); "" when none
  // --preset realistic: realistic background (realistic_background.h, KYC from `names`, which
  // must then be set), adversaries f and g, look-alike shared_tracker, and varied a, c, d.
  bool realistic = false;
  uint32_t dormant_accounts = 0;      // realistic: KYC-only accounts
  const NameTables* names = nullptr;  // realistic: name tables (not owned)
  // Hardware typologies and their look-alikes (hardware_typologies.h). prov-eval-gen turns them
  // off for --preset realistic unless --hardware is given (its published figures predate them).
  bool hardware = true;
};

struct EvalOutput {
  sim::v1::Scenario scenario;
  std::string accounts_csv;
  std::string policy_yaml;
  GroundTruth truth;
  // The declared inventory: "inventory.csv" and the re-imports "inventory.at-<K>.csv" (prov-sim
  // writes the same files with --inventory-out; tools/prov-sim/inventory.h), name -> CSV.
  std::vector<std::pair<std::string, std::string>> inventory_files;
  std::vector<std::string> checks;  // what was verified, in words
};

// Lineage nodes and workloads per instance set (every typology and look-alike once); the hardware
// typologies add kHardwareNodesPerInstance (hardware_typologies.h) nodes.
inline constexpr uint32_t kNodesPerInstance = 33;
// Added per instance set by the realistic mode (f: 4, g: 6, shared tracker: 3).
inline constexpr uint32_t kRealisticNodesPerInstance = 13;

absl::StatusOr<EvalOutput> GenerateEval(const EvalOptions& options, const screening::CslList& csl,
                                        const TraceData& traces);

// The KYC CSV for the rows (header of server/kyc/kyc_parser.h).
std::string AccountsCsv(const std::vector<AccountRow>& rows);

}  // namespace prov::eval
