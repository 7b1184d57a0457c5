#include "tools/eval/scorer.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"

namespace prov::eval {
namespace {

std::string SubjectKind(const std::string& subject) {
  size_t colon = subject.find(':');
  return colon == std::string::npos ? subject : subject.substr(0, colon);
}

bool Matches(const FlagRecord& f, const ExpectedFlag& e) {
  if (f.rule != e.rule || SubjectKind(f.subject) != e.subject_kind) return false;
  if (!e.subject_id.empty() && f.subject != absl::StrCat(e.subject_kind, ":", e.subject_id)) {
    return false;
  }
  for (const auto& a : e.accounts) {
    if (std::find(f.accounts.begin(), f.accounts.end(), a) == f.accounts.end()) return false;
  }
  for (const auto& n : e.nodes) {
    if (std::find(f.nodes.begin(), f.nodes.end(), n) == f.nodes.end()) return false;
  }
  return true;
}

bool IsHardwareRule(const std::string& rule) { return absl::StartsWith(rule, "hardware_"); }

// The nodes and serials a hardware flag is about: its subject ("node:<id>",
// "accelerator:<serial>" or "accelerator:<node>/<pci>") and Flag.nodes.
std::vector<std::string> HardwareKeys(const FlagRecord& f) {
  std::vector<std::string> keys = f.nodes;
  size_t colon = f.subject.find(':');
  if (colon != std::string::npos) {
    std::string id = f.subject.substr(colon + 1);
    size_t slash = id.find('/');
    keys.push_back(slash == std::string::npos ? id : id.substr(0, slash));
  }
  return keys;
}

// When the expected rule first held in the scenario, as an offset from the run's start.
std::optional<double> ExpectedOffset(const GroundTruth& truth, const FlopModel& model,
                                     const ExpectedFlag& e) {
  if (absl::StartsWith(e.rule, "compute_tier:")) {
    std::string tier = e.rule.substr(strlen("compute_tier:"));
    for (const auto& t : truth.tiers) {
      if (t.name == tier) return model.CrossingOffset(e.accounts, t.flop);
    }
    return std::nullopt;
  }
  if (e.rule == "restricted_party_training") return model.FirstTrainingOffset(e.accounts);
  if (absl::StartsWith(e.rule, "restricted_hardware:")) {
    return model.NodeFirstReportOffset(e.subject_id);
  }
  return std::nullopt;  // screening_hit: a KYC fact, no evidence time
}

std::string Stats(std::vector<double> v, double scale) {
  if (v.empty()) return "-";
  std::sort(v.begin(), v.end());
  double median = v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  return absl::StrFormat("%.1f/%.1f/%.1f", v.front() / scale, median / scale, v.back() / scale);
}

}  // namespace

FlagRecord FlagFromProto(const provenance::v1::Flag& flag) {
  FlagRecord r;
  r.flag_id = flag.flag_id();
  r.rule = flag.rule();
  r.subject = flag.subject();
  r.accounts.assign(flag.accounts().begin(), flag.accounts().end());
  r.nodes.assign(flag.nodes().begin(), flag.nodes().end());
  if (flag.has_first_time()) {
    r.first_time_unix_s = flag.first_time().seconds() + flag.first_time().nanos() / 1e9;
  }
  return r;
}

absl::StatusOr<std::vector<FlagRecord>> ParseFlagsJson(absl::string_view text,
                                                       absl::string_view source) {
  std::string doc(text);
  size_t first = doc.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && doc[first] == '[') doc = absl::StrCat("{\"flags\": ", doc, "}");
  provenance::v1::ListFlagsResponse response;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  auto status = google::protobuf::util::JsonStringToMessage(doc, &response, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": not a list of flags: ", std::string(status.message())));
  }
  std::vector<FlagRecord> out;
  for (const auto& f : response.flags()) out.push_back(FlagFromProto(f));
  return out;
}

absl::StatusOr<Timeline> ParseTimeline(absl::string_view text, absl::string_view source) {
  auto doc = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": not a JSON object"));
  }
  for (const char* key : {"sim_start_unix_micros", "interval_seconds"}) {
    if (!doc.contains(key) || !doc[key].is_number()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": ", key, ": missing or not a number"));
    }
  }
  Timeline t;
  t.sim_start_unix_s = doc["sim_start_unix_micros"].get<double>() / 1e6;
  t.interval_seconds = doc["interval_seconds"].get<uint32_t>();
  return t;
}

ScoreResult Score(const GroundTruth& truth, const FlopModel* model,
                  const std::optional<Timeline>& timeline, const std::vector<FlagRecord>& flags) {
  ScoreResult r;
  r.flags_total = static_cast<int>(flags.size());
  r.delays_known = model != nullptr && timeline.has_value();
  const double interval = truth.interval_seconds;
  absl::flat_hash_map<std::string, std::vector<size_t>> lineages_of;  // account -> lineages
  // node id or serial -> lineages (hardware flags)
  absl::flat_hash_map<std::string, std::vector<size_t>> hardware_of;
  for (size_t i = 0; i < truth.lineages.size(); ++i) {
    for (const auto& a : truth.lineages[i].accounts) lineages_of[a].push_back(i);
    for (const auto& n : truth.lineages[i].nodes) hardware_of[n].push_back(i);
    for (const auto& s : truth.lineages[i].serials) hardware_of[s].push_back(i);
  }
  // Flags touching each lineage.
  std::vector<std::vector<size_t>> touching(truth.lineages.size());
  for (size_t f = 0; f < flags.size(); ++f) {
    // A screening_review is a weak name match queued for a person to clear, not a finding: it
    // neither detects an adversary nor is a false positive. Counted on its own (review load).
    if (absl::StartsWith(flags[f].rule, "screening_review")) {
      ++r.screening_reviews;
      continue;
    }
    absl::flat_hash_set<size_t> seen;
    for (const auto& a : flags[f].accounts) {
      auto it = lineages_of.find(a);
      if (it == lineages_of.end()) continue;
      for (size_t l : it->second) {
        if (seen.insert(l).second) touching[l].push_back(f);
      }
    }
    if (IsHardwareRule(flags[f].rule)) {
      for (const auto& key : HardwareKeys(flags[f])) {
        auto it = hardware_of.find(key);
        if (it == hardware_of.end()) continue;
        for (size_t l : it->second) {
          if (seen.insert(l).second) touching[l].push_back(f);
        }
      }
    }
    if (seen.empty()) ++r.flags_unrelated;
  }
  std::map<std::pair<std::string, std::string>, size_t> row_of;  // (role order, typology)
  auto role_rank = [](const std::string& role) {
    return role == kRoleAdversary ? "0" : role == kRoleLookAlike ? "1" : "2";
  };
  for (const auto& l : truth.lineages) {
    auto key = std::make_pair(absl::StrCat(role_rank(l.role), l.typology), l.typology);
    if (!row_of.count(key)) {
      row_of[key] = r.rows.size();
      TypologyScore row;
      row.typology = l.typology;
      row.role = l.role;
      r.rows.push_back(std::move(row));
    }
  }
  std::vector<absl::flat_hash_set<size_t>> touch_set(r.rows.size()), match_set(r.rows.size()),
      fp_set(r.rows.size());
  for (size_t li = 0; li < truth.lineages.size(); ++li) {
    const Lineage& l = truth.lineages[li];
    size_t row = row_of[{absl::StrCat(role_rank(l.role), l.typology), l.typology}];
    TypologyScore& ts = r.rows[row];
    ++ts.instances;
    absl::flat_hash_set<size_t> matched_here;
    bool all = !l.expected.empty();
    for (const auto& e : l.expected) {
      std::optional<double> best_delay;
      bool found = false;
      for (size_t f : touching[li]) {
        if (!Matches(flags[f], e)) continue;
        found = true;
        matched_here.insert(f);
        if (r.delays_known && flags[f].first_time_unix_s) {
          if (auto off = ExpectedOffset(truth, *model, e)) {
            // Due from the crossing, and no later than when the evidence joining the lineage
            // first existed (Lineage::evidence_offset_s): on time anywhere in between.
            const double lo = timeline->sim_start_unix_s + *off;
            const double hi =
                absl::StartsWith(e.rule, "compute_tier:") && l.evidence_offset_s > *off
                    ? timeline->sim_start_unix_s + l.evidence_offset_s
                    : lo;
            const double t = *flags[f].first_time_unix_s;
            const double d = t < lo ? t - lo : (t > hi ? t - hi : 0);
            if (!best_delay || d < *best_delay) best_delay = d;
          }
        }
      }
      if (!found) {
        all = false;
        std::string with;
        if (!e.accounts.empty() || e.nodes.empty()) {
          with = absl::StrCat(" with accounts ⊇ {", absl::StrJoin(e.accounts, ", "), "}");
        }
        if (!e.nodes.empty()) {
          absl::StrAppend(&with, with.empty() ? " with" : " and", " nodes ⊇ {",
                          absl::StrJoin(e.nodes, ", "), "}");
        }
        r.findings.push_back(absl::StrCat("MISSED  ", l.id, ": no flag ", e.rule, " on ",
                                          e.subject_kind, e.subject_id.empty() ? "" : ":",
                                          e.subject_id, with));
      } else if (best_delay) {
        ts.delays_s.push_back(*best_delay);
        if (*best_delay < -interval) {
          r.findings.push_back(
              absl::StrFormat("EARLY   %s: %s raised %.0f s (%.1f intervals) "
                              "before the rule held (FLOP over-counted?)",
                              l.id, e.rule, -*best_delay, -*best_delay / interval));
        }
        if (*best_delay > interval) {
          r.findings.push_back(
              absl::StrFormat("LATE    %s: %s raised %.0f s (%.1f intervals) after "
                              "the rule first held (and its evidence existed)",
                              l.id, e.rule, *best_delay, *best_delay / interval));
        }
      }
    }
    if (l.role == kRoleAdversary && all) ++ts.detected;
    if (l.role == kRoleAdversary && !all) r.missed.push_back(absl::StrCat(l.id));
    bool fp_here = false;
    for (size_t f : touching[li]) {
      touch_set[row].insert(f);
      if (matched_here.contains(f)) {
        match_set[row].insert(f);
      } else if (l.role != kRoleAdversary) {
        fp_set[row].insert(f);
        fp_here = true;
        r.findings.push_back(absl::StrCat("FALSE+  ", l.id, " (", l.typology,
                                          "): ", flags[f].flag_id, " ", flags[f].rule, " on ",
                                          flags[f].subject));
      }
    }
    if (fp_here) ++ts.flagged;
  }
  // Summary figures.
  absl::flat_hash_map<std::string, std::string> role_of;
  for (const auto& l : truth.lineages) {
    for (const auto& a : l.accounts) role_of.emplace(a, l.role);
    if (l.role != kRoleAdversary) continue;
    ++r.adversaries;
  }
  r.accounts_total = static_cast<int>(role_of.size());
  absl::flat_hash_set<size_t> false_flags;
  for (const auto& set : fp_set) false_flags.insert(set.begin(), set.end());
  absl::flat_hash_set<std::string> benign_flagged;
  for (size_t f : false_flags) {
    ++r.false_flags;
    if (flags[f].rule == "screening_hit" || flags[f].rule == "restricted_party_training") {
      ++r.false_screening_flags;
    }
    if (IsHardwareRule(flags[f].rule)) ++r.false_hardware_flags;
    for (const auto& a : flags[f].accounts) {
      auto it = role_of.find(a);
      if (it != role_of.end() && it->second != kRoleAdversary) benign_flagged.insert(a);
    }
  }
  r.benign_accounts_flagged = static_cast<int>(benign_flagged.size());
  for (const auto& f : flags) {
    if (SubjectKind(f.subject) != "bundle" || f.accounts.size() <= r.largest_bundle) continue;
    r.largest_bundle = f.accounts.size();
    r.largest_bundle_flag = absl::StrCat(f.flag_id, " ", f.rule);
    r.largest_bundle_adversary = 0;
    for (const auto& a : f.accounts) {
      auto it = role_of.find(a);
      r.largest_bundle_adversary += it != role_of.end() && it->second == kRoleAdversary;
    }
  }
  bool goal = r.delays_known;
  for (size_t i = 0; i < r.rows.size(); ++i) {
    TypologyScore& ts = r.rows[i];
    ts.flags_touching = static_cast<int>(touch_set[i].size());
    ts.flags_matching = static_cast<int>(match_set[i].size());
    ts.false_positives = static_cast<int>(fp_set[i].size());
    if (ts.role == kRoleAdversary && ts.detected != ts.instances) goal = false;
    if (ts.false_positives > 0) goal = false;
    for (double d : ts.delays_s) goal = goal && d <= interval && d >= -interval;
  }
  r.goal_met = goal;
  std::stable_sort(r.rows.begin(), r.rows.end(),
                   [&](const TypologyScore& a, const TypologyScore& b) {
                     return std::make_pair(std::string(role_rank(a.role)), a.typology) <
                            std::make_pair(std::string(role_rank(b.role)), b.typology);
                   });
  return r;
}

std::string FormatBundles(const GroundTruth& truth, const std::vector<BundleRecord>& bundles) {
  absl::flat_hash_map<std::string, const Lineage*> lineage_of;
  for (const auto& l : truth.lineages) {
    for (const auto& a : l.accounts) lineage_of.emplace(a, &l);
  }
  int mixed = 0, adversary_with_benign = 0;
  const BundleRecord* largest = nullptr;
  size_t largest_lineages = 0;
  int largest_adversary = 0;
  for (const auto& b : bundles) {
    absl::flat_hash_set<const Lineage*> lineages;
    int adversary = 0, benign = 0;
    for (const auto& a : b.accounts) {
      auto it = lineage_of.find(a);
      if (it == lineage_of.end()) continue;
      lineages.insert(it->second);
      (it->second->role == kRoleAdversary ? adversary : benign) += 1;
    }
    mixed += lineages.size() > 1;
    adversary_with_benign += adversary > 0 && benign > 0;
    if (largest == nullptr || b.accounts.size() > largest->accounts.size()) {
      largest = &b;
      largest_lineages = lineages.size();
      largest_adversary = adversary;
    }
  }
  std::string out = absl::StrFormat(
      "bundles: %d; %d join accounts of different lineages, %d of them an adversary's with benign "
      "accounts",
      bundles.size(), mixed, adversary_with_benign);
  if (largest != nullptr) {
    absl::StrAppendFormat(&out, "; largest %s: %d accounts from %d lineages (%d adversary)",
                          largest->bundle_id, largest->accounts.size(), largest_lineages,
                          largest_adversary);
  }
  return out + "\n";
}

std::string FormatScore(const ScoreResult& r, const GroundTruth& truth) {
  const double interval = truth.interval_seconds;
  std::string out = absl::StrFormat(
      "prov-eval-score: %s (seed %d, %d lineages, interval %d s)\n"
      "data: %s\n"
      "tiers (SCALED for the simulation):",
      truth.scenario, truth.seed, truth.lineages.size(), truth.interval_seconds,
      truth.provenance_note);
  for (const auto& t : truth.tiers) absl::StrAppendFormat(&out, " %s=%.3g", t.name, t.flop);
  absl::StrAppendFormat(&out, "\nflags: %d (%d touch no lineage)\n\n", r.flags_total,
                        r.flags_unrelated);
  absl::StrAppendFormat(&out, "%-28s %-17s %5s %8s %6s %6s %6s %9s %4s %-20s %s\n", "typology",
                        "role", "inst", "detected", "recall", "flags", "match", "precision", "FP",
                        "delay s min/med/max", "delay intervals");
  for (const auto& t : r.rows) {
    std::string detected = t.role == kRoleAdversary ? absl::StrCat(t.detected)
                                                    : absl::StrCat("(", t.flagged, " flagged)");
    std::string recall = t.role == kRoleAdversary && t.instances > 0
                             ? absl::StrFormat("%.2f", double(t.detected) / t.instances)
                             : "-";
    std::string precision =
        t.flags_touching > 0 ? absl::StrFormat("%.2f", double(t.flags_matching) / t.flags_touching)
                             : "-";
    absl::StrAppendFormat(&out, "%-28s %-17s %5d %8s %6s %6d %6d %9s %4d %-20s %s\n", t.typology,
                          t.role, t.instances, detected, recall, t.flags_touching, t.flags_matching,
                          precision, t.false_positives, Stats(t.delays_s, 1),
                          Stats(t.delays_s, interval));
  }
  if (!r.findings.empty()) {
    out += "\n";
    size_t shown = 0;
    for (const auto& f : r.findings) {
      if (++shown > 40) {
        absl::StrAppend(&out, "... and ", r.findings.size() - 40, " more\n");
        break;
      }
      absl::StrAppend(&out, f, "\n");
    }
  }
  absl::StrAppendFormat(
      &out,
      "\nsummary: %d accounts; false screening flags %d (%.1f per 1,000 accounts); false flags "
      "%d on %d benign accounts; false hardware flags %d; screening reviews %d (%.1f per 1,000 "
      "accounts); largest flagged "
      "bundle %d accounts (%d adversary)%s; missed adversaries %d of %d%s%s\n",
      r.accounts_total, r.false_screening_flags,
      r.accounts_total > 0 ? 1000.0 * r.false_screening_flags / r.accounts_total : 0.0,
      r.false_flags, r.benign_accounts_flagged, r.false_hardware_flags, r.screening_reviews,
      r.accounts_total > 0 ? 1000.0 * r.screening_reviews / r.accounts_total : 0.0,
      r.largest_bundle, r.largest_bundle_adversary,
      r.largest_bundle_flag.empty() ? "" : absl::StrCat(" ", r.largest_bundle_flag),
      r.missed.size(), r.adversaries, r.missed.empty() ? "" : ": ", absl::StrJoin(r.missed, ", "));
  absl::StrAppend(&out,
                  "\ngoal (every adversary detected, no look-alike or background flagged, "
                  "every delay <= one interval): ",
                  !r.delays_known ? "UNKNOWN (no timeline: delays cannot be computed)"
                  : r.goal_met    ? "MET"
                                  : "MISSED",
                  "\n");
  return out;
}

}  // namespace prov::eval
