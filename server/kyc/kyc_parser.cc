#include "server/kyc/kyc_parser.h"

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/csv.h"
#include "common/proto_json.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "common/utf8.h"

namespace prov::kyc {
namespace {

using provenance::v1::AccountIdentity;

constexpr absl::string_view kColumns[] = {
    "account_id",        "legal_entity",        "country_of_incorporation",
    "beneficial_owners", "addresses",           "payment_fingerprint",
    "email_domains",     "source_ips",          "parent_account",
    "is_reseller",       "registration_numbers"};

std::vector<std::string> SplitList(absl::string_view value) {
  std::vector<std::string> out;
  for (absl::string_view part : absl::StrSplit(value, ';')) {
    part = absl::StripAsciiWhitespace(part);
    if (!part.empty()) out.emplace_back(part);
  }
  return out;
}

// "Li Wei (CN)" -> {name "Li Wei", nationality "CN"}; "Li Wei" -> no nationality;
// "Li Wei (CN, 1971-03-02)" and "Li Wei (1971)" also give a birth date (it starts with a digit).
void ParseOwner(absl::string_view text, provenance::v1::BeneficialOwner* owner) {
  text = absl::StripAsciiWhitespace(text);
  if (absl::EndsWith(text, ")")) {
    size_t open = text.rfind('(');
    if (open != absl::string_view::npos) {
      for (absl::string_view part :
           absl::StrSplit(text.substr(open + 1, text.size() - open - 2), ',')) {
        part = absl::StripAsciiWhitespace(part);
        if (!part.empty() && absl::ascii_isdigit(static_cast<unsigned char>(part[0]))) {
          owner->set_birth_date(std::string(part));
        } else {
          owner->set_nationality(std::string(part));
        }
      }
      text = absl::StripAsciiWhitespace(text.substr(0, open));
    }
  }
  owner->set_name(std::string(text));
}

absl::Status ParseBool(absl::string_view text, bool* out) {
  std::string t = absl::AsciiStrToLower(absl::StripAsciiWhitespace(text));
  if (t.empty() || t == "false" || t == "no" || t == "0") {
    *out = false;
  } else if (t == "true" || t == "yes" || t == "1") {
    *out = true;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("is_reseller: \"", text, "\" is not true/false/yes/no/1/0"));
  }
  return absl::OkStatus();
}

// Adds a validated record or an error; duplicate account ids within one input are errors.
void Accept(AccountIdentity account, absl::string_view where, int line,
            absl::flat_hash_set<std::string>* seen, KycParseResult* result) {
  absl::Status valid = ValidateAccount(&account);
  if (!valid.ok()) {
    result->errors.push_back({line, absl::StrCat(where, ": field ", valid.message())});
    return;
  }
  if (!seen->insert(account.account_id()).second) {
    result->errors.push_back(
        {line, absl::StrCat(where, ": field account_id: \"", account.account_id(),
                            "\" appears more than once in this import")});
    return;
  }
  result->accounts.push_back(std::move(account));
}

// Counts one record against the options: an error once there are too many or the caller gave up.
class RowBudget {
 public:
  RowBudget(const KycParseOptions& options, absl::string_view source)
      : options_(options), source_(source) {}
  absl::Status Take() {
    ++rows_;
    if (rows_ > options_.max_rows) {
      return absl::InvalidArgumentError(absl::StrCat(source_, ": more than ", options_.max_rows,
                                                     " records; the limit is ", options_.max_rows,
                                                     " per import (split the file)"));
    }
    if (rows_ % 256 == 0 && options_.cancelled && options_.cancelled()) {
      return absl::CancelledError(absl::StrCat(source_, ": import cancelled after ", rows_,
                                               " records (the caller went away or its deadline "
                                               "passed)"));
    }
    return absl::OkStatus();
  }

 private:
  const KycParseOptions& options_;
  absl::string_view source_;
  size_t rows_ = 0;
};

absl::StatusOr<KycParseResult> ParseCsv(absl::string_view text, absl::string_view source,
                                        const KycParseOptions& options) {
  KycParseResult result;
  RowBudget budget(options, source);
  CsvReader reader(text);
  std::vector<std::string> fields;
  auto more = reader.Next(&fields);
  if (!more.ok())
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", more.status().message()));
  if (!*more) return absl::InvalidArgumentError(absl::StrCat(source, ": empty file"));
  absl::flat_hash_map<std::string, size_t> col;
  for (size_t i = 0; i < fields.size(); ++i) {
    std::string name = absl::AsciiStrToLower(absl::StripAsciiWhitespace(fields[i]));
    if (std::find(std::begin(kColumns), std::end(kColumns), name) == std::end(kColumns)) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": line 1: unknown column \"", name,
                                                     "\" (known: ", absl::StrJoin(kColumns, ", "),
                                                     ")"));
    }
    // A column named twice would leave the header wider than the column map, and a row of the
    // map's width would then be read past its end (found by tests/fuzz/kyc_fuzz.cc).
    if (!col.emplace(name, i).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": line 1: column \"", name, "\" appears more than once"));
    }
  }
  const size_t header_fields = fields.size();
  for (const char* required : {"account_id", "legal_entity"}) {
    if (!col.contains(required)) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": line 1: header lacks the required column ", required));
    }
  }
  absl::flat_hash_set<std::string> seen;
  while (true) {
    more = reader.Next(&fields);
    if (!more.ok()) {  // Broken quoting: no row of this file can be trusted, so none is imported.
      return absl::InvalidArgumentError(absl::StrCat(source, ": ", more.status().message(),
                                                     "; nothing in this file was imported"));
    }
    if (!*more) break;
    PROV_RETURN_IF_ERROR(budget.Take());
    const int line = reader.record_line();
    const std::string where = absl::StrCat("line ", line);
    if (fields.size() != header_fields) {
      result.errors.push_back({line, absl::StrCat(where, ": expected ", header_fields,
                                                  " fields, got ", fields.size())});
      continue;
    }
    auto get = [&](absl::string_view name) -> std::string {
      auto it = col.find(name);
      return it == col.end() ? std::string() : fields[it->second];
    };
    AccountIdentity a;
    a.set_account_id(get("account_id"));
    a.set_legal_entity(get("legal_entity"));
    a.set_country_of_incorporation(get("country_of_incorporation"));
    for (const std::string& owner : SplitList(get("beneficial_owners"))) {
      ParseOwner(owner, a.add_beneficial_owners());
    }
    for (std::string& v : SplitList(get("addresses"))) a.add_addresses(std::move(v));
    a.set_payment_fingerprint(std::string(absl::StripAsciiWhitespace(get("payment_fingerprint"))));
    for (std::string& v : SplitList(get("email_domains"))) a.add_email_domains(std::move(v));
    for (std::string& v : SplitList(get("source_ips"))) a.add_source_ips(std::move(v));
    a.set_parent_account(get("parent_account"));
    bool reseller = false;
    if (absl::Status s = ParseBool(get("is_reseller"), &reseller); !s.ok()) {
      result.errors.push_back({line, absl::StrCat(where, ": field ", s.message())});
      continue;
    }
    a.set_is_reseller(reseller);
    for (std::string& v : SplitList(get("registration_numbers"))) {
      a.add_registration_numbers(std::move(v));
    }
    Accept(std::move(a), where, line, &seen, &result);
  }
  return result;
}

absl::StatusOr<KycParseResult> ParseJson(absl::string_view text, absl::string_view source,
                                         const KycParseOptions& options) {
  provenance::v1::AccountIdentityBatch batch;
  if (absl::Status s = FromJson(text, &batch); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", s.message()));
  }
  KycParseResult result;
  RowBudget budget(options, source);
  absl::flat_hash_set<std::string> seen;
  for (int i = 0; i < batch.accounts_size(); ++i) {
    PROV_RETURN_IF_ERROR(budget.Take());
    Accept(std::move(*batch.mutable_accounts(i)), absl::StrCat("accounts[", i, "]"), 0, &seen,
           &result);
  }
  return result;
}

absl::StatusOr<KycParseResult> ParseJsonLines(absl::string_view text, absl::string_view source,
                                              const KycParseOptions& options) {
  KycParseResult result;
  RowBudget budget(options, source);
  absl::flat_hash_set<std::string> seen;
  int line = 0;
  for (absl::string_view row : absl::StrSplit(text, '\n')) {
    ++line;
    if (absl::StripAsciiWhitespace(row).empty()) continue;
    PROV_RETURN_IF_ERROR(budget.Take());
    AccountIdentity a;
    const std::string where = absl::StrCat("line ", line);
    if (absl::Status s = FromJson(row, &a); !s.ok()) {
      result.errors.push_back({line, absl::StrCat(where, ": ", s.message())});
      continue;
    }
    Accept(std::move(a), where, line, &seen, &result);
  }
  return result;
}

}  // namespace

absl::StatusOr<KycParseResult> ParseKyc(absl::string_view text, KycFormat format,
                                        absl::string_view source_name,
                                        const KycParseOptions& options) {
  // Checked whole first: a record that is not UTF-8 could be stored but never read back.
  if (absl::Status utf8 = CheckUtf8(text); !utf8.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source_name, ": ", utf8.message(),
                     "; nothing in this file was imported (convert it to UTF-8, or name its "
                     "encoding, e.g. provctl --encoding windows-1252)"));
  }
  absl::StatusOr<KycParseResult> result;
  switch (format) {
    case KycFormat::kCsv:
      result = ParseCsv(text, source_name, options);
      break;
    case KycFormat::kJson:
      result = ParseJson(text, source_name, options);
      break;
    case KycFormat::kJsonLines:
      result = ParseJsonLines(text, source_name, options);
      break;
  }
  if (result.ok()) result->content_digest = Sha256Hex(text);
  return result;
}

absl::StatusOr<KycFormat> KycFormatFromPath(absl::string_view path) {
  std::string lower = absl::AsciiStrToLower(path);
  if (absl::EndsWith(lower, ".csv")) return KycFormat::kCsv;
  if (absl::EndsWith(lower, ".jsonl") || absl::EndsWith(lower, ".ndjson")) {
    return KycFormat::kJsonLines;
  }
  if (absl::EndsWith(lower, ".json")) return KycFormat::kJson;
  return absl::InvalidArgumentError(
      absl::StrCat(path, ": unknown KYC file type (expected .csv, .json or .jsonl)"));
}

}  // namespace prov::kyc
