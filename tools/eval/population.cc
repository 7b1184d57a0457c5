#include "tools/eval/population.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/csv.h"
#include "common/fs.h"

namespace prov::eval {
namespace {

// Legal forms and filler words: not used as the distinctive words of a company name.
bool IsFormOrFiller(const std::string& token) {
  static const auto* skip = new absl::flat_hash_set<std::string>{
      "INC", "CORP",  "LTD", "CO",  "PLC", "LLC",     "LP",          "SA",      "S.A",
      "N.V", "AG",    "DE",  "&",   "OF",  "THE",     "I",           "II",      "III",
      "ADR", "NV",    "SE",  "AND", "ETF", "LIMITED", "CORPORATION", "COMPANY", "INCORPORATED",
      "L.P", "L.L.C", "CL",  "A",   "B",   "CLASS",   "COM",         "HLDGS",   "INTL"};
  if (token.size() < 3 || skip->contains(token)) return true;
  return std::any_of(token.begin(), token.end(), [](char c) { return absl::ascii_isdigit(c); });
}

// One frequency table: header names the name column and the count column (optionally a sex
// filter, unused here: both sexes are drawn together, weighted by their counts).
absl::Status ReadTable(const std::string& path, const std::string& name_col,
                       const std::string& count_col, bool companies, WeightedNames* out) {
  auto text = ReadFileToString(path);
  if (!text.ok()) return text.status();
  std::vector<absl::string_view> lines = absl::StrSplit(*text, '\n', absl::SkipEmpty());
  if (lines.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": empty"));
  std::vector<std::string> header = absl::StrSplit(absl::StripAsciiWhitespace(lines[0]), ',');
  auto col = [&](const std::string& c) -> int {
    auto it = std::find(header.begin(), header.end(), c);
    return it == header.end() ? -1 : static_cast<int>(it - header.begin());
  };
  int name_i = col(name_col), count_i = col(count_col);
  if (name_i < 0 || count_i < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": line 1: expected columns ", name_col, " and ", count_col));
  }
  for (size_t i = 1; i < lines.size(); ++i) {
    std::vector<absl::string_view> f = absl::StrSplit(absl::StripAsciiWhitespace(lines[i]), ',');
    double count = 0;
    if (static_cast<int>(f.size()) <= std::max(name_i, count_i) ||
        !absl::SimpleAtod(f[count_i], &count) || count < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": line ", i + 1, ": column ", count_col, ": not a count"));
    }
    std::string name(f[name_i]);
    if (name.empty() || (companies && IsFormOrFiller(name))) continue;
    out->Add(std::move(name), count);
  }
  if (out->empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no names"));
  return absl::OkStatus();
}

std::string Clean(absl::string_view field) {
  absl::string_view f = absl::StripAsciiWhitespace(field);
  if (f.size() >= 2 && f.front() == '"' && f.back() == '"') f = f.substr(1, f.size() - 2);
  return std::string(absl::StripAsciiWhitespace(f));
}

// "10/16/2017" -> "2017-10-16"; anything else unchanged.
std::string IsoDate(const std::string& us) {
  std::vector<std::string> p = absl::StrSplit(us, '/');
  if (p.size() != 3 || p[2].size() != 4) return us;
  return absl::StrCat(p[2], "-", p[0].size() == 1 ? "0" : "", p[0], "-",
                      p[1].size() == 1 ? "0" : "", p[1]);
}

}  // namespace

void WeightedNames::Add(std::string name, double weight) {
  names_.push_back(std::move(name));
  cumulative_.push_back((cumulative_.empty() ? 0 : cumulative_.back()) + weight);
}

const std::string& WeightedNames::Draw(double u) const {
  double target = u * cumulative_.back();
  size_t i = std::upper_bound(cumulative_.begin(), cumulative_.end(), target) - cumulative_.begin();
  return names_[std::min(i, names_.size() - 1)];
}

const std::string& WeightedNames::DrawUniform(double u) const {
  return names_[std::min(static_cast<size_t>(u * names_.size()), names_.size() - 1)];
}

NameTables NameTables::BuiltIn() {
  // Top rows (with the publishers' counts) of us_surnames_census2000.csv, us_given_names_ssa.csv
  // and company_name_tokens_sec.csv in ../shared/data/names (US Government works, public domain).
  NameTables t;
  for (const auto& [n, c] : std::vector<std::pair<const char*, double>>{
           {"SMITH", 2376206},    {"JOHNSON", 1857160}, {"WILLIAMS", 1534042}, {"BROWN", 1380145},
           {"JONES", 1362755},    {"MILLER", 1127803},  {"DAVIS", 1072335},    {"GARCIA", 858289},
           {"RODRIGUEZ", 804240}, {"WILSON", 783051},   {"MARTINEZ", 775072},  {"ANDERSON", 762394},
           {"TAYLOR", 720370},    {"THOMAS", 710696},   {"HERNANDEZ", 706372}, {"MOORE", 698671},
           {"MARTIN", 672711},    {"JACKSON", 666125},  {"THOMPSON", 644368},  {"WHITE", 639515},
           {"LOPEZ", 621536},     {"LEE", 605860},      {"GONZALEZ", 597718},  {"HARRIS", 593542},
           {"CLARK", 548369}}) {
    t.us_surnames.Add(n, c);
  }
  for (const auto& [n, c] : std::vector<std::pair<const char*, double>>{
           {"Michael", 3983431},   {"James", 3456002},       {"John", 3277166},
           {"Robert", 3224243},    {"David", 3108358},       {"William", 2419859},
           {"Richard", 1866603},   {"Christopher", 1832247}, {"Joseph", 1726699},
           {"Thomas", 1700991},    {"Mary", 1945923},        {"Jennifer", 1429797},
           {"Linda", 1406872},     {"Patricia", 1258295},    {"Susan", 1070185},
           {"Elizabeth", 1037786}, {"Barbara", 1003321},     {"Jessica", 998031},
           {"Lisa", 958598},       {"Karen", 951954}}) {
    t.us_given.Add(n, c);
  }
  for (const auto& [n, c] : std::vector<std::pair<const char*, double>>{
           {"HOLDINGS", 588},     {"GROUP", 499},     {"THERAPEUTICS", 207},
           {"TECHNOLOGIES", 196}, {"ENERGY", 184},    {"INTERNATIONAL", 182},
           {"FINANCIAL", 153},    {"GLOBAL", 147},    {"TECHNOLOGY", 126},
           {"RESOURCES", 109},    {"CAPITAL", 107},   {"HEALTH", 79},
           {"SOLUTIONS", 73},     {"INDUSTRIES", 70}, {"SYSTEMS", 62},
           {"MEDICAL", 60},       {"PARTNERS", 52},   {"SERVICES", 52},
           {"AMERICAN", 49},      {"DIGITAL", 38},    {"BIOSCIENCES", 40},
           {"POWER", 40},         {"NATIONAL", 41},   {"MEDIA", 29}}) {
    t.company_tokens.Add(n, c);
  }
  t.note =
      "KYC names drawn from a built-in sample (top rows of the US Census 2000 surname, SSA "
      "given-name and SEC company-token tables)";
  return t;
}

absl::StatusOr<NameTables> LoadNameTables(const std::string& dir) {
  NameTables t;
  if (auto s = ReadTable(dir + "/us_given_names_ssa.csv", "name", "count", false, &t.us_given);
      !s.ok()) {
    return s;
  }
  if (auto s =
          ReadTable(dir + "/us_surnames_census2000.csv", "name", "count", false, &t.us_surnames);
      !s.ok()) {
    return s;
  }
  if (auto s = ReadTable(dir + "/company_name_tokens_sec.csv", "token", "count", true,
                         &t.company_tokens);
      !s.ok()) {
    return s;
  }
  std::vector<std::string> used = {"US Census 2000 surnames", "SSA given names 1940-2004",
                                   "SEC company-name tokens"};
  if (PathExists(dir + "/es_given_names_ine.csv") && PathExists(dir + "/es_surnames_ine.csv")) {
    if (auto s = ReadTable(dir + "/es_given_names_ine.csv", "name", "count", false, &t.es_given);
        !s.ok()) {
      return s;
    }
    if (auto s = ReadTable(dir + "/es_surnames_ine.csv", "name", "count", false, &t.es_surnames);
        !s.ok()) {
      return s;
    }
    used.push_back("INE (Spain) given names and surnames");
  }
  t.note =
      absl::StrCat("KYC names drawn by frequency from the real tables (", absl::StrJoin(used, ", "),
                   ") in ", dir, "; identities, companies and addresses are a synthetic overlay");
  return t;
}

const std::vector<std::string>& RegisteredAgentAddresses() {
  static const auto* a = new std::vector<std::string>{
      "1209 Orange Street, Wilmington, DE 19801",
      "251 Little Falls Drive, Wilmington, DE 19808",
      "8 The Green, Suite A, Dover, DE 19901",
      "1013 Centre Road, Suite 403-B, Wilmington, DE 19805",
      "30 N Gould St, Sheridan, WY 82801",
      "1712 Pioneer Ave, Cheyenne, WY 82001",
  };
  return *a;
}

const std::vector<std::string>& WebmailDomains() {
  static const auto* d =
      new std::vector<std::string>{"gmail.com", "outlook.com", "yahoo.com", "proton.me"};
  return *d;
}

absl::StatusOr<std::string> DplAsCslRows(absl::string_view tsv, absl::string_view source) {
  std::vector<absl::string_view> lines = absl::StrSplit(tsv, '\n', absl::SkipEmpty());
  std::vector<absl::string_view> header;
  if (!lines.empty()) header = absl::StrSplit(lines[0], '\t');
  if (header.empty() || Clean(header[0]) != "Name") {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": line 1: expected the DPL header (\"Name\" \"Street_Address\" ...)"));
  }
  std::string out;
  for (size_t i = 1; i < lines.size(); ++i) {
    std::vector<std::string> f;
    for (absl::string_view field :
         absl::StrSplit(absl::StripTrailingAsciiWhitespace(lines[i]), '\t')) {
      f.push_back(Clean(field));
    }
    if (f.size() != 12) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": line ", i + 1, ": expected 12 fields, got ", f.size()));
    }
    if (f[0].empty()) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": line ", i + 1, ": Name is empty"));
    }
    std::vector<std::string> address;
    for (int c : {1, 2, 3, 5, 4}) {
      if (!f[c].empty()) address.push_back(f[c]);
    }
    // source,entity_number,type,programs,name,title,addresses,federal_register_notice,start_date,
    // end_date,standard_order,license_requirement,license_policy,call_sign,vessel_type,
    // gross_tonnage,gross_registered_tonnage,vessel_flag,vessel_owner,remarks,source_list_url,
    // alt_names,citizenships,dates_of_birth,nationalities,places_of_birth,source_information_url,ids
    std::vector<std::string> row(28);
    row[0] = "Denied Persons List (DPL) - Bureau of Industry and Security";
    row[4] = f[0];
    row[6] = absl::StrJoin(address, ", ");
    row[7] = f[11];
    row[8] = IsoDate(f[6]);
    row[9] = IsoDate(f[7]);
    row[10] = f[8];
    row[19] = f[10];
    for (size_t c = 0; c < row.size(); ++c) absl::StrAppend(&out, c ? "," : "", CsvField(row[c]));
    out += "\n";
  }
  return out;
}

}  // namespace prov::eval
