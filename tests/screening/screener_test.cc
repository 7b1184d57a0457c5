#include "server/screening/screener.h"

#include "common/fs.h"
#include "gtest/gtest.h"
#include "server/screening/jaro_winkler.h"

namespace prov::screening {
namespace {

TEST(JaroWinklerTest, KnownValues) {
  EXPECT_DOUBLE_EQ(JaroWinkler("same", "same"), 1.0);
  EXPECT_DOUBLE_EQ(JaroWinkler("abc", "xyz"), 0.0);
  EXPECT_NEAR(JaroWinkler("martha", "marhta"), 0.961, 0.001);  // Winkler's classic example
  EXPECT_NEAR(JaroWinkler("dixon", "dicksonx"), 0.813, 0.001);
}

class ScreenerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto text = ReadFileToString("tests/fixtures/screening/csl_28col_sample.csv");
    ASSERT_TRUE(text.ok());
    std::vector<RowError> errors;
    auto parsed = ParseConsolidatedScreeningList(*text, "28.csv", &errors);
    ASSERT_TRUE(parsed.ok());
    list_ = std::move(*parsed);
    screener_ = std::make_unique<Screener>(list_, normalizer_);
  }
  NameNormalizer normalizer_;
  CslList list_;
  std::unique_ptr<Screener> screener_;
};

TEST_F(ScreenerTest, ReorderedTransliteratedPersonNameHits) {
  auto hits = screener_->Screen("Mohammad Abu Jhesheh");
  ASSERT_FALSE(hits.empty());
  EXPECT_EQ(hits[0].entry->name, "ABU JHEISHEH, Mohammed");
  EXPECT_GE(hits[0].score, 0.9);
  EXPECT_NE(hits[0].reasons[0].find(list_.version), std::string::npos);
}

TEST_F(ScreenerTest, LegalFormsAndMisTranscodingDoNotHide) {
  auto hits = screener_->Screen("GUIAN NEW DISTRICT HUAWEI INVESTMENT LIMITED, GUIYANG GUIZHOU");
  ASSERT_FALSE(hits.empty());
  EXPECT_EQ(hits[0].entry->source, "Entity List (EL) - Bureau of Industry and Security");
  EXPECT_GE(hits[0].score, 0.95);
  bool saw_legal_form_reason = false;
  for (const auto& r : hits[0].reasons) {
    if (r.rfind("legal forms ignored", 0) == 0) saw_legal_form_reason = true;
  }
  EXPECT_TRUE(saw_legal_form_reason);
}

// Issue 9: b_layered_resellers-002's reseller, the Entity List's "54th Research Institute of
// China" written in lower case with a dotted legal form, fell to a weak match (below 0.88: the
// letters of "l.l.c." were three unpaired initials) and so was never a restricted party.
TEST_F(ScreenerTest, DottedLegalFormVariantIsAStrongHit) {
  auto hits = screener_->Screen("54th research institute china, l.l.c.");
  ASSERT_FALSE(hits.empty());
  EXPECT_EQ(hits[0].entry->name, "54th Research Institute of China");
  EXPECT_EQ(hits[0].strength, MatchStrength::kStrong) << hits[0].score;
  EXPECT_GE(hits[0].score, 0.88);
  // What the name scored when "l.l.c." stayed three initials: below a strong match.
  NormalizedName before{{"54th", "research", "institute", "china", "l", "l", "c"}, {}};
  const NormalizedName listed = normalizer_.Normalize("54th Research Institute of China");
  EXPECT_LT(screener_->Score(before, listed, nullptr), 0.88);
  EXPECT_GE(screener_->Score(normalizer_.Normalize("54th research institute china, l.l.c."), listed,
                             nullptr),
            0.88);
}

TEST_F(ScreenerTest, AliasHitSaysSo) {
  auto hits = screener_->Screen("Havantur Canada");
  ASSERT_FALSE(hits.empty());
  EXPECT_EQ(hits[0].entry->id, "8124");
  EXPECT_TRUE(hits[0].matched_alias);
}

TEST_F(ScreenerTest, UnrelatedNamesDoNotHit) {
  EXPECT_TRUE(screener_->Screen("Acme Cloud Research Labs").empty());
  EXPECT_TRUE(screener_->Screen("Canada Goose Outfitters").empty());
  EXPECT_TRUE(screener_->Screen("Mohammed Ali Hassan").empty());
}

TEST_F(ScreenerTest, ScoreIsOrderInsensitive) {
  NormalizedName a = normalizer_.Normalize("Research Institute 54th China");
  NormalizedName b = normalizer_.Normalize("54th Research Institute of China");
  std::vector<std::string> reasons;
  EXPECT_NEAR(screener_->Score(a, b, &reasons), 1.0, 1e-9);
  EXPECT_NE(std::find(reasons.begin(), reasons.end(), "same tokens in a different order"),
            reasons.end());
}

}  // namespace
}  // namespace prov::screening
