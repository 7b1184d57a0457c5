// prov-eval-score's scoring: provd's flags against the ground truth.
//
//   PROV_ASSIGN_OR_RETURN(std::vector<FlagRecord> flags, ParseFlagsJson(text, "flags.json"));
//   FlopModel model = FlopModel::Compute(scenario, AcceleratorCatalog::Builtin());
//   ScoreResult r = Score(truth, &model, timeline, flags);
//   std::cout << FormatScore(r, truth);   // one row per typology; r.goal_met
//
// Matching (precisely): a flag matches an expected flag E of a lineage when its rule equals E's
// rule, its subject is of E's kind ("bundle:", "account:", "node:") and, when E names a subject
// (account or node id), is exactly that subject, and the flag's accounts include EVERY account E
// lists (a superset matches: for compute tiers E lists all the lineage's training accounts, so a
// bundle that holds only some of them does not count). An adversary instance is detected when
// every one of its expected flags is matched. A flag "touches" a lineage when it shares an account
// with it. Precision per typology = flags touching it that match one of its expected flags / all
// flags touching it. A false positive is a flag touching a look-alike or background lineage that
// matches none of that lineage's expected flags (they have none). Detection delay = the flag's
// first_time (evidence time) - the time the rule first held in the scenario: the report on which
// the lineage's combined training FLOP (provd's ledger formula, FlopModel) reached the tier, the
// first training report (restricted party), the node's first report (restricted hardware is in
// its inventory from then on); screening hits have no evidence time and no delay. A compute
// flag of a lineage whose linking evidence only exists later (Lineage::evidence_offset_s: the
// rhythm typology's shared cycles) is on time anywhere from the crossing to that evidence time;
// later than both, its delay is measured from the later of the two.
// Hardware rules (hardware_*; issue 10): E names the subject ("accelerator:<serial>" or
// "node:<id>") and, for moves and clones, the nodes the flag must list (Flag.nodes ⊇ E.nodes).
// A hardware_* flag also touches a lineage when its subject or any of its nodes is one of the
// lineage's nodes or serials (or "accelerator:<node>/<pci>" names one of its nodes), so any
// hardware_* flag on a look-alike's or background's hardware is a false positive. Hardware
// flags have no delay (silence is judged on provd's clock, not the scenario's).
// Goal: every adversary detected, no false positive, every delay within one report interval
// (a flag more than one interval EARLY means FLOP was over-counted and also misses the goal).
// Summary: false screening flags (screening_hit / restricted_party_training on benign accounts)
// per 1,000 accounts, benign accounts flagged, the largest flagged bundle and the missed
// adversaries.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "provenance/v1/analysis.pb.h"
#include "tools/eval/flop_model.h"
#include "tools/eval/ground_truth.h"

namespace prov::eval {

struct FlagRecord {
  std::string flag_id;
  std::string rule;
  std::string subject;  // "bundle:B-...", "account:x", "node:y"
  std::vector<std::string> accounts;
  std::optional<double> first_time_unix_s;
  std::vector<std::string> nodes;  // Flag.nodes
};

FlagRecord FlagFromProto(const provenance::v1::Flag& flag);
// `provctl flags list -o json` output: {"flags": [Flag, ...]} or a bare array of Flag (proto3
// JSON); unknown fields are ignored.
absl::StatusOr<std::vector<FlagRecord>> ParseFlagsJson(absl::string_view text,
                                                       absl::string_view source);

struct Timeline {
  double sim_start_unix_s = 0;
  uint32_t interval_seconds = 0;
};
// prov-sim --timeline-out JSON.
absl::StatusOr<Timeline> ParseTimeline(absl::string_view text, absl::string_view source);

struct TypologyScore {
  std::string typology;
  std::string role;
  int instances = 0;
  int detected = 0;  // adversaries: every expected flag matched
  int flagged = 0;   // look-alikes and background: lineages with a false positive
  int flags_touching = 0;
  int flags_matching = 0;
  int false_positives = 0;
  std::vector<double> delays_s;
};

struct ScoreResult {
  std::vector<TypologyScore> rows;
  std::vector<std::string> findings;  // misses, false positives, late flags, in words
  int flags_total = 0;
  int flags_unrelated = 0;  // touching no lineage of the ground truth
  // The summary line (realistic evaluations): what a new user would see.
  int accounts_total = 0;            // accounts in the ground truth
  int false_flags = 0;               // distinct flags that are a false positive somewhere
  int false_screening_flags = 0;     // of those, rule screening_hit or restricted_party_training
  int false_hardware_flags = 0;      // of those, rule hardware_*
  int benign_accounts_flagged = 0;   // look-alike or background accounts in a false positive
  int screening_reviews = 0;         // screening_review flags (weak matches for a person to clear)
  size_t largest_bundle = 0;         // accounts of the largest bundle flag
  int largest_bundle_adversary = 0;  // of those, adversary accounts
  std::string largest_bundle_flag;   // "<flag id> <rule>"
  int adversaries = 0;
  std::vector<std::string> missed;  // adversary lineages not detected ("L-f-001 (f_...)")
  bool delays_known = false;
  bool goal_met = false;
};

// provd's bundles (AnalysisService.ListBundles), flagged or not.
struct BundleRecord {
  std::string bundle_id;
  std::vector<std::string> accounts;
};
// One line: bundles, those joining accounts of different lineages of the ground truth (and of
// those, the ones joining an adversary with benign accounts), and the largest bundle (accounts,
// lineages, adversary accounts).
std::string FormatBundles(const GroundTruth& truth, const std::vector<BundleRecord>& bundles);

// `model` and `timeline` may be null / empty: delays are then unknown (and the goal unmet).
ScoreResult Score(const GroundTruth& truth, const FlopModel* model,
                  const std::optional<Timeline>& timeline, const std::vector<FlagRecord>& flags);
std::string FormatScore(const ScoreResult& result, const GroundTruth& truth);

}  // namespace prov::eval
