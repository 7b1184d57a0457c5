#include "common/csv.h"

#include "gtest/gtest.h"

namespace prov {
namespace {

using Row = std::vector<std::string>;

std::vector<Row> ReadAll(absl::string_view text, char delim = ',') {
  CsvReader reader(text, delim);
  std::vector<Row> rows;
  Row fields;
  while (true) {
    auto more = reader.Next(&fields);
    EXPECT_TRUE(more.ok()) << more.status();
    if (!more.ok() || !*more) break;
    rows.push_back(fields);
  }
  return rows;
}

TEST(CsvReaderTest, QuotesEscapesNewlinesAndCrlf) {
  auto rows = ReadAll("a,\"b,1\",\"say \"\"hi\"\"\"\r\n\"multi\nline\",,x\n");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], (Row{"a", "b,1", "say \"hi\""}));
  EXPECT_EQ(rows[1], (Row{"multi\nline", "", "x"}));
}

TEST(CsvReaderTest, RecordLinesCountEmbeddedNewlines) {
  CsvReader reader("h\n\"x\ny\"\nz\n");
  Row f;
  ASSERT_TRUE(*reader.Next(&f));
  ASSERT_TRUE(*reader.Next(&f));
  EXPECT_EQ(reader.record_line(), 2);
  ASSERT_TRUE(*reader.Next(&f));
  EXPECT_EQ(reader.record_line(), 4);
  EXPECT_FALSE(*reader.Next(&f));
}

TEST(CsvReaderTest, TabDelimitedQuoted) {
  auto rows = ReadAll("\"Name\"\t\"City\"\n\" I. ASH\"\t\"SEAGOVILLE\"\n", '\t');
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1], (Row{" I. ASH", "SEAGOVILLE"}));
}

TEST(CsvReaderTest, ErrorsNameLineAndField) {
  Row f;
  CsvReader bad_quote("ok\nab\"c,d\n");
  ASSERT_TRUE(*bad_quote.Next(&f));
  auto r = bad_quote.Next(&f);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "line 2: field 1: quote inside an unquoted field");
  CsvReader unterminated("\"abc\n");
  EXPECT_EQ(unterminated.Next(&f).status().message(), "line 1: unterminated quoted field");
}

TEST(CsvReaderTest, ByteOrderMarkSkipped) {
  auto rows = ReadAll("\xEF\xBB\xBFsource,name\n");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0], "source");
}

}  // namespace
TEST(CsvFieldTest, QuotesOnlyWhatNeedsItAndReadsBackUnchanged) {
  EXPECT_EQ(CsvField("acme"), "acme");
  EXPECT_EQ(CsvField("Acme, Inc."), "\"Acme, Inc.\"");
  EXPECT_EQ(CsvField("say \"hi\""), "\"say \"\"hi\"\"\"");
  const std::vector<std::string> fields = {"a,b", "q\"uote", "line\nbreak", "cr\r", "", "plain"};
  std::string line;
  for (size_t i = 0; i < fields.size(); ++i) line += (i ? "," : "") + CsvField(fields[i]);
  line += "\n";
  CsvReader reader(line);  // the text must outlive the reader
  std::vector<std::string> back;
  ASSERT_TRUE(*reader.Next(&back));
  EXPECT_EQ(back, fields);
}

}  // namespace prov
