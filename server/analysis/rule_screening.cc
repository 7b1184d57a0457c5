// The screening rules: screening_hit (a strong match of an account holder against the screening
// list) and screening_review:<entry>@<hash> (weak matches for a person to clear), judged on the
// accounts whose identity or screening hits changed since the last evaluation.
#include <map>
#include <string>
#include <vector>

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

// The context every screening flag on `acct` carries: the policy, KYC and list versions it was
// judged under, the account, and its bundle if it has one.
void SetScreeningFlagContext(Flag& f, const Analyzer::State& s, const policy::Policy& p,
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
void UpsertScreeningReviews(
    Analyzer::State& s, const policy::Policy& p, const std::string& acct,
    const std::map<std::string, std::vector<const provenance::v1::ScreeningMatch*>>& weak,
    absl::Time now) {
  const int64_t now_us = absl::ToUnixMicros(now);
  for (const auto& entry : weak) {
    const auto& rule = entry.first;  // named, not bound: the lambdas below capture them
    const auto& matches = entry.second;
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

class ScreeningRule final : public Rule {
 public:
  absl::string_view name() const override { return "screening_hit"; }
  void Evaluate(RuleContext& ctx) override {
    Analyzer::State& s = ctx.s;
    for (const std::string& acct : s.dirty_accounts) {
      auto hits = s.screening.find(acct);
      if (hits == s.screening.end()) continue;
      std::vector<const provenance::v1::ScreeningMatch*> strong;
      std::map<std::string, std::vector<const provenance::v1::ScreeningMatch*>> weak;  // by rule
      for (const auto& m : hits->second) {
        if (IsStrongScreeningMatch(m, ctx.p.screening.min_score)) {
          strong.push_back(&m);
        } else {
          weak[ScreeningReviewRule(m)].push_back(&m);
        }
      }
      UpsertScreeningReviews(s, ctx.p, acct, weak, ctx.now);
      if (strong.empty()) continue;
      std::string material;
      for (const auto* m : strong)
        absl::StrAppend(&material, m->entry_id(), "|", m->list_version(), ";");
      UpsertFlag(
          s, "screening_hit", absl::StrCat("account:", acct), ctx.p.screening.severity, material,
          [&] { return ctx.now_us; }, ctx.now_us, ctx.now,
          [&](Flag& f) {
            SetScreeningFlagContext(f, s, ctx.p, acct);
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
              SetTimestamp(e->mutable_time(), ctx.now_us);
            }
          });
    }
  }
};

}  // namespace

std::unique_ptr<Rule> MakeScreeningRule() { return std::make_unique<ScreeningRule>(); }

}  // namespace prov::server
