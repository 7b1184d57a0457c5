#include "common/csv.h"

#include "absl/strings/str_cat.h"

namespace prov {

std::string CsvField(absl::string_view value) {
  if (value.find_first_of(",\"\r\n") == absl::string_view::npos) return std::string(value);
  std::string out = "\"";
  for (char c : value) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

CsvReader::CsvReader(absl::string_view text, char delimiter) : text_(text), delimiter_(delimiter) {
  // A UTF-8 byte order mark is not part of the first field.
  if (text_.size() >= 3 && text_.substr(0, 3) == "\xEF\xBB\xBF") pos_ = 3;
}

absl::StatusOr<bool> CsvReader::Next(std::vector<std::string>* fields) {
  fields->clear();
  // Skip blank lines between records.
  while (pos_ < text_.size() && (text_[pos_] == '\n' || text_[pos_] == '\r')) {
    if (text_[pos_] == '\n') ++line_;
    ++pos_;
  }
  if (pos_ >= text_.size()) return false;
  record_line_ = line_;
  std::string field;
  bool quoted = false;      // inside a quoted field
  bool was_quoted = false;  // current field started with a quote
  while (true) {
    if (pos_ >= text_.size()) {
      if (quoted) {
        return absl::InvalidArgumentError(
            absl::StrCat("line ", record_line_, ": unterminated quoted field"));
      }
      fields->push_back(std::move(field));
      return true;
    }
    char c = text_[pos_++];
    if (quoted) {
      if (c == '"') {
        if (pos_ < text_.size() && text_[pos_] == '"') {
          field.push_back('"');
          ++pos_;
        } else {
          quoted = false;
        }
      } else {
        if (c == '\n') ++line_;
        field.push_back(c);
      }
      continue;
    }
    if (c == delimiter_) {
      fields->push_back(std::move(field));
      field.clear();
      was_quoted = false;
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && pos_ < text_.size() && text_[pos_] == '\n') ++pos_;
      ++line_;
      fields->push_back(std::move(field));
      return true;
    } else if (c == '"') {
      if (!field.empty() || was_quoted) {
        return absl::InvalidArgumentError(absl::StrCat(
            "line ", line_, ": field ", fields->size() + 1, ": quote inside an unquoted field"));
      }
      quoted = true;
      was_quoted = true;
    } else {
      if (was_quoted) {
        return absl::InvalidArgumentError(absl::StrCat(
            "line ", line_, ": field ", fields->size() + 1, ": text after a closing quote"));
      }
      field.push_back(c);
    }
  }
}

}  // namespace prov
