#include "server/screening/csl_list.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/csv.h"
#include "common/sha256.h"
#include "common/utf8.h"

namespace prov::screening {
namespace {

std::string Trimmed(absl::string_view s) { return std::string(absl::StripAsciiWhitespace(s)); }

// "field name: 5000 bytes; the limit is 1024 bytes", or empty when every field is within limits.
std::string OverLimit(const std::vector<std::string>& header, const std::vector<std::string>& row) {
  for (size_t i = 0; i < row.size() && i < header.size(); ++i) {
    const std::string name = Trimmed(header[i]);
    size_t limit = name == "name" ? kMaxCslNameBytes : kMaxCslFieldBytes;
    if (row[i].size() > limit) {
      return absl::StrCat("field ", name, ": ", row[i].size(), " bytes; the limit is ", limit,
                          " bytes");
    }
  }
  return "";
}

std::vector<std::string> SplitList(absl::string_view s) {
  std::vector<std::string> out;
  for (absl::string_view part : absl::StrSplit(s, ';')) {
    std::string p = Trimmed(part);
    if (!p.empty()) out.push_back(std::move(p));
  }
  return out;
}

// Two-letter country codes named by `e`: nationalities, citizenships, and the last comma-separated
// part of each address when it is a two-letter code.
std::vector<std::string> Countries(const CslEntry& e) {
  std::vector<std::string> out;
  auto add = [&](std::string c) {
    c = absl::AsciiStrToUpper(Trimmed(c));
    if (c.size() != 2 || !absl::ascii_isalpha(static_cast<unsigned char>(c[0])) ||
        !absl::ascii_isalpha(static_cast<unsigned char>(c[1]))) {
      return;
    }
    if (std::find(out.begin(), out.end(), c) == out.end()) out.push_back(std::move(c));
  };
  for (const std::string& c : SplitList(e.nationalities)) add(c);
  for (const std::string& c : SplitList(e.citizenships)) add(c);
  for (const std::string& address : SplitList(e.addresses)) {
    size_t comma = address.rfind(',');
    add(comma == std::string::npos ? address : address.substr(comma + 1));
  }
  return out;
}

}  // namespace

absl::StatusOr<CslList> ParseConsolidatedScreeningList(absl::string_view text,
                                                       absl::string_view source_name,
                                                       std::vector<RowError>* row_errors,
                                                       const CslParseOptions& options) {
  if (absl::Status utf8 = CheckUtf8(text); !utf8.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source_name, ": ", utf8.message(),
                     " (convert it to UTF-8, or name its encoding, e.g. provctl --encoding "
                     "windows-1252)"));
  }
  CsvReader reader(text);
  std::vector<std::string> fields;
  auto more = reader.Next(&fields);
  if (!more.ok())
    return absl::InvalidArgumentError(absl::StrCat(source_name, ": ", more.status().message()));
  if (!*more) return absl::InvalidArgumentError(absl::StrCat(source_name, ": empty file"));
  absl::flat_hash_map<std::string, size_t> column;
  for (size_t i = 0; i < fields.size(); ++i) column[Trimmed(fields[i])] = i;
  const std::vector<std::string> header = fields;
  for (const char* required : {"source", "name", "alt_names"}) {
    if (!column.contains(required)) {
      return absl::InvalidArgumentError(absl::StrCat(
          source_name, ": line 1: header has no '", required,
          "' column: not a Consolidated Screening List CSV (expected the 28- or 29-column form)"));
    }
  }
  CslList list;
  list.columns = static_cast<int>(fields.size());
  list.version = absl::StrCat("csl-sha256:", Sha256Hex(text).substr(0, 16));
  auto get = [&](const std::vector<std::string>& row, const char* name) -> std::string {
    auto it = column.find(name);
    return it == column.end() ? std::string() : Trimmed(row[it->second]);
  };
  size_t rows = 0;
  while (true) {
    more = reader.Next(&fields);
    if (!more.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(source_name, ": ", more.status().message()));
    }
    if (!*more) break;
    ++rows;
    if (rows > options.max_rows) {
      return absl::InvalidArgumentError(absl::StrCat(source_name, ": more than ", options.max_rows,
                                                     " rows; the limit is ", options.max_rows,
                                                     " per import"));
    }
    if (rows % 256 == 0 && options.cancelled && options.cancelled()) {
      return absl::CancelledError(absl::StrCat(source_name, ": import cancelled after ", rows,
                                               " rows (the caller went away or its deadline "
                                               "passed)"));
    }
    const int line = reader.record_line();
    if (static_cast<int>(fields.size()) != list.columns) {
      row_errors->push_back({line, absl::StrCat("line ", line, ": expected ", list.columns,
                                                " fields, got ", fields.size())});
      continue;
    }
    if (std::string over = OverLimit(header, fields); !over.empty()) {
      row_errors->push_back({line, absl::StrCat("line ", line, ": ", over)});
      continue;
    }
    CslEntry e;
    e.line = line;
    e.name = get(fields, "name");
    if (e.name.empty()) {
      row_errors->push_back({line, absl::StrCat("line ", line, ": field name: empty")});
      continue;
    }
    e.source = get(fields, "source");
    e.type = get(fields, "type");
    e.programs = get(fields, "programs");
    e.addresses = get(fields, "addresses");
    e.nationalities = get(fields, "nationalities");
    e.citizenships = get(fields, "citizenships");
    e.license_policy = get(fields, "license_policy");
    e.source_list_url = get(fields, "source_list_url");
    std::string alias_error;
    for (absl::string_view alt : absl::StrSplit(get(fields, "alt_names"), ';')) {
      std::string a = Trimmed(alt);
      if (a.size() > kMaxCslNameBytes) {
        alias_error = absl::StrCat("field alt_names[", e.alt_names.size(), "]: ", a.size(),
                                   " bytes; the limit is ", kMaxCslNameBytes, " bytes");
        break;
      }
      if (!a.empty()) e.alt_names.push_back(std::move(a));
    }
    if (alias_error.empty() && e.alt_names.size() > kMaxCslAltNames) {
      alias_error = absl::StrCat("field alt_names: ", e.alt_names.size(), " entries; the limit is ",
                                 kMaxCslAltNames, " entries");
    }
    if (!alias_error.empty()) {
      row_errors->push_back({line, absl::StrCat("line ", line, ": ", alias_error)});
      continue;
    }
    e.dates_of_birth = SplitList(get(fields, "dates_of_birth"));
    e.ids = get(fields, "ids");
    e.end_date = get(fields, "end_date");
    e.countries = Countries(e);
    e.content_hash = Sha256Hex(absl::StrJoin(fields, "\x1f")).substr(0, 16);
    e.id = get(fields, "_id");
    if (e.id.empty()) e.id = get(fields, "entity_number");
    if (e.id.empty()) e.id = absl::StrCat("line:", line);
    list.entries.push_back(std::move(e));
  }
  return list;
}

}  // namespace prov::screening
