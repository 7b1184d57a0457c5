#include "server/access/token_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/fs.h"
#include "common/integrity/random.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "google/protobuf/util/time_util.h"
#include "server/access/role.h"
#include "server/auditlog/audit_log.h"
#include "server/store/connection.h"
#include "server/store/schema.h"
#include "server/store/transaction.h"

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

}  // namespace

absl::StatusOr<std::unique_ptr<TokenStore>> TokenStore::Open(const std::string& db_path,
                                                             const Clock& clock) {
  PROV_ASSIGN_OR_RETURN(auto db, OpenConnection(db_path, SqliteDb::kReadWrite));
  PROV_RETURN_IF_ERROR(MigrateSchema(*db));
  std::unique_ptr<TokenStore> store(new TokenStore(std::move(db), clock));
  PROV_RETURN_IF_ERROR(store->Load());
  return store;
}

absl::Status TokenStore::Load() {
  absl::MutexLock lock(&mu_);
  PROV_ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT token_id, name, role, secret_sha256, "
                                              "created_us, created_by, revoked_us, expires_us FROM "
                                              "api_tokens"));
  while (true) {
    PROV_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    TokenInfo info;
    info.set_token_id(st->ColumnText(0));
    info.set_name(st->ColumnText(1));
    info.set_role(static_cast<provenance::v1::Role>(st->ColumnInt64(2)));
    *info.mutable_created_at() = TimeUtil::MicrosecondsToTimestamp(st->ColumnInt64(4));
    info.set_created_by(st->ColumnText(5));
    if (st->ColumnInt64(6) != 0) {
      info.set_revoked(true);
      *info.mutable_revoked_at() = TimeUtil::MicrosecondsToTimestamp(st->ColumnInt64(6));
    }
    if (st->ColumnInt64(7) != 0) {
      *info.mutable_expires_at() = TimeUtil::MicrosecondsToTimestamp(st->ColumnInt64(7));
    }
    uint64_t n = 0;
    if (info.token_id().size() > 2 && absl::SimpleAtoi(info.token_id().substr(2), &n)) {
      next_id_ = std::max(next_id_, n + 1);
    }
    by_hash_[st->ColumnText(3)] = std::move(info);
  }
  return absl::OkStatus();
}

absl::StatusOr<provenance::v1::IssueTokenResponse> TokenStore::Issue(const std::string& name,
                                                                     provenance::v1::Role role,
                                                                     const std::string& actor,
                                                                     absl::Duration ttl) {
  if (ttl < absl::ZeroDuration()) return absl::InvalidArgumentError("ttl: must not be negative");
  if (!ValidName(name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("name: '", name, "' must be 1-64 characters of A-Z a-z 0-9 . _ @ -"));
  }
  if (role == provenance::v1::ROLE_UNSPECIFIED || !provenance::v1::Role_IsValid(role)) {
    return absl::InvalidArgumentError("role: must be viewer, analyst or admin");
  }
  const std::string secret = NewSecret();
  const std::string hash = Sha256Hex(secret);
  const absl::Time now = clock_.Now();
  const int64_t expires_us = ttl > absl::ZeroDuration() ? absl::ToUnixMicros(now + ttl) : 0;
  absl::MutexLock lock(&mu_);
  const std::string id = absl::StrCat("T-", next_id_);
  {
    PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(*db_, Transaction::kWrite));
    PROV_ASSIGN_OR_RETURN(
        Statement * st,
        db_->Cached("INSERT INTO api_tokens(token_id, name, role, secret_sha256, "
                    "created_us, created_by, expires_us) VALUES (?, ?, ?, ?, ?, ?, ?)"));
    st->BindText(1, id);
    st->BindText(2, name);
    st->BindInt64(3, role);
    st->BindText(4, hash);
    st->BindInt64(5, absl::ToUnixMicros(now));
    st->BindText(6, actor);
    st->BindInt64(7, expires_us);
    absl::Status ran = st->Run();
    st->Reset();
    PROV_RETURN_IF_ERROR(ran);
    PROV_RETURN_IF_ERROR(
        AppendAuditEntry(*db_, actor, "token.issue",
                         AuditPayload({{"token_id", id},
                                       {"name", name},
                                       {"role", RoleName(role)},
                                       {"ttl_seconds", absl::StrCat(absl::ToInt64Seconds(ttl))}}),
                         now)
            .status());
    PROV_RETURN_IF_ERROR(txn.Commit());
  }
  ++next_id_;
  provenance::v1::IssueTokenResponse out;
  out.set_token(secret);
  TokenInfo& info = *out.mutable_info();
  info.set_token_id(id);
  info.set_name(name);
  info.set_role(role);
  *info.mutable_created_at() = TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(now));
  info.set_created_by(actor);
  if (expires_us != 0) *info.mutable_expires_at() = TimeUtil::MicrosecondsToTimestamp(expires_us);
  by_hash_[hash] = info;
  return out;
}

absl::StatusOr<TokenInfo> TokenStore::Revoke(const std::string& token_id,
                                             const std::string& actor) {
  const absl::Time now = clock_.Now();
  absl::MutexLock lock(&mu_);
  for (auto& [hash, info] : by_hash_) {
    if (info.token_id() != token_id) continue;
    if (info.revoked()) return info;
    PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(*db_, Transaction::kWrite));
    PROV_ASSIGN_OR_RETURN(Statement * st,
                          db_->Cached("UPDATE api_tokens SET revoked_us = ? WHERE token_id = ?"));
    st->BindInt64(1, absl::ToUnixMicros(now));
    st->BindText(2, token_id);
    absl::Status ran = st->Run();
    st->Reset();
    PROV_RETURN_IF_ERROR(ran);
    PROV_RETURN_IF_ERROR(
        AppendAuditEntry(*db_, actor, "token.revoke",
                         AuditPayload({{"token_id", token_id}, {"name", info.name()}}), now)
            .status());
    PROV_RETURN_IF_ERROR(txn.Commit());
    info.set_revoked(true);
    *info.mutable_revoked_at() = TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(now));
    return info;
  }
  return absl::NotFoundError(absl::StrCat("token_id: no token ", token_id));
}

std::vector<TokenInfo> TokenStore::List() const {
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
  absl::MutexLock lock(&mu_);
  auto it = by_hash_.find(hash);
  if (it == by_hash_.end() || it->second.revoked()) return std::nullopt;
  if (it->second.has_expires_at() &&
      absl::ToUnixMicros(clock_.Now()) >=
          TimeUtil::TimestampToMicroseconds(it->second.expires_at())) {
    return std::nullopt;  // expired: the caller gets UNAUTHENTICATED like an unknown token
  }
  return it->second;
}

absl::StatusOr<bool> TokenStore::EnsureBootstrapAdmin(const std::string& path) {
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [hash, info] : by_hash_) {
      if (!info.revoked() && info.role() == provenance::v1::ROLE_ADMIN) return false;
    }
  }
  if (PathExists(path)) return false;
  PROV_ASSIGN_OR_RETURN(auto issued, Issue("bootstrap-admin", provenance::v1::ROLE_ADMIN, "provd"));
  PROV_RETURN_IF_ERROR(WritePrivateFile(path, issued.token() + "\n"));
  return true;
}

}  // namespace prov::server
