#include "server/store/pg/pg_array.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace prov::server {

void PgArray::Separator() {
  if (size_++ > 0) text_.push_back(',');
}

void PgArray::Add(int64_t v) {
  Separator();
  absl::StrAppend(&text_, v);
}

void PgArray::AddDouble(double v) {
  Separator();
  if (std::isnan(v)) {
    text_.append("NaN");
  } else if (std::isinf(v)) {
    text_.append(v > 0 ? "Infinity" : "-Infinity");
  } else {
    absl::StrAppendFormat(&text_, "%.17g", v);
  }
}

void PgArray::AddText(absl::string_view v) {
  Separator();
  text_.push_back('"');
  for (char c : v) {
    if (c == '"' || c == '\\') text_.push_back('\\');
    text_.push_back(c);
  }
  text_.push_back('"');
}

void PgArray::AddBytes(absl::string_view v) {
  static constexpr char kHex[] = "0123456789abcdef";
  Separator();
  text_.append("\"\\\\x");  // "\\x: the quoted element's backslash, escaped
  for (unsigned char c : v) {
    text_.push_back(kHex[c >> 4]);
    text_.push_back(kHex[c & 0xf]);
  }
  text_.push_back('"');
}

const std::string& PgArray::Finish() {
  finished_.clear();
  finished_.reserve(text_.size() + 2);
  finished_.push_back('{');
  finished_.append(text_);
  finished_.push_back('}');
  return finished_;
}

}  // namespace prov::server
