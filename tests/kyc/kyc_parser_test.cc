#include "server/kyc/kyc_parser.h"

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace prov::kyc {
namespace {

constexpr char kHeader[] =
    "account_id,legal_entity,country_of_incorporation,beneficial_owners,addresses,"
    "payment_fingerprint,email_domains,source_ips,parent_account,is_reseller\n";

TEST(KycParserTest, CsvRecordWithListsAndOwners) {
  std::string csv = std::string(kHeader) +
                    "acme-ml,Acme ML Ltd,gb,\"Li Wei (cn); Jane Roe (US)\",\"1 High St, London\","
                    "pf:9f8e,@Acme.example; acme.example.org,\"203.0.113.7; 2001:db8::/32\","
                    "reseller-1,no\n";
  auto r = ParseKyc(csv, KycFormat::kCsv, "a.csv");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->errors.empty()) << r->errors[0].message;
  ASSERT_EQ(r->accounts.size(), 1u);
  const auto& a = r->accounts[0];
  EXPECT_EQ(a.account_id(), "acme-ml");
  EXPECT_EQ(a.country_of_incorporation(), "GB");
  ASSERT_EQ(a.beneficial_owners_size(), 2);
  EXPECT_EQ(a.beneficial_owners(0).name(), "Li Wei");
  EXPECT_EQ(a.beneficial_owners(0).nationality(), "CN");
  EXPECT_EQ(a.email_domains(0), "acme.example");
  EXPECT_EQ(a.source_ips(1), "2001:db8::/32");
  EXPECT_EQ(a.parent_account(), "reseller-1");
  EXPECT_FALSE(a.is_reseller());
  EXPECT_EQ(r->content_digest.size(), 64u);
}

TEST(KycParserTest, BadRowsNamedByLineAndFieldGoodRowsKept) {
  std::string csv = std::string(kHeader) +
                    "good-1,Good One,US,,,,,,,\n"
                    "bad-ip,Bad IP,US,,,,,10.0.0.300,,\n"
                    "bad-country,Bad Country,USA,,,,,,,\n"
                    "good-1,Duplicate,US,,,,,,,\n"
                    "self,Self Parent,US,,,,,,self,\n"
                    "short,row\n"
                    "good-2,Good Two,DE,,,,,,,yes\n";
  auto r = ParseKyc(csv, KycFormat::kCsv, "a.csv");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->accounts.size(), 2u);
  EXPECT_EQ(r->accounts[1].account_id(), "good-2");
  EXPECT_TRUE(r->accounts[1].is_reseller());
  ASSERT_EQ(r->errors.size(), 5u);
  EXPECT_EQ(r->errors[0].message,
            "line 3: field source_ips[0]: \"10.0.0.300\" is not an IP address or CIDR block");
  EXPECT_EQ(r->errors[1].message,
            "line 4: field country_of_incorporation: \"USA\" is not a two-letter ISO 3166 code");
  EXPECT_EQ(r->errors[2].message,
            "line 5: field account_id: \"good-1\" appears more than once in this import");
  EXPECT_EQ(r->errors[3].message,
            "line 6: field parent_account: an account cannot be its own parent");
  EXPECT_EQ(r->errors[4].message, "line 7: expected 10 fields, got 2");
}

TEST(KycParserTest, UnknownColumnFailsWholeFile) {
  auto r = ParseKyc("account_id,legal_entity,favourite_colour\n", KycFormat::kCsv, "a.csv");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("unknown column \"favourite_colour\""), std::string::npos);
}

// Found by fuzz_kyc: a header naming a column twice let a row as wide as the distinct columns
// through, and reading its last column went past the row's end. Now the file is refused.
TEST(KycParserTest, DuplicateColumnFailsWholeFile) {
  auto r = ParseKyc(
      "account_id,legal_entity,country_of_incorporation,country_of_incorporation\n"
      "acme,Acme,US\n",
      KycFormat::kCsv, "dup.csv");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find(
                "line 1: column \"country_of_incorporation\" appears more than once"),
            std::string::npos)
      << r.status().message();
}

TEST(KycParserTest, JsonBatchErrorsNameIndex) {
  std::string json = R"({"accounts": [
      {"account_id": "a1", "legal_entity": "A One", "beneficial_owners": [{"name": "X", "nationality": "ir"}]},
      {"account_id": "a2", "legal_entity": ""}]})";
  auto r = ParseKyc(json, KycFormat::kJson, "a.json");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->accounts.size(), 1u);
  EXPECT_EQ(r->accounts[0].beneficial_owners(0).nationality(), "IR");
  ASSERT_EQ(r->errors.size(), 1u);
  EXPECT_EQ(r->errors[0].message, "accounts[1]: field legal_entity: empty");
}

TEST(KycParserTest, JsonLinesReportBadLines) {
  std::string jsonl =
      "{\"account_id\": \"a1\", \"legal_entity\": \"A\"}\n"
      "{\"account_id\": \"a2\", \"legal_entity\": \"B\", \"colour\": 1}\n"
      "\n"
      "{\"account_id\": \"a3\", \"legal_entity\": \"C\"}\n";
  auto r = ParseKyc(jsonl, KycFormat::kJsonLines, "a.jsonl");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->accounts.size(), 2u);
  ASSERT_EQ(r->errors.size(), 1u);
  EXPECT_EQ(r->errors[0].line, 2);
  EXPECT_NE(r->errors[0].message.find("colour"), std::string::npos);
}

// Issue 14: one Windows-1252 byte used to be stored, after which no stored record parsed again.
TEST(KycParserTest, NonUtf8RefusedWholeNamingLineAndColumn) {
  std::string csv = std::string(kHeader) + "good-1,Good One,US,,,,,,,\n" +
                    "sg-1,Soci\xe9t\xe9 G\xe9n\xe9rale,FR,,,,,,,\n";
  auto r = ParseKyc(csv, KycFormat::kCsv, "a.csv");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("a.csv: line 3, column 10: byte 0xE9 is not valid UTF-8"),
            std::string::npos)
      << r.status();
  // The same name in UTF-8 is fine.
  auto ok = ParseKyc(
      std::string(kHeader) + "sg-1,Soci\xc3\xa9t\xc3\xa9 G\xc3\xa9n\xc3\xa9rale,FR,,,,,,,\n",
      KycFormat::kCsv, "a.csv");
  ASSERT_TRUE(ok.ok()) << ok.status();
  ASSERT_EQ(ok->accounts.size(), 1u);
  EXPECT_EQ(ok->accounts[0].legal_entity(), "Soci\xc3\xa9t\xc3\xa9 G\xc3\xa9n\xc3\xa9rale");
}

// Issue 14: an unterminated quote on line 3 used to import lines 1-2 and drop the rest silently.
TEST(KycParserTest, UnterminatedQuoteFailsWholeFile) {
  std::string csv = std::string(kHeader) + "good-1,Good One,US,,,,,,,\n" +
                    "bad,\"Open Quote,US,,,,,,,\n" + "good-2,Good Two,US,,,,,,,\n";
  auto r = ParseKyc(csv, KycFormat::kCsv, "a.csv");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "a.csv: line 3: unterminated quoted field; nothing in this file was imported");
}

TEST(KycParserTest, OversizedFieldsRefusedNamingFieldAndLimit) {
  const std::string huge(5 << 20, 'A');
  std::string csv = std::string(kHeader) + "big,\"" + huge + "\",US,,,,,,,\n" + "addr,Addr,US,," +
                    std::string(kMaxFieldBytes + 1, 'x') + ",,,,,\n" + "owner,Owner,US," +
                    std::string(kMaxNameBytes + 1, 'o') + ",,,,,,\n" + "good,Good,US,,,,,,,\n";
  auto r = ParseKyc(csv, KycFormat::kCsv, "a.csv");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->accounts.size(), 1u);
  ASSERT_EQ(r->errors.size(), 3u);
  EXPECT_EQ(r->errors[0].message,
            "line 2: field legal_entity: 5242880 bytes; the limit is 512 bytes");
  EXPECT_EQ(r->errors[1].message,
            "line 3: field addresses[0]: 4097 bytes; the limit is 4096 bytes");
  EXPECT_EQ(r->errors[2].message,
            "line 4: field beneficial_owners[0].name: 513 bytes; the limit is 512 bytes");
}

TEST(KycParserTest, TooManyListEntriesRefused) {
  std::string ips;
  for (int i = 0; i <= kMaxListEntries; ++i)
    absl::StrAppend(&ips, "10.0.", i / 256, ".", i % 256, ";");
  auto r = ParseKyc(std::string(kHeader) + "many,Many,US,,,,,\"" + ips + "\",,\n", KycFormat::kCsv,
                    "a.csv");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->errors.size(), 1u);
  EXPECT_EQ(r->errors[0].message,
            "line 2: field source_ips: 257 entries; the limit is 256 entries");
}

TEST(KycParserTest, RowCapFailsWholeImport) {
  std::string csv = kHeader;
  for (int i = 0; i < 5; ++i) absl::StrAppend(&csv, "a", i, ",A,US,,,,,,,\n");
  KycParseOptions options;
  options.max_rows = 4;
  auto r = ParseKyc(csv, KycFormat::kCsv, "a.csv", options);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "a.csv: more than 4 records; the limit is 4 per import (split the file)");
  options.max_rows = 5;
  EXPECT_TRUE(ParseKyc(csv, KycFormat::kCsv, "a.csv", options).ok());
}

TEST(KycParserTest, CancelledStopsParsing) {
  std::string jsonl;
  for (int i = 0; i < 1000; ++i) {
    absl::StrAppend(&jsonl, "{\"account_id\": \"a", i, "\", \"legal_entity\": \"A\"}\n");
  }
  int polls = 0;
  KycParseOptions options;
  options.cancelled = [&] { return ++polls >= 2; };
  auto r = ParseKyc(jsonl, KycFormat::kJsonLines, "a.jsonl", options);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(polls, 2);
}

TEST(KycParserTest, FormatFromPath) {
  EXPECT_EQ(*KycFormatFromPath("x/ACCOUNTS.CSV"), KycFormat::kCsv);
  EXPECT_EQ(*KycFormatFromPath("a.jsonl"), KycFormat::kJsonLines);
  EXPECT_EQ(*KycFormatFromPath("a.json"), KycFormat::kJson);
  EXPECT_FALSE(KycFormatFromPath("a.xlsx").ok());
}

}  // namespace
}  // namespace prov::kyc

namespace prov::kyc {
namespace {

// Issue 9: birth dates of beneficial owners and registration numbers of entities.
TEST(KycParserTest, OwnerBirthDateAndRegistrationNumbers) {
  std::string csv =
      "account_id,legal_entity,beneficial_owners,registration_numbers\n"
      "acme,Acme Ltd,\"Li Wei (cn, 1971-03-02); Jane Roe (1980); Bob\",\"HRB 12345; 529900T8BM\"\n"
      "bad-dob,Bad Ltd,\"Jo Doe (US, 1971-02-30)\",\n"
      "bad-reg,Bad Reg Ltd,,\"12#45\"\n";
  auto r = ParseKyc(csv, KycFormat::kCsv, "a.csv");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->accounts.size(), 1u);
  const auto& a = r->accounts[0];
  ASSERT_EQ(a.beneficial_owners_size(), 3);
  EXPECT_EQ(a.beneficial_owners(0).nationality(), "CN");
  EXPECT_EQ(a.beneficial_owners(0).birth_date(), "1971-03-02");
  EXPECT_EQ(a.beneficial_owners(1).nationality(), "");
  EXPECT_EQ(a.beneficial_owners(1).birth_date(), "1980");
  EXPECT_EQ(a.beneficial_owners(2).birth_date(), "");
  ASSERT_EQ(a.registration_numbers_size(), 2);
  EXPECT_EQ(a.registration_numbers(0), "HRB 12345");
  ASSERT_EQ(r->errors.size(), 2u);
  EXPECT_NE(r->errors[0].message.find("beneficial_owners[0].birth_date: \"1971-02-30\""),
            std::string::npos)
      << r->errors[0].message;
  EXPECT_NE(r->errors[1].message.find("registration_numbers[0]: \"12#45\""), std::string::npos)
      << r->errors[1].message;

  auto json = ParseKyc(
      R"({"accounts":[{"accountId":"j","legalEntity":"J Ltd","registrationNumbers":["LEI-1"],)"
      R"("beneficialOwners":[{"name":"A B","birthDate":"1960-05"}]}]})",
      KycFormat::kJson, "a.json");
  ASSERT_TRUE(json.ok()) << json.status();
  ASSERT_EQ(json->accounts.size(), 1u) << (json->errors.empty() ? "" : json->errors[0].message);
  EXPECT_EQ(json->accounts[0].beneficial_owners(0).birth_date(), "1960-05");
  EXPECT_EQ(json->accounts[0].registration_numbers(0), "LEI-1");
}

}  // namespace
}  // namespace prov::kyc
