// Screening precision (issue 9): one-to-one name parts, rarity weights, family-name agreement,
// secondary-identifier qualifiers and strength levels, on
// tests/fixtures/screening/csl_precision.csv.
#include <memory>

#include "common/fs.h"
#include "gtest/gtest.h"
#include "server/screening/name_frequencies.h"
#include "server/screening/screener.h"

namespace prov::screening {
namespace {

class PrecisionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto text = ReadFileToString("tests/fixtures/screening/csl_precision.csv");
    ASSERT_TRUE(text.ok());
    std::vector<RowError> errors;
    auto parsed = ParseConsolidatedScreeningList(*text, "precision.csv", &errors);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    ASSERT_TRUE(errors.empty());
    list_ = std::move(*parsed);
    screener_ = std::make_unique<Screener>(list_, normalizer_);
  }
  std::vector<ScreeningHit> Person(const std::string& name, const std::string& dob = "",
                                   const std::string& nationality = "") {
    ScreeningSubject s;
    s.name = name;
    s.kind = SubjectKind::kPerson;
    s.birth_date = dob;
    s.nationality = nationality;
    return screener_->Screen(s);
  }
  static const ScreeningHit* Find(const std::vector<ScreeningHit>& hits, const std::string& id) {
    for (const auto& h : hits) {
      if (h.entry->id == id) return &h;
    }
    return nullptr;
  }
  static std::string Why(const std::vector<ScreeningHit>& hits) {
    std::string out;
    for (const auto& h : hits) {
      out += h.entry->id + ":";
      for (const auto& r : h.reasons) out += " | " + r;
      out += "\n";
    }
    return out;
  }
  NameNormalizer normalizer_;
  CslList list_;
  std::unique_ptr<Screener> screener_;
};

TEST_F(PrecisionTest, CslSecondaryIdentifiersAreParsed) {
  const CslEntry& akhras = list_.entries[2];
  EXPECT_EQ(akhras.dates_of_birth, std::vector<std::string>{"1950-01-27"});
  EXPECT_EQ(akhras.countries, std::vector<std::string>{"SY"});
  EXPECT_EQ(list_.entries[0].countries, std::vector<std::string>{"HK"});
  EXPECT_NE(list_.entries[4].ids.find("91440300MA5FXK2K1Q"), std::string::npos);
  EXPECT_EQ(akhras.content_hash.size(), 16u);
  EXPECT_NE(akhras.content_hash, list_.entries[3].content_hash);
}

// The false matches named in issue 9: the old scorer paired "john" with "johnson" AND "johnson"
// with "johnson", and "andrew"/"anders", "walker"/"walter" as near-equal.
TEST_F(PrecisionTest, NamedCommonNameFalseMatchesNoLongerMatch) {
  auto john = Person("John Johnson");
  EXPECT_EQ(Find(john, "T1"), nullptr) << Why(john);
  auto andrew = Person("Andrew Walker");
  EXPECT_EQ(Find(andrew, "T2"), nullptr) << Why(andrew);
  EXPECT_TRUE(screener_->Screen("John Johnson").empty());
  EXPECT_TRUE(screener_->Screen("Andrew Walker").empty());
}

TEST_F(PrecisionTest, NamePartsPairOneToOne) {
  std::vector<std::string> reasons;
  double score = screener_->Score(normalizer_.Normalize("John Johnson"),
                                  normalizer_.Normalize("Johnson Johnson"), &reasons);
  EXPECT_LT(score, 0.8);  // only one "johnson" can pair with the listed one's two
}

TEST_F(PrecisionTest, TrueVariantsStillHitStrong) {
  for (const char* variant : {"Mohammad Abu Jhesheh", "Mohammed ABU JHEISHEH", "Safwan Al Akhras",
                              "AKHRAS Safwan AL", "Сафван Аль-Ахрас"}) {
    auto hits = Person(variant);
    ASSERT_FALSE(hits.empty()) << variant;
    EXPECT_EQ(hits[0].strength, MatchStrength::kStrong) << variant << "\n" << Why(hits);
  }
  for (const char* variant :
       {"ZHONGXING PHOTONICS RESEARCH LIMITED", "Zhongxing Photonics Research Company Limited",
        "Research Zhongxing Photonics Co"}) {
    auto hits = screener_->Screen(variant);
    ASSERT_FALSE(hits.empty()) << variant;
    EXPECT_EQ(hits[0].entry->id, "T5");
    EXPECT_EQ(hits[0].strength, MatchStrength::kStrong) << variant << "\n" << Why(hits);
  }
}

TEST_F(PrecisionTest, CommonNameIsWeakUnlessDateOfBirthConfirms) {
  auto plain = Person("John Smith");
  const ScreeningHit* hit = Find(plain, "T4");
  ASSERT_NE(hit, nullptr) << Why(plain);
  EXPECT_EQ(hit->strength, MatchStrength::kWeak);

  auto same_dob = Person("John Smith", "1960-05-05", "GB");
  hit = Find(same_dob, "T4");
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->strength, MatchStrength::kStrong) << Why(same_dob);
}

TEST_F(PrecisionTest, DateOfBirthMismatchDiscounts) {
  auto without = Person("Safwan Al-Akhras");
  const ScreeningHit* base = Find(without, "T3");
  ASSERT_NE(base, nullptr);
  ASSERT_EQ(base->strength, MatchStrength::kStrong);

  auto differs = Person("Safwan Al-Akhras", "1988-02-02");
  const ScreeningHit* hit = Find(differs, "T3");
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->strength, MatchStrength::kWeak);
  EXPECT_LT(hit->score, base->score);
  bool said = false;
  for (const auto& r : hit->reasons) said = said || r.find("differs from the listed") != r.npos;
  EXPECT_TRUE(said) << Why(differs);

  // A common name whose date of birth differs drops out altogether.
  EXPECT_EQ(Find(Person("Jon Smith", "1981-01-01"), "T4"), nullptr);
}

TEST_F(PrecisionTest, RegistrationNumberConfirmsEntity) {
  ScreeningSubject s;
  s.name = "ZX Photonics Research";
  s.kind = SubjectKind::kEntity;
  s.registration_numbers = {"91440300MA5FXK2K1Q"};
  s.country = "CN";
  auto hits = screener_->Screen(s);
  const ScreeningHit* hit = Find(hits, "T5");
  ASSERT_NE(hit, nullptr) << Why(hits);
  EXPECT_EQ(hit->strength, MatchStrength::kStrong);
}

// Most Denied Persons List orders have expired; an expired listing restricts no one. Seen in the
// realistic evaluation: "Francisco Javier Martinez" matched the DPL's "FRANCISCO XAVIER MARTINEZ",
// whose denial ended on 2024-11-16, as a strong hit.
TEST(ScreenerExpiryTest, ListingsThatEndedBeforeTheScreeningDayMatchNothing) {
  const std::string csv =
      "source,entity_number,type,programs,name,title,addresses,federal_register_notice,"
      "start_date,end_date,standard_order,license_requirement,license_policy,call_sign,"
      "vessel_type,gross_tonnage,gross_registered_tonnage,vessel_flag,vessel_owner,remarks,"
      "source_list_url,alt_names,citizenships,dates_of_birth,nationalities,places_of_birth,"
      "source_information_url,ids\n"
      "Denied Persons List (DPL) - Bureau of Industry and Security,,,,FRANCISCO XAVIER "
      "MARTINEZ,,\"BASTROP, TX\",,2018-09-27,2024-11-16,Y,,,,,,,,,,,,,,,,,\n"
      "Denied Persons List (DPL) - Bureau of Industry and Security,,,,QUENTIN ZEBEDIAH "
      "ABERNATHY,,\"AUSTIN, TX\",,2018-09-27,2030-01-01,Y,,,,,,,,,,,,,,,,,\n";
  std::vector<RowError> errors;
  auto list = ParseConsolidatedScreeningList(csv, "dpl.csv", &errors);
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_TRUE(errors.empty()) << errors[0].message;
  ASSERT_EQ(list->entries.size(), 2u);
  EXPECT_EQ(list->entries[0].end_date, "2024-11-16");
  NameNormalizer normalizer;
  ScreeningSubject exact{.name = "Francisco Xavier Martinez", .kind = SubjectKind::kPerson};
  ScreeningSubject other{.name = "Quentin Zebediah Abernathy", .kind = SubjectKind::kPerson};

  Screener before(*list, normalizer, {.as_of = "2024-11-15"});
  EXPECT_FALSE(before.Screen(exact).empty()) << "still listed the day before it ends";
  Screener after(*list, normalizer, {.as_of = "2026-12-05"});
  EXPECT_TRUE(after.Screen(exact).empty()) << "the denial order ended on 2024-11-16";
  EXPECT_FALSE(after.Screen(other).empty()) << "an entry listed until 2030 still counts";
  EXPECT_EQ(after.expired(), 1u);
  Screener undated(*list, normalizer);
  EXPECT_FALSE(undated.Screen(exact).empty()) << "no screening day: every entry counts";
}

TEST(NameFrequenciesTest, ParsesTableAndRefusesBadShares) {
  NameNormalizer normalizer;
  auto text = ReadFileToString("tests/fixtures/screening/name_frequencies.csv");
  ASSERT_TRUE(text.ok());
  auto f = ParseNameFrequencies(*text, "f.csv", normalizer);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_DOUBLE_EQ(f->Share("john"), 0.02);
  EXPECT_DOUBLE_EQ(f->Share("carmen"), 0.03);
  EXPECT_EQ(f->Share("jheisheh"), 0);

  auto bad = ParseNameFrequencies("name,share\nJOHN,2\n", "bad.csv", normalizer);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("bad.csv: line 2: field share"), std::string::npos)
      << bad.status();
  EXPECT_FALSE(ParseNameFrequencies("surname,count\nX,1\n", "h.csv", normalizer).ok());
  EXPECT_GT(BuiltinNameFrequencies().Share("smith"), 0.001);
}

TEST(NameFrequenciesTest, PopulationTableMakesCommonNamesWeak) {
  NameNormalizer normalizer;
  auto text = ReadFileToString("tests/fixtures/screening/csl_precision.csv");
  ASSERT_TRUE(text.ok());
  std::vector<RowError> errors;
  auto list = ParseConsolidatedScreeningList(*text, "p.csv", &errors);
  ASSERT_TRUE(list.ok());
  NameFrequencies table;
  table.Add("safwan", 0.01);
  table.Add("akhras", 0.01);
  Screener with_table(*list, normalizer, {.frequencies = &table});
  Screener builtin(*list, normalizer);
  EXPECT_LT(with_table.Weight("akhras"), builtin.Weight("akhras"));
  ScreeningSubject s;
  s.name = "Safwan Akhras";
  s.kind = SubjectKind::kPerson;
  auto hits = with_table.Screen(s);
  ASSERT_FALSE(hits.empty());
  EXPECT_EQ(hits[0].strength, MatchStrength::kWeak);
  EXPECT_EQ(builtin.Screen(s)[0].strength, MatchStrength::kStrong);
}

}  // namespace
}  // namespace prov::screening
