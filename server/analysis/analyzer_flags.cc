// Analyzer, part 2: evaluation (the rules behind rule.h), the flag book and queries.
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
#include "server/analysis/hardware_facts.h"
#include "server/analysis/rule.h"

namespace prov::server {
namespace {

using provenance::v1::Flag;

provenance::v1::Severity ToProto(policy::Severity s) {
  return static_cast<provenance::v1::Severity>(static_cast<int>(s) + 1);
}

}  // namespace

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
    // Facts that arrive late (a node's spool delivered after a partition, an agent behind the
    // others) can show that the rule held earlier than first thought: the flag's time follows the
    // facts, never the order they arrived in. It only moves earlier.
    const int64_t first = first_us();
    if (first > 0 && first < ToMicros(flag->first_time())) {
      SetTimestamp(flag->mutable_first_time(), first);
    }
  }
  s.flag_material[flag->flag_id()] = material;
  flag->set_severity(ToProto(severity));
  fill(*flag);
  SetTimestamp(flag->mutable_last_time(), evidence_us);
  SetTimestamp(flag->mutable_updated_at(), absl::ToUnixMicros(now));
  flag->set_revision(flag->revision() + 1);
  s.changed_flags.insert(flag->flag_id());
}

std::string ClockText(int64_t us) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", absl::FromUnixMicros(us), absl::UTCTimeZone());
}

void AddUnique(google::protobuf::RepeatedPtrField<std::string>* out, const std::string& value) {
  if (value.empty() || static_cast<size_t>(out->size()) >= kMaxListed) return;
  if (std::find(out->begin(), out->end(), value) == out->end()) out->Add(std::string(value));
}

void Reopen(Flag& f) {
  if (f.status() != provenance::v1::FLAG_STATUS_RESOLVED) return;
  f.set_status(provenance::v1::FLAG_STATUS_OPEN);
  f.set_disposition(provenance::v1::DISPOSITION_UNSPECIFIED);
}

bool ResolveFlag(Analyzer::State& s, const std::string& rule, const std::string& subject,
                 const std::string& kind, const std::string& sentence,
                 const std::string& summary_note, int64_t now_us) {
  auto id = s.flag_by_key.find(absl::StrCat(rule, "|", subject));
  if (id == s.flag_by_key.end()) return false;
  Flag& f = s.flags.at(id->second);
  if (f.status() == provenance::v1::FLAG_STATUS_RESOLVED) return false;
  auto* e = f.add_evidence();
  e->set_kind(kind);
  e->set_sentence(sentence);
  SetTimestamp(e->mutable_time(), now_us);
  if (f.status() == provenance::v1::FLAG_STATUS_OPEN) {
    f.set_status(provenance::v1::FLAG_STATUS_RESOLVED);
    f.set_summary(absl::StrCat(f.summary(), "; ", summary_note));
  }
  SetTimestamp(f.mutable_updated_at(), now_us);
  f.set_revision(f.revision() + 1);
  s.flag_material.erase(f.flag_id());  // the next occurrence rewrites (and reopens) it
  s.changed_flags.insert(f.flag_id());
  return true;
}

std::vector<std::unique_ptr<Rule>> MakeRules() {
  std::vector<std::unique_ptr<Rule>> rules;
  rules.push_back(MakeComputeTierRule());
  rules.push_back(MakeProjectionRule());
  rules.push_back(MakeRestrictedPartyTrainingRule());
  rules.push_back(MakeScreeningRule());
  rules.push_back(MakeRestrictedHardwareRule());
  rules.push_back(MakeNodeRejectedRule());
  rules.push_back(MakeNodeIdentityMismatchRule());
  rules.push_back(MakeHardwareRelabelledRule());
  rules.push_back(MakeHardwareMovedRule());
  rules.push_back(MakeHardwareClonedIdentityRule());
  rules.push_back(MakeHardwareUndeclaredRule());
  rules.push_back(MakeHardwareSilentRule());
  rules.push_back(MakeHardwareAssignmentRule());
  rules.push_back(MakeLocationRule());
  return rules;
}

void Analyzer::Evaluate(absl::Time now) {
  State& s = *s_;
  RuleContext ctx(s, *policy_, now);
  PrepareBundles(ctx);
  PrepareHardware(ctx);
  for (const auto& rule : s.rules) rule->Evaluate(ctx);
  s.dirty_accounts.clear();
  s.dirty_nodes.clear();
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
  if (b.joined_us != 0) SetTimestamp(out.mutable_joined_time(), b.joined_us);
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
  st.overdue_nodes = s_->hw.overdue.size();
  st.silence_held_nodes = s_->hw.held.size();
  st.silence_outages = s_->hw.outages;
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
