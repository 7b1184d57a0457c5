// Logger::Body: a record's level, component, message and fields as text (logfmt-like) or as
// the members of a JSON object (the time is spdlog's pattern, in log.cc).
#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"
#include "common/log/log.h"
#include "nlohmann/json.hpp"

namespace prov::log {
namespace {

bool IsControl(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f;
}

// Control characters as \n, \r, \t or \xNN, so a record stays on one line.
void AppendEscaped(std::string& out, absl::string_view text, bool escape_quotes) {
  for (char c : text) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (IsControl(c)) {
      out += absl::StrFormat("\\x%02x", static_cast<unsigned char>(c));
    } else if (escape_quotes && (c == '"' || c == '\\')) {
      out += '\\';
      out += c;
    } else {
      out += c;
    }
  }
}

void AppendTextValue(std::string& out, absl::string_view value) {
  bool plain = !value.empty();
  for (char c : value) {
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || IsControl(c)) plain = false;
  }
  if (plain) {
    out.append(value.data(), value.size());
    return;
  }
  out += '"';
  AppendEscaped(out, value, /*escape_quotes=*/true);
  out += '"';
}

std::string JsonString(absl::string_view text) {
  return nlohmann::json(std::string(text))
      .dump(-1, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace);
}

bool Reserved(absl::string_view key) {
  return key == "time" || key == "level" || key == "component" || key == "msg";
}

}  // namespace

std::string Logger::Body(Format format, Level level, absl::string_view component,
                         absl::string_view message, std::initializer_list<Field> fields) {
  std::string out;
  if (format == Format::kText) {
    out = absl::AsciiStrToUpper(LevelName(level));
    out += ' ';
    AppendEscaped(out, component, /*escape_quotes=*/false);
    out += ": ";
    AppendEscaped(out, message, /*escape_quotes=*/false);
    for (const Field& f : fields) {
      out += ' ';
      AppendEscaped(out, f.key(), /*escape_quotes=*/false);
      out += '=';
      AppendTextValue(out, f.text());
    }
    return out;
  }
  absl::StrAppend(&out, "\"level\":\"", LevelName(level),
                  "\",\"component\":", JsonString(component), ",\"msg\":", JsonString(message));
  for (const Field& f : fields) {
    const std::string key = Reserved(f.key()) ? "field_" + f.key() : f.key();
    absl::StrAppend(&out, ",", JsonString(key), ":", f.quoted() ? JsonString(f.text()) : f.text());
  }
  return out;
}

}  // namespace prov::log
