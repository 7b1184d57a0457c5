#include "server/store/store_url.h"

#include <libpq-fe.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"

namespace prov::server {
namespace {

constexpr absl::string_view kTargetSessionAttrs[] = {"any",     "read-write", "read-only",
                                                     "primary", "standby",    "prefer-standby"};

struct OptionsDeleter {
  void operator()(PQconninfoOption* o) const { PQconninfoFree(o); }
};
using Options = std::unique_ptr<PQconninfoOption, OptionsDeleter>;

// The secrets written in a connection string, as written (percent-encoded or quoted forms
// included): the URI's user:password@, and the value of every ...password= parameter (password,
// sslpassword). libpq's parse errors may quote any part of the string.
std::vector<std::string> Secrets(absl::string_view conninfo) {
  std::vector<std::string> out;
  if (const size_t start = conninfo.find("://"); start != absl::string_view::npos) {
    absl::string_view rest = conninfo.substr(start + 3);
    const size_t at = rest.substr(0, rest.find_first_of("/?")).rfind('@');
    if (at != absl::string_view::npos) {
      absl::string_view userinfo = rest.substr(0, at);
      if (const size_t colon = userinfo.find(':'); colon != absl::string_view::npos) {
        out.emplace_back(userinfo.substr(colon + 1));
      }
    }
  }
  for (size_t pos = conninfo.find("password"); pos != absl::string_view::npos;
       pos = conninfo.find("password", pos + 1)) {
    size_t i = pos + 8;
    while (i < conninfo.size() && absl::ascii_isspace(conninfo[i])) ++i;
    if (i >= conninfo.size() || conninfo[i] != '=') continue;
    ++i;
    while (i < conninfo.size() && absl::ascii_isspace(conninfo[i])) ++i;
    size_t end = i;
    if (end < conninfo.size() && conninfo[end] == '\'') {
      end = conninfo.find('\'', end + 1);
      if (end == absl::string_view::npos) end = conninfo.size();
      out.emplace_back(conninfo.substr(i + 1, end - i - 1));
      out.emplace_back(conninfo.substr(i, end - i));  // the unterminated form libpq may quote
      continue;
    }
    while (end < conninfo.size() && !absl::ascii_isspace(conninfo[end]) && conninfo[end] != '&') {
      ++end;
    }
    out.emplace_back(conninfo.substr(i, end - i));
  }
  std::erase_if(out, [](const std::string& s) { return s.empty(); });
  // Longest first, so a secret that contains another is hidden whole.
  std::sort(out.begin(), out.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  return out;
}

absl::StatusOr<Options> ParseConninfo(const std::string& conninfo) {
  char* err = nullptr;
  Options options(PQconninfoParse(conninfo.c_str(), &err));
  if (options == nullptr) {
    std::string why =
        err != nullptr ? std::string(absl::StripAsciiWhitespace(err)) : "out of memory";
    if (err != nullptr) PQfreemem(err);
    for (const std::string& secret : Secrets(conninfo)) {
      why = absl::StrReplaceAll(why, {{secret, "***"}});
    }
    return absl::InvalidArgumentError(
        absl::StrCat("store url: not a PostgreSQL connection string libpq accepts: ", why));
  }
  return options;
}

std::string Value(const Options& options, absl::string_view keyword) {
  for (const PQconninfoOption* o = options.get(); o->keyword != nullptr; ++o) {
    if (keyword == o->keyword && o->val != nullptr) return o->val;
  }
  return "";
}

absl::Status CheckPostgres(const Options& options) {
  const std::string attrs = Value(options, "target_session_attrs");
  if (!attrs.empty()) {
    bool known = false;
    for (absl::string_view a : kTargetSessionAttrs) known |= attrs == a;
    if (!known) {
      return absl::InvalidArgumentError(absl::StrCat("store url: target_session_attrs \"", attrs,
                                                     "\" is not one of ",
                                                     absl::StrJoin(kTargetSessionAttrs, ", ")));
    }
  }
  const std::string port_list = Value(options, "port");
  std::vector<std::string> ports;
  if (!port_list.empty()) ports = absl::StrSplit(port_list, ',');
  for (const std::string& p : ports) {
    int port = 0;
    if (p.empty()) continue;  // the default port for that host
    if (!absl::SimpleAtoi(p, &port) || port < 1 || port > 65535) {
      return absl::InvalidArgumentError(
          absl::StrCat("store url: port \"", p, "\" is not a number from 1 to 65535"));
    }
  }
  const std::string host_list =
      Value(options, "host").empty() ? Value(options, "hostaddr") : Value(options, "host");
  const size_t hosts =
      host_list.empty() ? 1 : std::vector<std::string>(absl::StrSplit(host_list, ',')).size();
  if (ports.size() > 1 && ports.size() != hosts) {
    return absl::InvalidArgumentError(absl::StrCat("store url: ", ports.size(), " ports for ",
                                                   hosts,
                                                   " hosts (give one port, or one per host)"));
  }
  return absl::OkStatus();
}

// "data:dir" and "mysql://x" have a scheme; "/var/lib/provd", "./d" and "d" do not.
bool HasScheme(absl::string_view text, absl::string_view* scheme) {
  const size_t colon = text.find(':');
  if (colon == absl::string_view::npos || colon == 0) return false;
  if (!absl::ascii_isalpha(text[0])) return false;
  for (char c : text.substr(0, colon)) {
    if (!absl::ascii_isalnum(c) && c != '+' && c != '-' && c != '.') return false;
  }
  *scheme = text.substr(0, colon);
  return true;
}

}  // namespace

absl::StatusOr<StoreUrl> ParseStoreUrl(absl::string_view text) {
  if (text.empty()) {
    return absl::InvalidArgumentError(
        "store url: is empty (give sqlite:<dir>, a directory, or postgresql://...)");
  }
  StoreUrl url;
  absl::string_view scheme;
  if (!HasScheme(text, &scheme)) {
    url.sqlite_dir = std::string(text);
    return url;
  }
  const std::string lower = absl::AsciiStrToLower(scheme);
  if (lower == "sqlite") {
    url.sqlite_dir = std::string(text.substr(scheme.size() + 1));
    if (url.sqlite_dir.empty()) {
      return absl::InvalidArgumentError("store url: sqlite: needs a directory (sqlite:<dir>)");
    }
    return url;
  }
  if (lower != "postgresql" && lower != "postgres") {
    return absl::InvalidArgumentError(
        absl::StrCat("store url: unknown scheme \"", scheme,
                     ":\" (use sqlite:<dir> or postgresql://...; a directory whose name has a "
                     "colon is sqlite:<dir>)"));
  }
  url.engine = StoreUrl::Engine::kPostgres;
  absl::string_view rest = text.substr(scheme.size() + 1);
  if (absl::StartsWith(rest, "//")) {
    url.pg_conninfo = absl::StrCat("postgresql:", rest);  // libpq knows both URI prefixes
  } else {
    url.pg_conninfo = std::string(absl::StripLeadingAsciiWhitespace(rest));
    if (url.pg_conninfo.empty() || url.pg_conninfo.find('=') == std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("store url: \"", scheme,
                       ":...\" is neither a postgresql:// URI nor postgresql: followed by "
                       "keyword=value pairs"));
    }
  }
  auto options = ParseConninfo(url.pg_conninfo);
  if (!options.ok()) return options.status();
  if (absl::Status s = CheckPostgres(*options); !s.ok()) return s;
  return url;
}

std::string StoreUrl::Redacted() const {
  if (engine == Engine::kSqlite) return absl::StrCat("sqlite:", sqlite_dir);
  auto options = ParseConninfo(pg_conninfo);
  if (!options.ok()) return "postgresql:(unparsable)";
  std::vector<std::string> parts;
  for (const PQconninfoOption* o = options->get(); o->keyword != nullptr; ++o) {
    if (o->val == nullptr || o->val[0] == '\0') continue;
    // dispchar '*': libpq's mark for secrets (password, sslpassword, ...).
    if (o->dispchar != nullptr && absl::string_view(o->dispchar) == "*") {
      parts.push_back(absl::StrCat(o->keyword, "=***"));
      continue;
    }
    parts.push_back(absl::StrCat(o->keyword, "=", o->val));
  }
  return absl::StrCat("postgresql: ", absl::StrJoin(parts, " "));
}

}  // namespace prov::server
