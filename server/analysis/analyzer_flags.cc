// Analyzer, part 2: the policy's rules over bundles, accounts and nodes; flags; queries.
#include <algorithm>
#include <cmath>
#include <functional>
#include <map>

#include "absl/functional/function_ref.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "server/analysis/analyzer.h"
#include "server/analysis/analyzer_internal.h"
#include "server/analysis/analyzer_state.h"

namespace prov::server {
namespace {

using provenance::v1::Flag;

constexpr size_t kMaxListed = 200;  // entities listed on a flag or bundle
constexpr size_t kMaxLinkEvidence = 25;
constexpr int64_t kMicrosPerDay = int64_t{86400} * 1000000;

provenance::v1::Severity ToProto(policy::Severity s) {
  return static_cast<provenance::v1::Severity>(static_cast<int>(s) + 1);
}

std::string Eng(double v) { return absl::StrFormat("%.2g", v); }

template <typename Set>
void Fill(google::protobuf::RepeatedPtrField<std::string>* out, const Set& values) {
  out->Clear();
  size_t n = 0;
  for (const auto& v : values) {
    if (n++ == kMaxListed) break;
    out->Add(std::string(v));
  }
}

struct BundleTotals {
  double low = 0, high = 0, seconds = 0;
  std::string method;
  bool trains = false;
  std::vector<std::string> restricted;    // reasons
  int64_t restricted_first_train_us = 0;  // earliest training report of a restricted account
  std::vector<std::string> restricted_accounts, training_accounts;
  int64_t first_train_us = 0;  // earliest training report of any member
};

BundleTotals Totals(const Analyzer::State& s, const BundleState& b) {
  BundleTotals t;
  for (const std::string& a : b.accounts) {
    auto it = s.accounts.find(a);
    if (it == s.accounts.end()) continue;
    t.low += it->second.training_low;
    t.high += it->second.training_high;
    t.seconds += it->second.training_seconds;
    t.method = MergeMethods(t.method, it->second.method);
    t.trains = t.trains || it->second.trains;
    for (const auto& r : it->second.restricted_reasons) t.restricted.push_back(r);
    if (!it->second.restricted_reasons.empty()) t.restricted_accounts.push_back(a);
    if (it->second.trains) t.training_accounts.push_back(a);
    if (it->second.first_train_us > 0 &&
        (t.first_train_us == 0 || it->second.first_train_us < t.first_train_us)) {
      t.first_train_us = it->second.first_train_us;
    }
    if (!it->second.restricted_reasons.empty() && it->second.first_train_us > 0 &&
        (t.restricted_first_train_us == 0 ||
         it->second.first_train_us < t.restricted_first_train_us)) {
      t.restricted_first_train_us = it->second.first_train_us;
    }
  }
  return t;
}

}  // namespace

// Creates or updates the flag for (rule, subject). `material` says what the flag rests on; an
// unchanged `material` leaves the flag as it is (no new revision for every report).
void UpsertFlag(Analyzer::State& s, const std::string& rule, const std::string& subject,
                policy::Severity severity, const std::string& material,
                absl::FunctionRef<int64_t()> first_us, int64_t evidence_us, absl::Time now,
                const std::function<void(Flag&)>& fill) {
  const std::string key = absl::StrCat(rule, "|", subject);
  auto id_it = s.flag_by_key.find(key);
  Flag* flag;
  if (id_it == s.flag_by_key.end()) {
    const std::string id = absl::StrFormat("F-%06d", s.next_flag++);
    flag = &s.flags[id];
    flag->set_flag_id(id);
    flag->set_rule(rule);
    flag->set_subject(subject);
    flag->set_status(provenance::v1::FLAG_STATUS_OPEN);
    SetTimestamp(flag->mutable_first_time(), first_us());
    SetTimestamp(flag->mutable_raised_at(), absl::ToUnixMicros(now));
    s.flag_by_key[key] = id;
  } else {
    flag = &s.flags.at(id_it->second);
    if (s.flag_material[flag->flag_id()] == material) return;
  }
  s.flag_material[flag->flag_id()] = material;
  flag->set_severity(ToProto(severity));
  fill(*flag);
  SetTimestamp(flag->mutable_last_time(), evidence_us);
  SetTimestamp(flag->mutable_updated_at(), absl::ToUnixMicros(now));
  flag->set_revision(flag->revision() + 1);
  s.changed_flags.insert(flag->flag_id());
}

// The report time at which the bundle's training FLOP first reached `threshold`, replaying its
// accounts' histories in report-time order (so a late, out-of-order burst of reports does not
// move the date). `fallback` when the histories do not reach it (they were compacted).
static int64_t CrossingTime(const Analyzer::State& s, const BundleState& b, double threshold,
                            int64_t fallback) {
  std::vector<std::pair<int64_t, double>> all;
  for (const std::string& a : b.accounts) {
    auto it = s.accounts.find(a);
    if (it == s.accounts.end()) continue;
    all.insert(all.end(), it->second.history.begin(), it->second.history.end());
  }
  std::sort(all.begin(), all.end());
  double sum = 0;
  for (const auto& [us, flop] : all) {
    sum += flop;
    if (sum >= threshold) return us;
  }
  return fallback;
}

// The context every screening flag on `acct` carries: the policy, KYC and list versions it was
// judged under, the account, and its bundle if it has one.
static void SetScreeningFlagContext(Flag& f, const Analyzer::State& s, const policy::Policy& p,
                                    const std::string& acct) {
  f.set_policy_version(p.version);
  f.set_kyc_version(s.kyc_version);
  f.set_screening_list_version(s.screening_list_version);
  f.clear_accounts();
  f.add_accounts(acct);
  auto b = s.account_bundle.find(acct);
  if (b != s.account_bundle.end()) f.set_bundle_id(b->second);
}

// Issue 9: one screening_review flag per (account, list entry version) with weak matches; its case
// is how a person clears them ("resolve" with disposition false_positive and the reason). The
// material leaves out list and KYC versions, so re-imports do not touch a cleared review.
static void UpsertScreeningReviews(
    Analyzer::State& s, const policy::Policy& p, const std::string& acct,
    const std::map<std::string, std::vector<const provenance::v1::ScreeningMatch*>>& weak,
    absl::Time now) {
  const int64_t now_us = absl::ToUnixMicros(now);
  for (const auto& [rule, matches] : weak) {
    std::string material;
    for (const auto* m : matches) {
      absl::StrAppend(&material, m->subject_kind(), "|", m->subject_name(), "|", m->entry_name(),
                      ";");
    }
    UpsertFlag(
        s, rule, absl::StrCat("account:", acct), policy::Severity::kMedium, material,
        [&] { return now_us; }, now_us, now,
        [&](Flag& f) {
          const auto* best = matches.front();
          SetScreeningFlagContext(f, s, p, acct);
          f.set_summary(absl::StrCat(
              "Screening review: ", best->subject_kind(), " \"", best->subject_name(),
              "\" of account ", acct, " weakly matches \"", best->entry_name(), "\" (",
              best->entry_source(), ", entry ", best->entry_id(), "): clear it or confirm it"));
          f.clear_evidence();
          for (const auto* m : matches) {
            auto* e = f.add_evidence();
            e->set_kind("screening");
            e->set_sentence(absl::StrCat(
                "weak match: ", m->subject_kind(), " \"", m->subject_name(), "\" ~ ",
                m->matched_alias() ? "alias " : "", "\"", m->entry_name(), "\" (entry ",
                m->entry_id(), " content ", m->entry_content_hash(), ", ", m->entry_source(),
                ") score ", absl::StrFormat("%.2f", m->score()), ": ",
                absl::StrJoin(m->reasons(), "; "), " [list ", m->list_version(), ", KYC version ",
                m->kyc_version(), "]"));
            SetTimestamp(e->mutable_time(), now_us);
          }
        });
  }
}

void MoveFlags(Analyzer::State& s, const std::string& from, const std::string& to) {
  const std::string from_subject = absl::StrCat("bundle:", from);
  const std::string to_subject = absl::StrCat("bundle:", to);
  for (auto& [id, flag] : s.flags) {
    if (flag.subject() != from_subject) continue;
    const std::string old_key = absl::StrCat(flag.rule(), "|", from_subject);
    const std::string new_key = absl::StrCat(flag.rule(), "|", to_subject);
    s.flag_by_key.erase(old_key);
    auto existing = s.flag_by_key.find(new_key);
    if (existing == s.flag_by_key.end()) {
      flag.set_subject(to_subject);
      flag.set_bundle_id(to);
      s.flag_by_key[new_key] = id;
      s.flag_material.erase(id);  // re-evaluated with the merged bundle
    } else {
      flag.set_summary(absl::StrCat("Merged into ", existing->second, " when bundle ", from,
                                    " joined ", to, ": ", flag.summary()));
      flag.set_status(provenance::v1::FLAG_STATUS_RESOLVED);
      flag.set_disposition(provenance::v1::DISPOSITION_DUPLICATE);
      flag.set_revision(flag.revision() + 1);
    }
    s.changed_flags.insert(id);
  }
}

const Flag* Analyzer::SetFlagCase(const std::string& flag_id, provenance::v1::FlagStatus status,
                                  provenance::v1::Disposition disposition,
                                  const std::string& assignee, absl::Time updated_at) {
  State& s = *s_;
  auto it = s.flags.find(flag_id);
  if (it == s.flags.end()) return nullptr;
  Flag& flag = it->second;
  flag.set_status(status);
  flag.set_disposition(disposition);
  flag.set_assignee(assignee);
  SetTimestamp(flag.mutable_case_updated_at(), absl::ToUnixMicros(updated_at));
  SetTimestamp(flag.mutable_updated_at(), absl::ToUnixMicros(updated_at));
  flag.set_revision(flag.revision() + 1);
  s.changed_flags.insert(flag_id);
  return &flag;
}

void Analyzer::Evaluate(absl::Time now) {
  State& s = *s_;
  const policy::Policy& p = *policy_;
  const int64_t now_us = absl::ToUnixMicros(now);
  for (const std::string& id : s.dirty_bundles) {
    auto it = s.bundles.find(id);
    if (it == s.bundles.end() || !it->second.merged_into.empty() || it->second.accounts.empty()) {
      continue;
    }
    BundleState& b = it->second;
    const BundleTotals t = Totals(s, b);
    int64_t last = 0;
    for (const std::string& a : b.accounts) {
      auto acct = s.accounts.find(a);
      if (acct != s.accounts.end()) last = std::max(last, acct->second.last_us);
    }
    const int64_t evidence_us = last > 0 ? last : now_us;
    b.last_us = std::max(b.last_us, last);
    // Rate: training FLOP since an anchor at most a day old (re-anchored daily).
    if (b.anchor_us == 0 || evidence_us - b.anchor_us > kMicrosPerDay) {
      if (b.anchor_us != 0 && evidence_us > b.anchor_us) {
        b.rate_per_day = (t.low - b.anchor_low) * kMicrosPerDay / (evidence_us - b.anchor_us);
      }
      b.anchor_us = evidence_us;
      b.anchor_low = t.low;
    } else if (evidence_us - b.anchor_us >= 15 * 60 * int64_t{1000000}) {
      b.rate_per_day = (t.low - b.anchor_low) * kMicrosPerDay / (evidence_us - b.anchor_us);
    }
    const std::string accounts = absl::StrJoin(b.accounts, ",");
    // What the bundle's flags rest on: its accounts, how much evidence holds it together (in
    // powers of two) and its compute (10 steps per decade). Only a change here rewrites the
    // bundle row or touches a flag, so a steady stream of reports costs no more than the sums.
    // The number of tiers reached is part of it: a tier crossed inside a decile counts at once.
    size_t tiers_reached = 0;
    while (tiers_reached < p.compute_tiers.size() && t.low >= p.compute_tiers[tiers_reached].flop) {
      ++tiers_reached;
    }
    const std::string growth =
        absl::StrCat(accounts, "|", b.link_generation, "|",
                     t.low > 0 ? static_cast<int>(std::log10(t.low) * 10) : 0, "|", tiers_reached,
                     "|", t.restricted.size(), "|", t.trains);
    if (growth == b.material) continue;
    b.material = growth;
    s.changed_bundles.insert(id);
    if (!t.trains) continue;

    const std::string subject = absl::StrCat("bundle:", id);
    const std::vector<provenance::v1::Link> links = BundleLinks(id, kMaxLinkEvidence);
    const std::optional<provenance::v1::Bundle> proto = bundle(id);
    auto fill_common = [&](Flag& f) {
      f.set_policy_version(p.version);
      f.set_kyc_version(s.kyc_version);
      f.set_screening_list_version(s.screening_list_version);
      f.set_bundle_id(id);
      Fill(f.mutable_accounts(), b.accounts);
      f.mutable_datacenters()->CopyFrom(proto->datacenters());
      f.mutable_workloads()->CopyFrom(proto->workloads());
      f.mutable_nodes()->CopyFrom(proto->nodes());
      f.mutable_accelerators()->CopyFrom(proto->accelerator_models());
      *f.mutable_training_flop() = proto->training_flop();
      f.clear_evidence();
      auto* e = f.add_evidence();
      e->set_kind("compute");
      e->set_sentence(absl::StrCat(
          "Bundle ", id, " (", b.accounts.size(), " account", b.accounts.size() == 1 ? "" : "s",
          ": ", accounts, "; data centres ", absl::StrJoin(proto->datacenters(), ", "),
          ") has an estimated ", Eng(t.low), " FLOP of training (range ", Eng(t.low), " to ",
          Eng(t.high), ", method ", t.method, ") on ", absl::StrFormat("%.1f", t.seconds / 3600),
          " accelerator-hours"));
      SetTimestamp(e->mutable_time(), evidence_us);
      for (const auto& link : links) {
        auto* le = f.add_evidence();
        le->set_kind("link");
        le->set_sentence(
            absl::StrCat(link.kind(), " (weight ", Eng(link.weight()), "): ", link.sentence()));
        *le->mutable_time() = link.first_time();
        *le->mutable_link() = link;
      }
    };
    for (const policy::ComputeTier& tier : p.compute_tiers) {
      if (t.low < tier.flop) break;
      UpsertFlag(
          s, absl::StrCat("compute_tier:", tier.name), subject, tier.severity, growth,
          [&] { return std::max(CrossingTime(s, b, tier.flop, evidence_us), b.joined_us); },
          evidence_us, now,
          [&](Flag& f) {
            fill_common(f);
            f.set_summary(absl::StrCat("Bundle ", id, " (", accounts, ") crossed ", tier.name, ": ",
                                       Eng(t.low), " FLOP >= ", Eng(tier.flop), " (", tier.basis,
                                       ")"));
          });
    }
    if (p.projection.horizon > absl::ZeroDuration() && b.rate_per_day > 0) {
      if (const policy::ComputeTier* next = p.NextTier(t.low)) {
        const double days = (next->flop - t.low) / b.rate_per_day;
        if (days * 24 <= absl::ToDoubleHours(p.projection.horizon)) {
          UpsertFlag(
              s, absl::StrCat("projection:", next->name), subject, p.projection.severity,
              absl::StrCat(growth, "|", static_cast<int>(days)), [&] { return evidence_us; },
              evidence_us, now,
              [&](Flag& f) {
                fill_common(f);
                f.set_summary(absl::StrCat("At the current rate (", Eng(b.rate_per_day),
                                           " FLOP/day) bundle ", id, " (", accounts, ") crosses ",
                                           next->name, " (", Eng(next->flop), " FLOP) in ",
                                           absl::StrFormat("%.1f", days), " days"));
                auto* e = f.add_evidence();
                e->set_kind("projection");
                e->set_sentence(f.summary());
                SetTimestamp(e->mutable_time(), evidence_us);
              });
        }
      }
    }
    if (!t.restricted.empty()) {
      // The flag's time and words come from the facts that raised it: a restricted account that
      // trains, or else a restricted account in the lineage of accounts that train (dated when
      // both held: the join, the first training, the identity that made it restricted).
      const bool restricted_trains = t.restricted_first_train_us > 0;
      UpsertFlag(
          s, "restricted_party_training", subject, p.restricted_party_training_severity,
          absl::StrCat(growth, "|", restricted_trains, "|", absl::StrJoin(t.restricted, ";")),
          [&] {
            const int64_t since =
                restricted_trains
                    ? std::max(t.restricted_first_train_us, s.identity_evidence_us)
                    : std::max({t.first_train_us, b.joined_us, s.identity_evidence_us});
            return since > 0 ? since : evidence_us;
          },
          evidence_us, now,
          [&](Flag& f) {
            fill_common(f);
            f.set_summary(
                restricted_trains
                    ? absl::StrCat("Training by a restricted party in bundle ", id, " (", accounts,
                                   "): ", t.restricted.front())
                    : absl::StrCat("Restricted party ", absl::StrJoin(t.restricted_accounts, ", "),
                                   " linked to training by ",
                                   absl::StrJoin(t.training_accounts, ", "), " in bundle ", id,
                                   " (", accounts, "): ", t.restricted.front()));
            for (const std::string& r : t.restricted) {
              auto* e = f.add_evidence();
              e->set_kind(absl::StrContains(r, "screening") ? "screening" : "jurisdiction");
              e->set_sentence(r);
              SetTimestamp(e->mutable_time(), evidence_us);
            }
          });
    }
  }
  s.dirty_bundles.clear();

  for (const std::string& acct : s.dirty_accounts) {
    auto hits = s.screening.find(acct);
    if (hits == s.screening.end()) continue;
    std::vector<const provenance::v1::ScreeningMatch*> strong;
    std::map<std::string, std::vector<const provenance::v1::ScreeningMatch*>> weak;  // by rule
    for (const auto& m : hits->second) {
      if (IsStrongScreeningMatch(m, p.screening.min_score)) {
        strong.push_back(&m);
      } else {
        weak[ScreeningReviewRule(m)].push_back(&m);
      }
    }
    UpsertScreeningReviews(s, p, acct, weak, now);
    if (strong.empty()) continue;
    std::string material;
    for (const auto* m : strong)
      absl::StrAppend(&material, m->entry_id(), "|", m->list_version(), ";");
    UpsertFlag(
        s, "screening_hit", absl::StrCat("account:", acct), p.screening.severity, material,
        [&] { return now_us; }, now_us, now,
        [&](Flag& f) {
          SetScreeningFlagContext(f, s, p, acct);
          const auto* best = strong.front();
          f.set_summary(absl::StrCat("Screening hit: ", best->subject_kind(), " \"",
                                     best->subject_name(), "\" of account ", acct, " matches \"",
                                     best->entry_name(), "\" (", best->entry_source(), ") score ",
                                     absl::StrFormat("%.2f", best->score())));
          f.clear_evidence();
          for (const auto* m : strong) {
            auto* e = f.add_evidence();
            e->set_kind("screening");
            e->set_sentence(absl::StrCat(
                m->subject_kind(), " \"", m->subject_name(), "\" matches ",
                m->matched_alias() ? "alias " : "", "\"", m->entry_name(), "\" (entry ",
                m->entry_id(), ", ", m->entry_source(), ") with score ",
                absl::StrFormat("%.2f", m->score()), ": ", absl::StrJoin(m->reasons(), "; "),
                " [list ", m->list_version(), ", KYC version ", m->kyc_version(), "]"));
            SetTimestamp(e->mutable_time(), now_us);
          }
        });
  }
  s.dirty_accounts.clear();

  for (const std::string& id : s.dirty_nodes) {
    auto it = s.nodes.find(id);
    if (it == s.nodes.end()) continue;
    const provenance::v1::NodeFacts& node = it->second;
    absl::flat_hash_map<const policy::RestrictedHardware*, std::vector<std::string>> matched;
    for (const auto& a : node.accelerators()) {
      if (const auto* rule = p.MatchHardware(a.vendor_id(), a.device_id(), a.family())) {
        matched[rule].push_back(a.pci_address());
      }
    }
    for (const auto& [rule, pcis] : matched) {
      std::set<std::string> accounts, workloads;
      for (const std::string& key : node.current_workloads()) {
        const auto& w = s.workloads.at(key);
        for (const std::string& acc : w.accelerators()) {
          const std::string pci = acc.substr(acc.find('/') + 1);
          if (std::find(pcis.begin(), pcis.end(), pci) != pcis.end()) {
            accounts.insert(w.account());
            workloads.insert(key);
            break;
          }
        }
      }
      const std::string material =
          absl::StrCat(absl::StrJoin(pcis, ","), "|", absl::StrJoin(accounts, ","));
      UpsertFlag(
          s, absl::StrCat("restricted_hardware:", rule->name), absl::StrCat("node:", id),
          rule->severity, material, [&] { return node.accelerators_since_us(); },
          node.last_time_us(), now,
          [&](Flag& f) {
            f.set_policy_version(p.version);
            for (const auto& acct : accounts) {
              if (std::find(f.accounts().begin(), f.accounts().end(), acct) == f.accounts().end()) {
                f.add_accounts(acct);  // everyone who ever used it stays listed
              }
            }
            for (const auto& w : workloads) {
              if (std::find(f.workloads().begin(), f.workloads().end(), w) == f.workloads().end() &&
                  static_cast<size_t>(f.workloads_size()) < kMaxListed) {
                f.add_workloads(w);
              }
            }
            f.clear_nodes();
            f.add_nodes(id);
            f.clear_datacenters();
            f.add_datacenters(node.datacenter());
            f.clear_accelerators();
            std::string models;
            for (const auto& a : node.accelerators()) {
              if (std::find(pcis.begin(), pcis.end(), a.pci_address()) == pcis.end()) {
                continue;
              }
              f.add_accelerators(absl::StrCat(id, "/", a.pci_address()));
              if (models.empty()) {
                models =
                    absl::StrFormat("%s %s (PCI %04x:%04x, family %s)", a.vendor(),
                                    a.model().empty() ? "unknown model" : a.model(), a.vendor_id(),
                                    a.device_id(), a.family().empty() ? "?" : a.family());
              }
            }
            f.set_summary(absl::StrCat(
                "Restricted hardware (", rule->name, "): ", pcis.size(), " x ", models, " on node ",
                id, " (", node.datacenter(), ")",
                accounts.empty() ? ", idle"
                                 : absl::StrCat(", used by ", absl::StrJoin(accounts, ", "))));
            f.clear_evidence();
            auto* e = f.add_evidence();
            e->set_kind("hardware");
            e->set_sentence(absl::StrCat("Node ", id, " (hostname ", node.hostname(), ") reports ",
                                         pcis.size(), " accelerator(s) matching rule ", rule->name,
                                         " by PCI ID from sysfs: ", models, "; accelerators ",
                                         absl::StrJoin(pcis, ", ")));
            SetTimestamp(e->mutable_time(), node.last_time_us());
          });
    }
  }
  s.dirty_nodes.clear();
  EvaluateNodeHealth(s, p, now);
}

// ---- queries ----

const provenance::v1::NodeFacts* Analyzer::node(const std::string& id) const {
  auto it = s_->nodes.find(id);
  return it == s_->nodes.end() ? nullptr : &it->second;
}
const provenance::v1::WorkloadFacts* Analyzer::workload(const std::string& key) const {
  auto it = s_->workloads.find(key);
  return it == s_->workloads.end() ? nullptr : &it->second;
}
const provenance::v1::Link* Analyzer::link(const std::string& key) const {
  auto it = s_->links.find(key);
  return it == s_->links.end() ? nullptr : &it->second;
}
const Flag* Analyzer::flag(const std::string& id) const {
  auto it = s_->flags.find(id);
  return it == s_->flags.end() ? nullptr : &it->second;
}

std::string Analyzer::BundleOf(const std::string& account) const {
  auto it = s_->account_bundle.find(account);
  return it == s_->account_bundle.end() ? "" : it->second;
}

std::optional<provenance::v1::Bundle> Analyzer::bundle(const std::string& id) const {
  const State& s = *s_;
  auto it = s.bundles.find(id);
  if (it == s.bundles.end()) return std::nullopt;
  const BundleState& b = it->second;
  provenance::v1::Bundle out;
  out.set_bundle_id(b.id);
  out.set_merged_into(b.merged_into);
  std::set<std::string> dcs, regions, workloads, models, nodes, accelerators;
  for (const std::string& a : b.accounts) {
    out.add_accounts(a);
    auto acct = s.accounts.find(a);
    if (acct == s.accounts.end()) continue;
    for (const std::string& key : acct->second.workloads) {
      const auto& w = s.workloads.at(key);
      if (w.workload_class() != provenance::v1::WORKLOAD_CLASS_TRAINING &&
          w.training_accelerator_seconds() == 0) {
        continue;
      }
      workloads.insert(key);
      if (!w.datacenter().empty()) dcs.insert(w.datacenter());
      if (!w.region().empty()) regions.insert(w.region());
      if (!w.accelerator_model().empty()) models.insert(w.accelerator_model());
      nodes.insert(w.node_id());
      for (const auto& acc : w.accelerators()) accelerators.insert(acc);
    }
  }
  Fill(out.mutable_datacenters(), dcs);
  Fill(out.mutable_regions(), regions);
  Fill(out.mutable_workloads(), workloads);
  Fill(out.mutable_accelerator_models(), models);
  Fill(out.mutable_nodes(), nodes);
  out.set_accelerator_count(static_cast<uint32_t>(accelerators.size()));
  const BundleTotals t = Totals(s, b);
  out.mutable_training_flop()->set_low(t.low);
  out.mutable_training_flop()->set_high(t.high);
  out.mutable_training_flop()->set_method(t.method);
  out.set_training_accelerator_hours(t.seconds / 3600);
  out.set_flop_rate_per_day(b.rate_per_day);
  double weakest = b.accounts.size() > 1 ? 1 : 0;
  uint32_t links = 0;
  for (const std::string& a : b.accounts) {
    for (auto it2 = s.pairs.lower_bound({a, ""}); it2 != s.pairs.end() && it2->first.first == a;
         ++it2) {
      if (!b.accounts.contains(it2->first.second)) continue;
      links += static_cast<uint32_t>(it2->second.link_keys.size());
      if (it2->second.joined) weakest = std::min(weakest, it2->second.score);
    }
  }
  out.set_score(weakest);
  out.set_link_count(links);
  SetTimestamp(out.mutable_first_time(), b.first_us);
  SetTimestamp(out.mutable_last_time(), b.last_us);
  return out;
}

std::vector<provenance::v1::Link> Analyzer::BundleLinks(const std::string& bundle_id,
                                                        size_t limit) const {
  const State& s = *s_;
  std::vector<provenance::v1::Link> out;
  auto it = s.bundles.find(bundle_id);
  if (it == s.bundles.end()) return out;
  const auto& accounts = it->second.accounts;
  for (const std::string& a : accounts) {
    for (auto p = s.pairs.lower_bound({a, ""}); p != s.pairs.end() && p->first.first == a; ++p) {
      if (!accounts.contains(p->first.second)) continue;
      for (const std::string& key : p->second.link_keys) out.push_back(s.links.at(key));
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& x, const auto& y) {
    if (x.weight() != y.weight()) return x.weight() > y.weight();
    return x.first_time().seconds() < y.first_time().seconds();
  });
  // The strongest links first, but one of each kind before any repeats.
  std::vector<provenance::v1::Link> picked;
  std::set<std::pair<std::string, std::string>> seen;
  for (const auto& l : out) {
    if (picked.size() >= limit) break;
    if (seen.insert({l.kind(), l.account_a() + "|" + l.account_b()}).second) picked.push_back(l);
  }
  for (const auto& l : out) {
    if (picked.size() >= limit) break;
    if (std::find_if(picked.begin(), picked.end(), [&](const auto& q) {
          return q.kind() == l.kind() && q.sentence() == l.sentence();
        }) == picked.end()) {
      picked.push_back(l);
    }
  }
  return picked;
}

namespace {

bool Matches(const Flag& f, const provenance::v1::ListFlagsRequest& req) {
  if (req.min_severity() != 0 && f.severity() < req.min_severity()) return false;
  if (req.status() != 0 && f.status() != req.status()) return false;
  if (!req.rule().empty()) {
    if (absl::EndsWith(req.rule(), ":") ? !absl::StartsWith(f.rule(), req.rule())
                                        : f.rule() != req.rule()) {
      return false;
    }
  }
  if (!req.account().empty() &&
      std::find(f.accounts().begin(), f.accounts().end(), req.account()) == f.accounts().end()) {
    return false;
  }
  if (!req.datacenter().empty() && std::find(f.datacenters().begin(), f.datacenters().end(),
                                             req.datacenter()) == f.datacenters().end()) {
    return false;
  }
  return true;
}

}  // namespace

std::vector<Flag> Analyzer::ListFlags(const provenance::v1::ListFlagsRequest& req) const {
  std::vector<Flag> out;
  for (const auto& [id, f] : s_->flags) {
    if (Matches(f, req)) out.push_back(f);
  }
  std::sort(out.begin(), out.end(), [](const Flag& a, const Flag& b) {
    if (a.severity() != b.severity()) return a.severity() > b.severity();
    return a.flag_id() < b.flag_id();
  });
  if (req.limit() > 0 && out.size() > req.limit()) out.resize(req.limit());
  return out;
}

std::vector<Flag> Analyzer::FlagsOfBundle(const std::string& bundle_id) const {
  std::vector<Flag> out;
  for (const auto& [id, f] : s_->flags) {
    if (f.bundle_id() == bundle_id) out.push_back(f);
  }
  std::sort(out.begin(), out.end(),
            [](const Flag& a, const Flag& b) { return a.flag_id() < b.flag_id(); });
  return out;
}

std::vector<std::string> Analyzer::FlagsOfAccount(const std::string& account) const {
  std::vector<std::string> out;
  for (const auto& [id, f] : s_->flags) {
    if (std::find(f.accounts().begin(), f.accounts().end(), account) != f.accounts().end()) {
      out.push_back(id);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<provenance::v1::Bundle> Analyzer::ListBundles(
    const provenance::v1::ListBundlesRequest& req) const {
  std::vector<std::string> ids;
  for (const auto& [id, b] : s_->bundles) {
    if (!req.include_merged() && !b.merged_into.empty()) continue;
    if (!req.account().empty() && !b.accounts.contains(req.account())) continue;
    // Single accounts are bundles too, but only worth listing with a flag or when asked for.
    if (req.account().empty() && b.accounts.size() < 2 && b.merged_into.empty()) {
      bool flagged = false;
      for (const auto& [fid, f] : s_->flags) flagged = flagged || f.bundle_id() == id;
      if (!flagged) continue;
    }
    ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end());
  std::vector<provenance::v1::Bundle> out;
  for (const std::string& id : ids) {
    if (req.limit() > 0 && out.size() >= req.limit()) break;
    out.push_back(*bundle(id));
  }
  return out;
}

AnalyzerStats Analyzer::stats() const {
  AnalyzerStats st;
  st.nodes = s_->nodes.size();
  st.workloads = s_->workloads.size();
  st.links = s_->links.size();
  st.flags = s_->flags.size();
  for (const auto& [id, b] : s_->bundles) {
    if (!b.merged_into.empty()) continue;
    ++st.bundles;
    if (b.accounts.size() > 1) ++st.multi_account_bundles;
  }
  return st;
}

size_t Analyzer::BundlesNearTier() const {
  size_t n = 0;
  for (const auto& [id, b] : s_->bundles) {
    if (!b.merged_into.empty() || b.accounts.empty()) continue;
    const BundleTotals t = Totals(*s_, b);
    const policy::ComputeTier* next = policy_->NextTier(t.low);
    if (next != nullptr && t.low > 0 && t.low * 10 >= next->flop) ++n;
  }
  return n;
}

}  // namespace prov::server
