#include "server/inventory/inventory_parser.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/csv.h"
#include "common/sha256.h"
#include "common/utf8.h"
#include "nlohmann/json.hpp"

namespace prov::inventory {
namespace {

using provenance::v1::DeclaredAccelerator;

constexpr absl::string_view kColumns[] = {"serial",    "uuid",    "declared_model", "vendor_id",
                                          "device_id", "node_id", "datacenter",     "rack",
                                          "account",   "status"};

bool KnownColumn(absl::string_view name) {
  return std::find(std::begin(kColumns), std::end(kColumns), name) != std::end(kColumns);
}

std::string Quoted(absl::string_view value) {
  return absl::StrCat("\"", absl::CHexEscape(value.substr(0, 64)),
                      value.size() > 64 ? "...\"" : "\"");
}

// Fills one row from (column, value) pairs; the first problem is returned naming its field.
absl::Status FillRow(const std::vector<std::pair<std::string, std::string>>& fields,
                     DeclaredAccelerator* row) {
  for (const auto& [name, raw] : fields) {
    std::string value(absl::StripAsciiWhitespace(raw));
    if (value.size() > kMaxInventoryFieldBytes) {
      return absl::InvalidArgumentError(absl::StrCat("field ", name, ": ", value.size(),
                                                     " bytes; the limit is ",
                                                     kMaxInventoryFieldBytes, " bytes"));
    }
    if (name == "vendor_id" || name == "device_id") {
      if (value.empty()) continue;
      absl::StatusOr<uint32_t> id = ParsePciId(value);
      if (!id.ok())
        return absl::InvalidArgumentError(
            absl::StrCat("field ", name, ": ", id.status().message()));
      name == "vendor_id" ? row->set_vendor_id(*id) : row->set_device_id(*id);
    } else if (name == "status") {
      auto status = ParseInventoryStatus(value);
      if (!status.ok())
        return absl::InvalidArgumentError(
            absl::StrCat("field status: ", status.status().message()));
      row->set_status(*status);
    } else if (name == "serial") {
      row->set_serial(value);
    } else if (name == "uuid") {
      row->set_uuid(value);
    } else if (name == "declared_model") {
      row->set_declared_model(value);
    } else if (name == "node_id") {
      row->set_node_id(value);
    } else if (name == "datacenter") {
      row->set_datacenter(value);
    } else if (name == "rack") {
      row->set_rack(value);
    } else if (name == "account") {
      row->set_account(value);
    }
  }
  if (row->serial().empty()) return absl::InvalidArgumentError("field serial: must not be empty");
  if (row->status() == provenance::v1::INVENTORY_STATUS_UNSPECIFIED) {
    row->set_status(provenance::v1::INVENTORY_STATUS_IN_SERVICE);
  }
  if (row->device_id() != 0 && row->vendor_id() == 0) {
    return absl::InvalidArgumentError("field device_id: given without vendor_id");
  }
  return absl::OkStatus();
}

class Collector {
 public:
  Collector(const InventoryParseOptions& options, absl::string_view source)
      : options_(options), source_(source) {}

  absl::Status Take() {
    if (++rows_ > options_.max_rows) {
      return absl::InvalidArgumentError(absl::StrCat(source_, ": more than ", options_.max_rows,
                                                     " rows; the limit is ", options_.max_rows,
                                                     " per import (split the file)"));
    }
    return absl::OkStatus();
  }

  void Add(int line, const std::vector<std::pair<std::string, std::string>>& fields) {
    DeclaredAccelerator row;
    const std::string where = absl::StrCat("line ", line);
    if (absl::Status s = FillRow(fields, &row); !s.ok()) {
      result_.errors.push_back({line, absl::StrCat(where, ": ", s.message())});
      return;
    }
    auto [it, fresh] = first_line_.emplace(row.serial(), line);
    if (!fresh) {
      result_.errors.push_back({line, absl::StrCat(where, ": field serial: ", Quoted(row.serial()),
                                                   " already given on line ", it->second)});
      return;
    }
    result_.rows.push_back(std::move(row));
  }

  void Error(int line, std::string message) {
    result_.errors.push_back({line, absl::StrCat("line ", line, ": ", message)});
  }
  InventoryParseResult Finish(absl::string_view text) && {
    result_.content_digest = Sha256Hex(text);
    return std::move(result_);
  }

 private:
  const InventoryParseOptions& options_;
  absl::string_view source_;
  size_t rows_ = 0;
  absl::flat_hash_map<std::string, int> first_line_;
  InventoryParseResult result_;
};

absl::StatusOr<InventoryParseResult> ParseCsv(absl::string_view text, absl::string_view source,
                                              const InventoryParseOptions& options) {
  CsvReader reader(text);
  std::vector<std::string> fields;
  auto more = reader.Next(&fields);
  if (!more.ok())
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", more.status().message()));
  if (!*more) return absl::InvalidArgumentError(absl::StrCat(source, ": empty file (no header)"));
  std::vector<std::string> header;
  absl::flat_hash_set<std::string> seen;
  for (std::string& f : fields) {
    std::string name = absl::AsciiStrToLower(absl::StripAsciiWhitespace(f));
    if (header.empty() && absl::StartsWith(name, "\xEF\xBB\xBF")) {  // a UTF-8 BOM from Excel
      name = std::string(absl::StripAsciiWhitespace(absl::string_view(name).substr(3)));
    }
    if (!KnownColumn(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": line 1: unknown column ", Quoted(name),
                       " (known: ", absl::StrJoin(kColumns, ", "), ")"));
    }
    if (!seen.insert(name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": line 1: column ", name, " appears twice"));
    }
    header.push_back(std::move(name));
  }
  if (!seen.contains("serial")) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": line 1: header lacks the required column serial"));
  }
  Collector out(options, source);
  while (true) {
    more = reader.Next(&fields);
    if (!more.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": ", more.status().message(),
                                                     "; nothing in this file was imported"));
    }
    if (!*more) break;
    if (fields.size() == 1 && absl::StripAsciiWhitespace(fields[0]).empty()) continue;  // blank
    if (absl::Status s = out.Take(); !s.ok()) return s;
    const int line = reader.record_line();
    if (fields.size() != header.size()) {
      out.Error(line, absl::StrCat("expected ", header.size(), " fields, got ", fields.size()));
      continue;
    }
    std::vector<std::pair<std::string, std::string>> pairs;
    for (size_t i = 0; i < header.size(); ++i) pairs.emplace_back(header[i], std::move(fields[i]));
    out.Add(line, pairs);
  }
  return std::move(out).Finish(text);
}

absl::StatusOr<InventoryParseResult> ParseJsonLines(absl::string_view text,
                                                    absl::string_view source,
                                                    const InventoryParseOptions& options) {
  Collector out(options, source);
  int line = 0;
  for (absl::string_view row : absl::StrSplit(text, '\n')) {
    ++line;
    if (absl::StripAsciiWhitespace(row).empty()) continue;
    if (absl::Status s = out.Take(); !s.ok()) return s;
    nlohmann::json j = nlohmann::json::parse(row.begin(), row.end(), nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      out.Error(line, "not a JSON object");
      continue;
    }
    std::vector<std::pair<std::string, std::string>> pairs;
    std::string problem;
    for (const auto& [key, value] : j.items()) {
      std::string name = absl::AsciiStrToLower(key);
      if (!KnownColumn(name)) {
        problem = absl::StrCat("field ", Quoted(key),
                               ": unknown (known: ", absl::StrJoin(kColumns, ", "), ")");
        break;
      }
      if (value.is_null()) continue;
      if (value.is_string()) {
        pairs.emplace_back(name, value.get<std::string>());
      } else if (value.is_number_unsigned() && (name == "vendor_id" || name == "device_id")) {
        pairs.emplace_back(name, absl::StrCat(value.get<uint64_t>()));
      } else {
        problem = absl::StrCat("field ", name, ": must be a string",
                               name == "vendor_id" || name == "device_id" ? " or a number" : "");
        break;
      }
    }
    if (!problem.empty()) {
      out.Error(line, problem);
      continue;
    }
    out.Add(line, pairs);
  }
  return std::move(out).Finish(text);
}

}  // namespace

absl::StatusOr<uint32_t> ParsePciId(absl::string_view text) {
  absl::string_view s = absl::StripAsciiWhitespace(text);
  uint64_t value = 0;
  bool ok = false;
  if (absl::ConsumePrefix(&s, "0x") || absl::ConsumePrefix(&s, "0X")) {
    ok = !s.empty() && s.size() <= 8 && absl::SimpleHexAtoi(s, &value);
  } else {
    ok = !s.empty() &&
         std::all_of(s.begin(), s.end(), [](char c) { return absl::ascii_isdigit(c); }) &&
         absl::SimpleAtoi(s, &value);
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat(Quoted(text), " is not a PCI ID (hex like 0x10de, or decimal)"));
  }
  if (value > 0xffff) {
    return absl::InvalidArgumentError(absl::StrCat(Quoted(text), " exceeds 0xffff"));
  }
  return static_cast<uint32_t>(value);
}

absl::StatusOr<provenance::v1::InventoryStatus> ParseInventoryStatus(absl::string_view text) {
  std::string s = absl::AsciiStrToLower(absl::StripAsciiWhitespace(text));
  if (s.empty() || s == "in_service") return provenance::v1::INVENTORY_STATUS_IN_SERVICE;
  if (s == "spare") return provenance::v1::INVENTORY_STATUS_SPARE;
  if (s == "rma") return provenance::v1::INVENTORY_STATUS_RMA;
  if (s == "retired") return provenance::v1::INVENTORY_STATUS_RETIRED;
  return absl::InvalidArgumentError(
      absl::StrCat(Quoted(text), " is not one of in_service, spare, rma, retired"));
}

std::string InventoryStatusName(provenance::v1::InventoryStatus status) {
  switch (status) {
    case provenance::v1::INVENTORY_STATUS_IN_SERVICE:
      return "in_service";
    case provenance::v1::INVENTORY_STATUS_SPARE:
      return "spare";
    case provenance::v1::INVENTORY_STATUS_RMA:
      return "rma";
    case provenance::v1::INVENTORY_STATUS_RETIRED:
      return "retired";
    default:
      return "unspecified";
  }
}

absl::StatusOr<InventoryFormat> InventoryFormatFrom(absl::string_view format,
                                                    absl::string_view source_name) {
  std::string f = absl::AsciiStrToLower(format);
  if (f == "csv") return InventoryFormat::kCsv;
  if (f == "jsonl" || f == "ndjson") return InventoryFormat::kJsonLines;
  if (!f.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("format: unknown ", Quoted(format), " (want csv or jsonl)"));
  }
  std::string lower = absl::AsciiStrToLower(source_name);
  if (absl::EndsWith(lower, ".csv")) return InventoryFormat::kCsv;
  if (absl::EndsWith(lower, ".jsonl") || absl::EndsWith(lower, ".ndjson")) {
    return InventoryFormat::kJsonLines;
  }
  return absl::InvalidArgumentError(absl::StrCat("format: not given, and ", Quoted(source_name),
                                                 " does not end in .csv, .jsonl or .ndjson"));
}

absl::StatusOr<InventoryParseResult> ParseInventory(absl::string_view text, InventoryFormat format,
                                                    absl::string_view source_name,
                                                    const InventoryParseOptions& options) {
  if (absl::Status utf8 = CheckUtf8(text); !utf8.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source_name, ": ", utf8.message(),
                     "; nothing in this file was imported (export it as UTF-8)"));
  }
  return format == InventoryFormat::kCsv ? ParseCsv(text, source_name, options)
                                         : ParseJsonLines(text, source_name, options);
}

}  // namespace prov::inventory
