#include "agent/collect/account_map.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/fs.h"
#include "common/status_macros.h"

namespace prov::agent {

const AccountMapEntry* AccountMap::Find(absl::string_view kind, absl::string_view key) const {
  auto it = entries_.find({std::string(kind), std::string(key)});
  return it == entries_.end() ? nullptr : &it->second;
}

absl::StatusOr<AccountMap> ParseAccountMap(absl::string_view text, absl::string_view source_name) {
  AccountMap map;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    auto err = [&](absl::string_view what) {
      return absl::InvalidArgumentError(absl::StrCat(source_name, ":", line_no, ": ", what));
    };
    std::vector<absl::string_view> f =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (f.size() != 2) return err("expected '<kind>:<key> <account>'");
    size_t colon = f[0].find(':');
    if (colon == absl::string_view::npos || colon == 0 || colon + 1 == f[0].size()) {
      return err("expected '<kind>:<key>' before the account");
    }
    std::string kind(f[0].substr(0, colon));
    std::string key(f[0].substr(colon + 1));
    if (kind != "uid" && kind != "user" && kind != "namespace" && kind != "slurm-account") {
      return err(absl::StrCat("unknown kind '", kind,
                              "' (expected uid, user, namespace or slurm-account)"));
    }
    uint32_t uid = 0;
    if (kind == "uid" && !absl::SimpleAtoi(key, &uid)) return err("uid is not a number");
    auto [it, inserted] = map.entries_.emplace(std::make_pair(kind, key),
                                               AccountMapEntry{std::string(f[1]), line_no});
    if (!inserted) {
      return err(absl::StrCat(kind, ":", key, " already mapped on line ", it->second.line));
    }
  }
  return map;
}

absl::StatusOr<AccountMap> LoadAccountMap(const std::string& path) {
  PROV_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  return ParseAccountMap(text, path);
}

std::map<uint32_t, std::string> ParsePasswd(absl::string_view text) {
  std::map<uint32_t, std::string> out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ':');
    uint32_t uid = 0;
    if (f.size() < 4 || f[0].empty() || !absl::SimpleAtoi(f[2], &uid)) continue;
    out.emplace(uid, std::string(f[0]));
  }
  return out;
}

}  // namespace prov::agent
