// Static account map (`--account-map FILE`): operator-maintained owner -> account lines.
//
//   # comment
//   uid:1000 acme-research
//   user:alice acme-research
//   namespace:ml-team acme-ml
//   slurm-account:physics acme-physics
//
//   absl::StatusOr<AccountMap> map = ParseAccountMap(text, "accounts.map");
//   const AccountMapEntry* e = map->Find("user", "alice");   // e->account, e->line
//
// One entry per line: "<kind>:<key>" then whitespace then the account (no spaces). Errors name
// the file and line. A key listed twice is an error (which line would win is not obvious).
// Also: ParsePasswd for uid -> user name (`--passwd-file`, default /etc/passwd).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace prov::agent {

struct AccountMapEntry {
  std::string account;
  int line = 0;
};

class AccountMap {
 public:
  // kind: "uid", "user", "namespace", "slurm-account".
  const AccountMapEntry* Find(absl::string_view kind, absl::string_view key) const;
  size_t size() const { return entries_.size(); }

 private:
  friend absl::StatusOr<AccountMap> ParseAccountMap(absl::string_view, absl::string_view);
  std::map<std::pair<std::string, std::string>, AccountMapEntry> entries_;
};

absl::StatusOr<AccountMap> ParseAccountMap(absl::string_view text, absl::string_view source_name);
absl::StatusOr<AccountMap> LoadAccountMap(const std::string& path);

// uid -> user name from passwd(5) text; malformed lines are skipped.
std::map<uint32_t, std::string> ParsePasswd(absl::string_view text);

}  // namespace prov::agent
