// The bundle rules: compute_tier:<tier>, projection:<tier> and restricted_party_training, judged
// on the bundles (suspected training lineages) whose material changed since the last evaluation.
// PrepareBundles computes each such bundle's totals, rate and shared flag fields once for all
// three.
#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "server/analysis/analyzer.h"
#include "server/analysis/analyzer_internal.h"
#include "server/analysis/analyzer_state.h"
#include "server/analysis/rule.h"

namespace prov::server {
namespace {

using provenance::v1::Flag;

constexpr size_t kMaxLinkEvidence = 25;

// The report time at which the bundle's training FLOP first reached `threshold`, replaying its
// accounts' histories in report-time order (so a late, out-of-order burst of reports does not
// move the date). `fallback` when the histories do not reach it (they were compacted).
int64_t CrossingTime(const Analyzer::State& s, const BundleState& b, double threshold,
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

class ComputeTierRule final : public Rule {
 public:
  absl::string_view name() const override { return "compute_tier"; }
  void Evaluate(RuleContext& ctx) override {
    for (BundleView& v : ctx.bundles) {
      const std::string subject = absl::StrCat("bundle:", *v.id);
      for (const policy::ComputeTier& tier : ctx.p.compute_tiers) {
        if (v.low < tier.flop) break;
        UpsertFlag(
            ctx.s, absl::StrCat("compute_tier:", tier.name), subject, tier.severity, v.material,
            [&] {
              return std::max(CrossingTime(ctx.s, *v.state, tier.flop, v.evidence_us),
                              v.state->joined_us);
            },
            v.evidence_us, ctx.now,
            [&](Flag& f) {
              v.fill_common(f);
              f.set_summary(absl::StrCat("Bundle ", *v.id, " (", v.accounts, ") crossed ",
                                         tier.name, ": ", Eng(v.low), " FLOP >= ", Eng(tier.flop),
                                         " (", tier.basis, ")"));
            });
      }
    }
  }
};

class ProjectionRule final : public Rule {
 public:
  absl::string_view name() const override { return "projection"; }
  void Evaluate(RuleContext& ctx) override {
    const policy::Policy& p = ctx.p;
    if (p.projection.horizon <= absl::ZeroDuration()) return;
    for (BundleView& v : ctx.bundles) {
      const double rate = v.state->rate_per_day;
      if (rate <= 0) continue;
      const policy::ComputeTier* next = p.NextTier(v.low);
      if (next == nullptr) continue;
      const double days = (next->flop - v.low) / rate;
      if (days * 24 > absl::ToDoubleHours(p.projection.horizon)) continue;
      UpsertFlag(
          ctx.s, absl::StrCat("projection:", next->name), absl::StrCat("bundle:", *v.id),
          p.projection.severity, absl::StrCat(v.material, "|", static_cast<int>(days)),
          [&] { return v.evidence_us; }, v.evidence_us, ctx.now,
          [&](Flag& f) {
            v.fill_common(f);
            f.set_summary(absl::StrCat("At the current rate (", Eng(rate), " FLOP/day) bundle ",
                                       *v.id, " (", v.accounts, ") crosses ", next->name, " (",
                                       Eng(next->flop), " FLOP) in ", absl::StrFormat("%.1f", days),
                                       " days"));
            auto* e = f.add_evidence();
            e->set_kind("projection");
            e->set_sentence(f.summary());
            SetTimestamp(e->mutable_time(), v.evidence_us);
          });
    }
  }
};

class RestrictedPartyTrainingRule final : public Rule {
 public:
  absl::string_view name() const override { return "restricted_party_training"; }
  void Evaluate(RuleContext& ctx) override {
    Analyzer::State& s = ctx.s;
    for (BundleView& v : ctx.bundles) {
      if (v.restricted.empty()) continue;
      // The flag's time and words come from the facts that raised it: a restricted account that
      // trains, or else a restricted account in the lineage of accounts that train (dated when
      // both held: the join, the first training, the identity that made it restricted).
      const bool restricted_trains = v.restricted_first_train_us > 0;
      UpsertFlag(
          s, "restricted_party_training", absl::StrCat("bundle:", *v.id),
          ctx.p.restricted_party_training_severity,
          absl::StrCat(v.material, "|", restricted_trains, "|", absl::StrJoin(v.restricted, ";")),
          [&] {
            const int64_t since =
                restricted_trains
                    ? std::max(v.restricted_first_train_us, s.identity_evidence_us)
                    : std::max({v.first_train_us, v.state->joined_us, s.identity_evidence_us});
            return since > 0 ? since : v.evidence_us;
          },
          v.evidence_us, ctx.now,
          [&](Flag& f) {
            v.fill_common(f);
            f.set_summary(
                restricted_trains
                    ? absl::StrCat("Training by a restricted party in bundle ", *v.id, " (",
                                   v.accounts, "): ", v.restricted.front())
                    : absl::StrCat("Restricted party ", absl::StrJoin(v.restricted_accounts, ", "),
                                   " linked to training by ",
                                   absl::StrJoin(v.training_accounts, ", "), " in bundle ", *v.id,
                                   " (", v.accounts, "): ", v.restricted.front()));
            for (const std::string& r : v.restricted) {
              auto* e = f.add_evidence();
              e->set_kind(absl::StrContains(r, "screening") ? "screening" : "jurisdiction");
              e->set_sentence(r);
              SetTimestamp(e->mutable_time(), v.evidence_us);
            }
          });
    }
  }
};

}  // namespace

void PrepareBundles(RuleContext& ctx) {
  Analyzer::State& s = ctx.s;
  const policy::Policy& p = ctx.p;
  ctx.bundles.clear();
  ctx.bundles.reserve(s.dirty_bundles.size());  // fill_common holds a pointer to its view
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
    const int64_t evidence_us = last > 0 ? last : ctx.now_us;
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
    std::string growth = absl::StrCat(accounts, "|", b.link_generation, "|",
                                      t.low > 0 ? static_cast<int>(std::log10(t.low) * 10) : 0, "|",
                                      tiers_reached, "|", t.restricted.size(), "|", t.trains);
    if (growth == b.material) continue;
    b.material = growth;
    s.changed_bundles.insert(id);
    if (!t.trains) continue;

    BundleView& v = ctx.bundles.emplace_back();
    v.id = &it->first;
    v.state = &b;
    v.low = t.low;
    v.high = t.high;
    v.seconds = t.seconds;
    v.method = t.method;
    v.restricted = t.restricted;
    v.restricted_accounts = t.restricted_accounts;
    v.training_accounts = t.training_accounts;
    v.restricted_first_train_us = t.restricted_first_train_us;
    v.first_train_us = t.first_train_us;
    v.evidence_us = evidence_us;
    v.accounts = accounts;
    v.material = std::move(growth);
    // Built on first use by a rule that raises something, then reused by the others.
    auto links = std::make_shared<std::optional<std::vector<provenance::v1::Link>>>();
    auto proto = std::make_shared<std::optional<provenance::v1::Bundle>>();
    const Analyzer* analyzer = s.owner;
    v.fill_common = [&s, &p, &v, analyzer, links, proto](Flag& f) {
      const std::string& id = *v.id;
      if (!links->has_value()) *links = analyzer->BundleLinks(id, kMaxLinkEvidence);
      if (!proto->has_value()) *proto = analyzer->bundle(id);
      const provenance::v1::Bundle& bp = **proto;
      f.set_policy_version(p.version);
      f.set_kyc_version(s.kyc_version);
      f.set_screening_list_version(s.screening_list_version);
      f.set_bundle_id(id);
      Fill(f.mutable_accounts(), v.state->accounts);
      f.mutable_datacenters()->CopyFrom(bp.datacenters());
      f.mutable_workloads()->CopyFrom(bp.workloads());
      f.mutable_nodes()->CopyFrom(bp.nodes());
      f.mutable_accelerators()->CopyFrom(bp.accelerator_models());
      *f.mutable_training_flop() = bp.training_flop();
      f.clear_evidence();
      auto* e = f.add_evidence();
      e->set_kind("compute");
      e->set_sentence(absl::StrCat(
          "Bundle ", id, " (", v.state->accounts.size(), " account",
          v.state->accounts.size() == 1 ? "" : "s", ": ", v.accounts, "; data centres ",
          absl::StrJoin(bp.datacenters(), ", "), ") has an estimated ", Eng(v.low),
          " FLOP of training (range ", Eng(v.low), " to ", Eng(v.high), ", method ", v.method,
          ") on ", absl::StrFormat("%.1f", v.seconds / 3600), " accelerator-hours"));
      SetTimestamp(e->mutable_time(), v.evidence_us);
      for (const auto& link : **links) {
        auto* le = f.add_evidence();
        le->set_kind("link");
        le->set_sentence(
            absl::StrCat(link.kind(), " (weight ", Eng(link.weight()), "): ", link.sentence()));
        *le->mutable_time() = link.first_time();
        *le->mutable_link() = link;
      }
    };
  }
  s.dirty_bundles.clear();
}

std::unique_ptr<Rule> MakeComputeTierRule() { return std::make_unique<ComputeTierRule>(); }
std::unique_ptr<Rule> MakeProjectionRule() { return std::make_unique<ProjectionRule>(); }
std::unique_ptr<Rule> MakeRestrictedPartyTrainingRule() {
  return std::make_unique<RestrictedPartyTrainingRule>();
}

}  // namespace prov::server
