#include "server/access/token_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/fs.h"
#include "common/integrity/random.h"
#include "common/log/log.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "google/protobuf/util/time_util.h"
#include "server/access/role.h"
#include "server/store/repo/audit_log.h"
#include "server/store/sqlite/sqlite_api_tokens.h"

namespace prov::server {
namespace {

using google::protobuf::util::TimeUtil;
using provenance::v1::TokenInfo;

bool ValidName(absl::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '@' ||
          c == '-')) {
      return false;
    }
  }
  return true;
}

std::string NewSecret() { return absl::StrCat("prov_", integrity::RandomHex(32)); }

// Creates `path` readable by its owner only; refuses to replace an existing file.
absl::Status WritePrivateFile(const std::string& path, const std::string& data) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return absl::UnavailableError(absl::StrCat(path, ": ", std::strerror(errno)));
  const bool ok = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
  ::close(fd);
  if (!ok) return absl::UnavailableError(absl::StrCat(path, ": short write"));
  return absl::OkStatus();
}

TokenInfo ToInfo(const StoredApiToken& t) {
  TokenInfo info;
  info.set_token_id(t.token_id);
  info.set_name(t.name);
  info.set_role(static_cast<provenance::v1::Role>(t.role));
  *info.mutable_created_at() = TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(t.created_at));
  info.set_created_by(t.created_by);
  if (t.revoked_at.has_value()) {
    info.set_revoked(true);
    *info.mutable_revoked_at() =
        TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(*t.revoked_at));
  }
  if (t.expires_at.has_value()) {
    *info.mutable_expires_at() =
        TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(*t.expires_at));
  }
  return info;
}

// n of "T-<n>"; 0 for any other id.
uint64_t IdNumber(absl::string_view token_id) {
  uint64_t n = 0;
  if (token_id.size() > 2 && absl::StartsWith(token_id, "T-") &&
      absl::SimpleAtoi(token_id.substr(2), &n)) {
    return n;
  }
  return 0;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TokenStore>> TokenStore::Open(const std::string& db_path,
                                                             const Clock& clock) {
  PROV_ASSIGN_OR_RETURN(auto repo, SqliteApiTokenRepository::Open(db_path));
  return Create(std::move(repo), clock);
}

absl::StatusOr<std::unique_ptr<TokenStore>> TokenStore::Create(
    std::unique_ptr<ApiTokenRepository> repo, const Clock& clock, TokenStoreOptions options) {
  if (repo == nullptr) return absl::InvalidArgumentError("repo: null");
  std::unique_ptr<TokenStore> store(new TokenStore(std::move(repo), clock, options));
  {
    absl::MutexLock lock(&store->repo_mu_);
    PROV_RETURN_IF_ERROR(store->Refresh());
  }
  absl::MutexLock lock(&store->mu_);
  store->last_check_ = clock.Now();
  return store;
}

void TokenStore::Install(const std::vector<StoredApiToken>& rows) const {
  absl::flat_hash_map<std::string, TokenInfo> by_hash;
  by_hash.reserve(rows.size());
  uint64_t next_id = 1;
  for (const StoredApiToken& t : rows) {
    next_id = std::max(next_id, IdNumber(t.token_id) + 1);
    by_hash[t.secret_sha256] = ToInfo(t);
  }
  absl::MutexLock lock(&mu_);
  by_hash_ = std::move(by_hash);
  next_id_ = std::max(next_id_, next_id);
  revision_ = ApiTokenRevision(rows);
}

absl::Status TokenStore::Refresh() const {
  PROV_ASSIGN_OR_RETURN(int64_t revision, repo_->Revision());
  {
    absl::MutexLock lock(&mu_);
    if (revision == revision_) return absl::OkStatus();
  }
  PROV_ASSIGN_OR_RETURN(std::vector<StoredApiToken> rows, repo_->LoadAll());
  Install(rows);
  return absl::OkStatus();
}

void TokenStore::RefreshOrLog() const {
  absl::Status s = Refresh();
  if (s.ok()) return;
  {
    absl::MutexLock lock(&mu_);
    ++refresh_errors_;
  }
  PROV_LOG_WARN("access", "API tokens not refreshed from the store; serving the index in memory",
                {"error", s});
}

uint64_t TokenStore::refresh_errors() const {
  absl::MutexLock lock(&mu_);
  return refresh_errors_;
}

absl::StatusOr<provenance::v1::IssueTokenResponse> TokenStore::Issue(const std::string& name,
                                                                     provenance::v1::Role role,
                                                                     const std::string& actor,
                                                                     absl::Duration ttl) {
  PROV_ASSIGN_OR_RETURN(std::optional<provenance::v1::IssueTokenResponse> issued,
                        IssueToken(name, role, actor, ttl, /*only_if_role_vacant=*/false));
  return *std::move(issued);
}

absl::StatusOr<std::optional<provenance::v1::IssueTokenResponse>> TokenStore::IssueToken(
    const std::string& name, provenance::v1::Role role, const std::string& actor,
    absl::Duration ttl, bool only_if_role_vacant) {
  if (ttl < absl::ZeroDuration()) return absl::InvalidArgumentError("ttl: must not be negative");
  if (!ValidName(name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("name: '", name, "' must be 1-64 characters of A-Z a-z 0-9 . _ @ -"));
  }
  if (role == provenance::v1::ROLE_UNSPECIFIED || !provenance::v1::Role_IsValid(role)) {
    return absl::InvalidArgumentError("role: must be viewer, analyst or admin");
  }
  const std::string secret = NewSecret();
  StoredApiToken row;
  row.name = name;
  row.role = role;
  row.secret_sha256 = Sha256Hex(secret);
  row.created_at = clock_.Now();
  row.created_by = actor;
  if (ttl > absl::ZeroDuration()) row.expires_at = row.created_at + ttl;
  absl::MutexLock repo_lock(&repo_mu_);
  // Another replica may have taken the next id: reload and take the one after (a few times).
  for (int attempt = 1;; ++attempt) {
    uint64_t n;
    {
      absl::MutexLock lock(&mu_);
      n = next_id_;
    }
    row.token_id = absl::StrCat("T-", n);
    const AuditRecord audit{
        actor, "token.issue",
        AuditPayload({{"token_id", row.token_id},
                      {"name", name},
                      {"role", RoleName(role)},
                      {"ttl_seconds", absl::StrCat(absl::ToInt64Seconds(ttl))}}),
        row.created_at};
    absl::Status inserted;
    if (only_if_role_vacant) {
      absl::StatusOr<bool> wrote = repo_->InsertIfRoleVacant(row, audit, row.created_at);
      if (wrote.ok() && !*wrote) {
        // Another replica holds the role: learn its token, issue none.
        RefreshOrLog();
        return std::nullopt;
      }
      inserted = wrote.status();
    } else {
      inserted = repo_->Insert(row, audit);
    }
    if (inserted.ok()) break;
    if (!absl::IsAlreadyExists(inserted) || attempt == 5) return inserted;
    PROV_RETURN_IF_ERROR(Refresh());
    absl::MutexLock lock(&mu_);
    next_id_ = std::max(next_id_, n + 1);
  }
  provenance::v1::IssueTokenResponse out;
  out.set_token(secret);
  *out.mutable_info() = ToInfo(row);
  absl::MutexLock lock(&mu_);
  next_id_ = std::max(next_id_, IdNumber(row.token_id) + 1);
  by_hash_[row.secret_sha256] = out.info();
  return out;
}

absl::StatusOr<TokenInfo> TokenStore::Revoke(const std::string& token_id,
                                             const std::string& actor) {
  const absl::Time now = clock_.Now();
  absl::MutexLock repo_lock(&repo_mu_);
  // The database first: the token may be another replica's, or revoked there already.
  PROV_RETURN_IF_ERROR(Refresh());
  std::optional<TokenInfo> known;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [hash, info] : by_hash_) {
      if (info.token_id() == token_id) known = info;
    }
  }
  if (!known.has_value()) return absl::NotFoundError(absl::StrCat("token_id: no token ", token_id));
  if (known->revoked()) return *known;
  PROV_ASSIGN_OR_RETURN(
      StoredApiToken stored,
      repo_->Revoke(token_id, now,
                    {actor, "token.revoke",
                     AuditPayload({{"token_id", token_id}, {"name", known->name()}}), now}));
  TokenInfo info = ToInfo(stored);
  absl::MutexLock lock(&mu_);
  by_hash_[stored.secret_sha256] = info;
  return info;
}

std::vector<TokenInfo> TokenStore::List() const {
  {
    absl::MutexLock repo_lock(&repo_mu_);
    RefreshOrLog();
  }
  absl::MutexLock lock(&mu_);
  std::vector<TokenInfo> out;
  for (const auto& [hash, info] : by_hash_) out.push_back(info);
  std::sort(out.begin(), out.end(), [](const TokenInfo& a, const TokenInfo& b) {
    return a.created_at().seconds() != b.created_at().seconds()
               ? a.created_at().seconds() < b.created_at().seconds()
               : a.token_id() < b.token_id();
  });
  return out;
}

std::optional<TokenInfo> TokenStore::Lookup(absl::string_view secret) const {
  if (secret.empty()) return std::nullopt;
  const std::string hash = Sha256Hex(secret);
  const absl::Time now = clock_.Now();
  auto answer = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> std::optional<TokenInfo> {
    auto it = by_hash_.find(hash);
    if (it == by_hash_.end() || it->second.revoked()) return std::nullopt;
    if (it->second.has_expires_at() &&
        absl::ToUnixMicros(now) >= TimeUtil::TimestampToMicroseconds(it->second.expires_at())) {
      return std::nullopt;  // expired: the caller gets UNAUTHENTICATED like an unknown token
    }
    return it->second;
  };
  // Whether a check is due; when `claim`, marks it done (concurrent Lookups then answer from the
  // index while it runs).
  auto due = [&](bool claim) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const bool miss = !by_hash_.contains(hash);
    const bool check = now - last_check_ >= options_.refresh_interval ||
                       (miss && now - last_miss_check_ >= options_.miss_check_interval);
    if (check && claim) {
      last_check_ = now;
      if (miss) last_miss_check_ = now;
    }
    return check;
  };
  {
    absl::MutexLock lock(&mu_);
    if (!due(false)) return answer();
  }
  // Never waits for the database: while another repository call (a check, a write) runs, this
  // Lookup answers from the index and a later one checks. So at most one thread waits on a slow
  // database here.
  if (repo_mu_.TryLock()) {
    bool check;
    {
      absl::MutexLock lock(&mu_);
      check = due(true);  // another thread may have checked meanwhile
    }
    if (check) RefreshOrLog();
    repo_mu_.Unlock();
  }
  absl::MutexLock lock(&mu_);
  return answer();
}

absl::StatusOr<bool> TokenStore::EnsureBootstrapAdmin(const std::string& path) {
  if (PathExists(path)) return false;
  // Whether a live admin exists is the repository's to say, in the insert's own transaction: an
  // index read first could be stale (replicas starting together), so only one of them issues.
  PROV_ASSIGN_OR_RETURN(std::optional<provenance::v1::IssueTokenResponse> issued,
                        IssueToken("bootstrap-admin", provenance::v1::ROLE_ADMIN, "provd",
                                   absl::ZeroDuration(), /*only_if_role_vacant=*/true));
  if (!issued.has_value()) return false;
  PROV_RETURN_IF_ERROR(WritePrivateFile(path, issued->token() + "\n"));
  return true;
}

}  // namespace prov::server
