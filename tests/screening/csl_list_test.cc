#include "server/screening/csl_list.h"

#include "common/fs.h"
#include "gtest/gtest.h"

namespace prov::screening {
namespace {

std::string Fixture(const std::string& name) {
  auto text = ReadFileToString("tests/fixtures/screening/" + name);
  EXPECT_TRUE(text.ok()) << text.status();
  return text.value_or("");
}

TEST(CslListTest, Reads28ColumnForm) {
  std::vector<RowError> errors;
  auto list = ParseConsolidatedScreeningList(Fixture("csl_28col_sample.csv"), "28.csv", &errors);
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(list->columns, 28);
  ASSERT_EQ(list->entries.size(), 6u);
  const CslEntry& canada = list->entries[0];
  EXPECT_EQ(canada.name, "2904977 CANADA, INC.");
  EXPECT_EQ(canada.id, "8124");
  EXPECT_EQ(canada.alt_names, (std::vector<std::string>{"CARIBE SOL", "HAVANTUR CANADA INC."}));
  EXPECT_EQ(list->entries[5].source, "Entity List (EL) - Bureau of Industry and Security");
  EXPECT_EQ(list->entries[5].line, 7);
  EXPECT_EQ(list->version.rfind("csl-sha256:", 0), 0u);
}

TEST(CslListTest, Reads29ColumnFormById) {
  std::vector<RowError> errors;
  auto list = ParseConsolidatedScreeningList(Fixture("csl_29col_sample.csv"), "29.csv", &errors);
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->columns, 29);
  ASSERT_EQ(list->entries.size(), 4u);
  EXPECT_EQ(list->entries[0].id, "233a4d725770c81fb561ffe3842c14010c2201971d6be62eca1e613b");
  EXPECT_EQ(list->entries[1].name, "Mohammed ABU JHEISHEH");
  EXPECT_EQ(list->entries[1].alt_names.size(), 2u);
}

TEST(CslListTest, MalformedRowsReportedByLineOthersKept) {
  std::string text =
      "source,name,alt_names\n"
      "Entity List,Good One,\n"
      "Entity List,Too,Many,Fields\n"
      "Entity List,,\n"
      "Entity List,Good Two,Alias A; Alias B\n";
  std::vector<RowError> errors;
  auto list = ParseConsolidatedScreeningList(text, "x.csv", &errors);
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->entries.size(), 2u);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].message, "line 3: expected 3 fields, got 4");
  EXPECT_EQ(errors[1].message, "line 4: field name: empty");
}

TEST(CslListTest, NotACslIsAnError) {
  std::vector<RowError> errors;
  auto list = ParseConsolidatedScreeningList("a,b,c\n1,2,3\n", "x.csv", &errors);
  ASSERT_FALSE(list.ok());
  EXPECT_NE(list.status().message().find("no 'source' column"), std::string::npos);
}

TEST(CslListTest, BrokenQuotingFailsNamingTheLine) {
  std::vector<RowError> errors;
  auto list =
      ParseConsolidatedScreeningList("source,name,alt_names\nEL,\"open quote,\n", "x.csv", &errors);
  ASSERT_FALSE(list.ok());
  EXPECT_EQ(list.status().message(), "x.csv: line 2: unterminated quoted field");
}

TEST(CslListTest, NonUtf8RefusedNamingLineAndColumn) {
  std::vector<RowError> errors;
  auto list = ParseConsolidatedScreeningList(
      "source,name,alt_names\nEL,Good,\nEL,Soci\xe9t\xe9 G\xe9n\xe9rale,\n", "x.csv", &errors);
  ASSERT_FALSE(list.ok());
  EXPECT_NE(list.status().message().find("x.csv: line 3, column 8: byte 0xE9 is not valid UTF-8"),
            std::string::npos)
      << list.status();
}

TEST(CslListTest, OversizedFieldsAreRowErrorsNamingFieldAndLimit) {
  std::vector<RowError> errors;
  std::string text = "source,name,alt_names\nEL," + std::string(kMaxCslNameBytes + 1, 'N') +
                     ",\nEL,Alias Row," + std::string(kMaxCslNameBytes + 1, 'a') +
                     "\nEL,Good,Alias\n";
  auto list = ParseConsolidatedScreeningList(text, "x.csv", &errors);
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->entries.size(), 1u);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].message, "line 2: field name: 1025 bytes; the limit is 1024 bytes");
  EXPECT_EQ(errors[1].message, "line 3: field alt_names[0]: 1025 bytes; the limit is 1024 bytes");
}

TEST(CslListTest, RowCapAndCancellation) {
  std::string text = "source,name,alt_names\n";
  for (int i = 0; i < 600; ++i) text += "EL,Name " + std::to_string(i) + ",\n";
  std::vector<RowError> errors;
  CslParseOptions options;
  options.max_rows = 599;
  auto capped = ParseConsolidatedScreeningList(text, "x.csv", &errors, options);
  ASSERT_FALSE(capped.ok());
  EXPECT_EQ(capped.status().message(), "x.csv: more than 599 rows; the limit is 599 per import");
  options.max_rows = 1000;
  options.cancelled = [] { return true; };
  auto cancelled = ParseConsolidatedScreeningList(text, "x.csv", &errors, options);
  EXPECT_EQ(cancelled.status().code(), absl::StatusCode::kCancelled);
}

}  // namespace
}  // namespace prov::screening
