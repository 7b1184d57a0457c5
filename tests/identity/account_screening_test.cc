#include "server/identity/account_screening.h"

#include "common/fs.h"
#include "gtest/gtest.h"
#include "server/kyc/kyc_parser.h"

namespace prov::server {
namespace {

using provenance::v1::AccountIdentity;
using provenance::v1::ScreeningMatch;

class AccountScreeningTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto csl = ReadFileToString("tests/fixtures/identity/csl_sample.csv");
    ASSERT_TRUE(csl.ok()) << csl.status();
    std::vector<screening::RowError> errors;
    auto list = screening::ParseConsolidatedScreeningList(*csl, "csl_sample.csv", &errors);
    ASSERT_TRUE(list.ok()) << list.status();
    ASSERT_TRUE(errors.empty());
    list_ = *std::move(list);
    screener_ = std::make_unique<screening::Screener>(list_, normalizer_);
    auto kyc_text = ReadFileToString("tests/fixtures/identity/accounts.csv");
    ASSERT_TRUE(kyc_text.ok());
    auto parsed = kyc::ParseKyc(*kyc_text, kyc::KycFormat::kCsv, "accounts.csv");
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    ASSERT_TRUE(parsed->errors.empty()) << parsed->errors[0].message;
    accounts_ = parsed->accounts;
  }
  std::vector<ScreeningMatch> HitsOf(const std::vector<ScreeningMatch>& all,
                                     const std::string& account) {
    std::vector<ScreeningMatch> out;
    for (const auto& m : all) {
      if (m.account_id() == account) out.push_back(m);
    }
    return out;
  }

  screening::NameNormalizer normalizer_;
  screening::CslList list_;
  std::unique_ptr<screening::Screener> screener_;
  std::vector<AccountIdentity> accounts_;
};

TEST_F(AccountScreeningTest, LegalEntityHit) {
  auto hits = HitsOf(ScreenAccounts(accounts_, *screener_, 4), "guian-cloud");
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].subject_kind(), "legal_entity");
  EXPECT_EQ(hits[0].subject_name(), "Guian New District Huawei Investment Co., Ltd.");
  EXPECT_EQ(hits[0].entry_source(), "Entity List (EL) - Bureau of Industry and Security");
  EXPECT_EQ(hits[0].list_version(), list_.version);
  EXPECT_EQ(hits[0].kyc_version(), 4);
  EXPECT_FALSE(hits[0].matched_alias());
  EXPECT_GE(hits[0].score(), 0.88);
  ASSERT_FALSE(hits[0].reasons().empty());
  EXPECT_NE(hits[0].reasons(0).find("score"), std::string::npos);
}

TEST_F(AccountScreeningTest, BeneficialOwnerHitByAlias) {
  auto hits = HitsOf(ScreenAccounts(accounts_, *screener_, 1), "sunrise");
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].subject_kind(), "beneficial_owner");
  EXPECT_EQ(hits[0].subject_name(), "Mohammad Mutlaq Abu Jhesheh");
  EXPECT_EQ(hits[0].entry_id(), "9673");
  EXPECT_EQ(hits[0].entry_name(), "ABU JHESHEH, Mohammad Mutlaq");  // an alias, closest
  EXPECT_TRUE(hits[0].matched_alias());
}

TEST_F(AccountScreeningTest, ResellerChainScreensEveryAncestor) {
  auto all = ScreenAccounts(accounts_, *screener_, 1);
  // reseller-top's own legal entity is listed (Gryphon Aerospace).
  auto top = HitsOf(all, "reseller-top");
  ASSERT_EQ(top.size(), 1u);
  EXPECT_EQ(top[0].subject_kind(), "legal_entity");
  // reseller-mid: its parent is reseller-top.
  auto mid = HitsOf(all, "reseller-mid");
  ASSERT_EQ(mid.size(), 1u);
  EXPECT_EQ(mid[0].subject_kind(), "reseller");
  EXPECT_EQ(mid[0].subject_name(), "Gryphon Aerospace Pte Ltd");
  // end-customer: two steps up.
  auto end = HitsOf(all, "end-customer");
  ASSERT_EQ(end.size(), 1u);
  EXPECT_EQ(end[0].subject_kind(), "reseller");
  EXPECT_EQ(end[0].entry_name(), "Gryphon Aerospace");
  EXPECT_EQ(end[0].reasons(0),
            "reseller chain end-customer -> reseller-mid -> reseller-top: ancestor reseller-top "
            "screened by its legal entity");
}

TEST_F(AccountScreeningTest, ParentNeverImportedIsScreenedByItsId) {
  auto hits = HitsOf(ScreenAccounts(accounts_, *screener_, 1), "orphan");
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].subject_kind(), "reseller");
  EXPECT_EQ(hits[0].subject_name(), "54th-research-institute-of-china");
  EXPECT_EQ(hits[0].entry_name(), "54th Research Institute of China");
  EXPECT_NE(hits[0].reasons(0).find("no imported KYC record"), std::string::npos);
}

TEST_F(AccountScreeningTest, CleanAccountsAndCyclesGiveNoHits) {
  auto all = ScreenAccounts(accounts_, *screener_, 1);
  EXPECT_TRUE(HitsOf(all, "northwind").empty());
  EXPECT_TRUE(HitsOf(all, "loop-a").empty());  // loop-a -> loop-b -> loop-a terminates
  EXPECT_TRUE(HitsOf(all, "loop-b").empty());
  EXPECT_EQ(all.size(), 6u);
}

TEST_F(AccountScreeningTest, DeterministicOrderWhateverTheInputOrder) {
  auto forward = ScreenAccounts(accounts_, *screener_, 1);
  std::vector<AccountIdentity> reversed(accounts_.rbegin(), accounts_.rend());
  auto backward = ScreenAccounts(reversed, *screener_, 1);
  ASSERT_EQ(forward.size(), backward.size());
  for (size_t i = 0; i < forward.size(); ++i) {
    EXPECT_EQ(forward[i].SerializeAsString(), backward[i].SerializeAsString()) << i;
  }
  for (size_t i = 1; i < forward.size(); ++i) {
    EXPECT_LE(forward[i - 1].account_id(), forward[i].account_id());
  }
}

TEST_F(AccountScreeningTest, DuplicateOwnersReportedOnce) {
  AccountIdentity a;
  a.set_account_id("dup");
  a.set_legal_entity("Plain Name Ltd");
  a.add_beneficial_owners()->set_name("Mohammed Abu Jheisheh");
  a.add_beneficial_owners()->set_name("Mohammed Abu Jheisheh");
  auto hits = ScreenAccounts({a}, *screener_, 1);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].entry_id(), "9673");
}

TEST_F(AccountScreeningTest, AffectedAccountsAreTheChangedAndTheirResellerDescendants) {
  EXPECT_EQ(AffectedAccounts(accounts_, {"reseller-top"}),
            (std::vector<std::string>{"end-customer", "reseller-mid", "reseller-top"}));
  EXPECT_EQ(AffectedAccounts(accounts_, {"end-customer"}),
            (std::vector<std::string>{"end-customer"}));
  EXPECT_EQ(AffectedAccounts(accounts_, {"loop-a"}),
            (std::vector<std::string>{"loop-a", "loop-b"}));  // a cycle ends the walk
  // A parent that was never imported but now is: its children are affected.
  EXPECT_EQ(AffectedAccounts(accounts_, {"54th-research-institute-of-china"}),
            (std::vector<std::string>{"orphan"}));
  EXPECT_TRUE(AffectedAccounts(accounts_, {}).empty());
}

TEST_F(AccountScreeningTest, OnlyScreensTheGivenAccounts) {
  absl::flat_hash_set<std::string> only = {"end-customer", "northwind"};
  auto hits = ScreenAccounts(accounts_, *screener_, 1, &only);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].account_id(), "end-customer");  // still walks reseller-mid, reseller-top
}

}  // namespace
}  // namespace prov::server
