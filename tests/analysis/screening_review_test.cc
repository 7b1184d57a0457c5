// Issue 9: weak screening matches become screening_review flags (never restricted parties); a
// review cleared by its case (resolved false_positive) stays cleared through KYC and list
// re-imports until the list entry itself changes (its content hash).
#include <memory>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/analysis/analyzer.h"
#include "server/analysis/identity_sink.h"
#include "server/policy/policy.h"

namespace prov::server {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

std::shared_ptr<const policy::Policy> ReviewPolicy() {
  auto p = std::make_shared<policy::Policy>();
  p->version = "test-1";
  return p;
}

std::vector<provenance::v1::Flag> Flags(const Analyzer& a, const std::string& rule_prefix) {
  provenance::v1::ListFlagsRequest req;
  req.set_rule(rule_prefix);
  return a.ListFlags(req);
}

IdentitySnapshot Snapshot(int64_t kyc_version, const std::string& list_version,
                          const std::string& strength, const std::string& entry_hash) {
  IdentitySnapshot snap;
  snap.kyc_version = kyc_version;
  snap.screening_list_version = list_version;
  auto accounts = std::make_shared<std::vector<provenance::v1::AccountIdentity>>();
  auto& acct = accounts->emplace_back();
  acct.set_account_id("acme");
  acct.set_legal_entity("Acme Labs");
  acct.add_beneficial_owners()->set_name("John Smith");
  snap.accounts = accounts;
  provenance::v1::ScreeningMatch m;
  m.set_account_id("acme");
  m.set_subject_kind("beneficial_owner");
  m.set_subject_name("John Smith");
  m.set_entry_id("T4");
  m.set_entry_name("SMITH, John");
  m.set_entry_source("Specially Designated Nationals (SDN) - Treasury Department");
  m.set_score(1.0);  // an exact name, but a common one: weak
  m.set_strength(strength);
  m.set_entry_content_hash(entry_hash);
  m.set_list_version(list_version);
  m.set_kyc_version(kyc_version);
  snap.screening.push_back(m);
  return snap;
}

TEST(ScreeningReviewTest, WeakMatchIsAReviewNotARestrictedParty) {
  Analyzer a(ReviewPolicy());
  a.SetIdentity(Snapshot(1, "csl-sha256:aaa", "weak", "h1"), kT0);
  a.Evaluate(kT0);
  EXPECT_THAT(Flags(a, "screening_hit"), IsEmpty());
  auto reviews = Flags(a, "screening_review:");
  ASSERT_THAT(reviews, SizeIs(1));
  EXPECT_EQ(reviews[0].rule(), "screening_review:T4@h1");
  EXPECT_EQ(reviews[0].subject(), "account:acme");
  EXPECT_EQ(reviews[0].status(), provenance::v1::FLAG_STATUS_OPEN);
  EXPECT_THAT(reviews[0].evidence(0).sentence(), HasSubstr("weak match"));
  // The same hit when strong makes a screening_hit flag instead.
  Analyzer b(ReviewPolicy());
  b.SetIdentity(Snapshot(1, "csl-sha256:aaa", "strong", "h1"), kT0);
  b.Evaluate(kT0);
  EXPECT_THAT(Flags(b, "screening_hit"), SizeIs(1));
  EXPECT_THAT(Flags(b, "screening_review:"), IsEmpty());
}

TEST(ScreeningReviewTest, ClearanceSurvivesReimportsUntilTheEntryChanges) {
  Analyzer a(ReviewPolicy());
  a.SetIdentity(Snapshot(1, "csl-sha256:aaa", "weak", "h1"), kT0);
  a.Evaluate(kT0);
  auto reviews = Flags(a, "screening_review:");
  ASSERT_THAT(reviews, SizeIs(1));
  const std::string id = reviews[0].flag_id();
  ASSERT_NE(
      a.SetFlagCase(id, provenance::v1::FLAG_STATUS_RESOLVED,
                    provenance::v1::DISPOSITION_FALSE_POSITIVE, "alice", kT0 + absl::Minutes(1)),
      nullptr);
  a.TakeChanges();
  const int64_t revision = a.flag(id)->revision();

  // A KYC re-import and a re-import of a list whose entry T4 is unchanged.
  a.SetIdentity(Snapshot(2, "csl-sha256:bbb", "weak", "h1"), kT0 + absl::Hours(1));
  a.Evaluate(kT0 + absl::Hours(1));
  reviews = Flags(a, "screening_review:");
  ASSERT_THAT(reviews, SizeIs(1));
  EXPECT_EQ(reviews[0].status(), provenance::v1::FLAG_STATUS_RESOLVED);
  EXPECT_EQ(reviews[0].disposition(), provenance::v1::DISPOSITION_FALSE_POSITIVE);
  EXPECT_EQ(a.flag(id)->revision(), revision);  // untouched

  // The list entry itself changes: a new review, open, for a person to look at again.
  a.SetIdentity(Snapshot(3, "csl-sha256:ccc", "weak", "h2"), kT0 + absl::Hours(2));
  a.Evaluate(kT0 + absl::Hours(2));
  reviews = Flags(a, "screening_review:T4@h2");
  ASSERT_THAT(reviews, SizeIs(1));
  EXPECT_EQ(reviews[0].status(), provenance::v1::FLAG_STATUS_OPEN);
  EXPECT_EQ(a.flag(id)->status(), provenance::v1::FLAG_STATUS_RESOLVED);
}

}  // namespace
}  // namespace prov::server
