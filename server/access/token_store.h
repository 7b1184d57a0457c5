// TokenStore: bearer tokens an admin issues to people and systems (provctl tokens issue). Only a
// token's SHA-256 is stored (`api_tokens`); the secret is shown once, at issue. Issue and revoke
// append an audit entry in the same transaction.
//
//   PROV_ASSIGN_OR_RETURN(auto tokens, TokenStore::Open(db_path, clock));
//   PROV_ASSIGN_OR_RETURN(auto issued, tokens->Issue("alice", ROLE_ANALYST, "token:root"));
//   std::optional<TokenInfo> who = tokens->Lookup(issued.token);    // hot path: memory only
//   PROV_RETURN_IF_ERROR(tokens->Revoke(issued.info.token_id(), "token:root").status());
//   // First start: no admin yet, so write one admin token to a 0600 file for the operator.
//   PROV_ASSIGN_OR_RETURN(bool wrote, tokens->EnsureBootstrapAdmin(data_dir + "/admin.token"));
//
// Thread-safe: lookups read an in-memory index under a reader lock; writes serialise on the
// store's own connection.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "provenance/v1/compliance.pb.h"
#include "server/store/sqlite.h"

namespace prov::server {

class TokenStore {
 public:
  static absl::StatusOr<std::unique_ptr<TokenStore>> Open(const std::string& db_path,
                                                          const Clock& clock);

  // INVALID_ARGUMENT for a bad name ([A-Za-z0-9._@-]{1,64}), an unspecified role or a negative
  // ttl. A positive `ttl` makes the token stop working that long after now (expires_at); zero:
  // it never expires.
  absl::StatusOr<provenance::v1::IssueTokenResponse> Issue(
      const std::string& name, provenance::v1::Role role, const std::string& actor,
      absl::Duration ttl = absl::ZeroDuration());
  // NOT_FOUND for an unknown id; revoking twice is allowed and changes nothing.
  absl::StatusOr<provenance::v1::TokenInfo> Revoke(const std::string& token_id,
                                                   const std::string& actor);
  std::vector<provenance::v1::TokenInfo> List() const;
  // The live (not revoked, not expired on the clock) token with this secret, if any.
  std::optional<provenance::v1::TokenInfo> Lookup(absl::string_view secret) const;

  // Writes a new admin token to `path` (0600) when no live admin token exists and `path` does not
  // exist yet. Returns whether it wrote one.
  absl::StatusOr<bool> EnsureBootstrapAdmin(const std::string& path);

 private:
  TokenStore(std::unique_ptr<SqliteDb> db, const Clock& clock)
      : db_(std::move(db)), clock_(clock) {}
  absl::Status Load();

  mutable absl::Mutex mu_;
  std::unique_ptr<SqliteDb> db_ ABSL_GUARDED_BY(mu_);
  const Clock& clock_;
  absl::flat_hash_map<std::string, provenance::v1::TokenInfo> by_hash_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace prov::server
