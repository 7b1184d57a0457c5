// Ground truth of an evaluation scenario: every lineage (adversary, benign look-alike or
// background), its accounts and the flags provd is expected to raise for it, plus the scaled tiers.
// Written by prov-eval-gen as ground_truth.json, read by prov-eval-score.
//
//   GroundTruth truth = ...;                       // built by GenerateEval (eval_generator.h)
//   std::string json = GroundTruthToJson(truth);
//   PROV_ASSIGN_OR_RETURN(GroundTruth back, ParseGroundTruth(json, "ground_truth.json"));
//
// An expected flag names its rule, the kind of its subject ("bundle", "account", "node") and the
// accounts the flag must include (a superset is a match; see scorer.h). Pure; thread-compatible.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace prov::eval {

inline constexpr char kRoleAdversary[] = "adversary";
inline constexpr char kRoleLookAlike[] = "benign-look-alike";
inline constexpr char kRoleBackground[] = "background";

struct ExpectedFlag {
  std::string rule;          // "compute_tier:eval-tier-1", "screening_hit", "hardware_moved", ...
  std::string subject_kind;  // "bundle", "account", "node", "accelerator"
  // node id for "node", account id for "account", serial for "accelerator"; "" for bundles
  std::string subject_id;
  std::vector<std::string> accounts;  // the flag's accounts must include all of these
  std::vector<std::string> nodes;     // and its nodes all of these (hardware rules)
};

struct Lineage {
  std::string id;        // "L-a-001"
  std::string typology;  // "a_shell_accounts", "lookalike_large_customer", "background", ...
  std::string role;      // kRoleAdversary, kRoleLookAlike, kRoleBackground
  std::string description;
  std::vector<std::string> accounts;           // every account of the lineage (trainers first)
  std::vector<std::string> training_accounts;  // the accounts whose training FLOP adds up
  std::vector<std::string> nodes;
  // Serials of the lineage's cards (hardware typologies): a hardware_* flag on one of them, or on
  // one of its nodes, touches the lineage (scorer.h).
  std::vector<std::string> serials;
  std::vector<ExpectedFlag> expected;
  double combined_flop_low = 0;     // the lineage's accounts' training FLOP over the whole run
  double max_account_flop_low = 0;  // its largest single account
  // Simulated seconds after the start from which the evidence linking the lineage's accounts
  // exists (-1: from their first reports). A compute flag is due once the tier is crossed AND
  // this evidence exists; before it, no detector can join the accounts. Set for the rhythm
  // typology, whose evidence is the accumulation of shared jittered cycles (eval_generator.cc
  // "RhythmEvidenceOffset"); `evidence_note` says how it was derived.
  double evidence_offset_s = -1;
  std::string evidence_note;
};

struct Tier {
  std::string name;
  double flop = 0;
};

struct GroundTruth {
  std::string scenario;
  uint64_t seed = 0;
  uint32_t interval_seconds = 0;
  uint32_t reports_per_node = 0;
  std::string provenance_note;  // what is real and what is synthetic
  std::vector<Tier> tiers;      // ascending, as in policy.yaml
  double screening_min_score = 0;
  double max_background_account_flop_low = 0;
  std::vector<Lineage> lineages;
};

std::string GroundTruthToJson(const GroundTruth& truth);
// Errors name the field ("lineages[3].expected[0].rule: missing").
absl::StatusOr<GroundTruth> ParseGroundTruth(absl::string_view json, absl::string_view source);

}  // namespace prov::eval
