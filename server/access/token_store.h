// TokenStore: bearer tokens an admin issues to people and systems (provctl tokens issue). Only a
// token's SHA-256 is stored (ApiTokenRepository, server/store/repo/api_tokens.h: `api_tokens` on
// SQLite or PostgreSQL); the secret is shown once, at issue. Issue and revoke append an audit
// entry in the same transaction.
//
//   PROV_ASSIGN_OR_RETURN(auto tokens, TokenStore::Open(db_path, clock));   // SQLite
//   // or any engine: TokenStore::Create(std::move(repo), clock, {.refresh_interval = ...})
//   PROV_ASSIGN_OR_RETURN(auto issued, tokens->Issue("alice", ROLE_ANALYST, "token:root"));
//   std::optional<TokenInfo> who = tokens->Lookup(issued.token);    // hot path: memory only
//   PROV_RETURN_IF_ERROR(tokens->Revoke(issued.info.token_id(), "token:root").status());
//   // First start: no admin yet, so write one admin token to a 0600 file for the operator.
//   PROV_ASSIGN_OR_RETURN(bool wrote, tokens->EnsureBootstrapAdmin(data_dir + "/admin.token"));
//
// Several TokenStores on one database (provd replicas on one PostgreSQL, or two processes on one
// SQLite file) stay in step through the repository's revision (a count of every write ever made
// to api_tokens, one cheap query): Lookup answers from memory, but the first Lookup at least
// `refresh_interval` after the last check reads the revision first and reloads the index when it
// moved, and a Lookup that misses does the same at most once per `miss_check_interval`. So
//  - a token revoked on another replica stops working here at most `refresh_interval` (default
//    5 s) after its revocation committed, plus the time of a repository call of this store that
//    is running then (a check or a write: a Lookup never waits for one, it answers from memory
//    and a later Lookup checks, so at most one thread waits on a slow database);
//  - a token issued on another replica works here for every Lookup made at least
//    `miss_check_interval` (default 1 s) after its issue committed (earlier ones may miss, and
//    so may one made while a repository call of this store runs: the next Lookup checks);
//  - a flood of unknown tokens costs at most one revision query per `miss_check_interval`.
// These hold while the database answers: when a check fails, the index in memory keeps serving
// (writes fail anyway; refresh_errors() counts the failures, logged as "access" warnings) and
// the next Lookup tries again. Revoke and List read the database first, so they never act on a
// stale index. Token ids ("T-<n>") are the next number after the highest this store has seen; an
// id another replica took meanwhile (ALREADY_EXISTS) makes Issue reload and take the next one.
//
// Thread-safe: lookups read the in-memory index under its lock; repository calls (checks,
// reloads, writes) are serialised by a second lock, taken before the index lock, which Lookup
// only tries (never waits for), so a Lookup that runs the periodic check makes only itself wait.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "provenance/v1/compliance.pb.h"
#include "server/store/repo/api_tokens.h"

namespace prov::server {

struct TokenStoreOptions {
  // How stale the index may get: the bound on serving a token revoked elsewhere.
  absl::Duration refresh_interval = absl::Seconds(5);
  // How often a missing token may make a Lookup check the database.
  absl::Duration miss_check_interval = absl::Seconds(1);
};

class TokenStore {
 public:
  // The SQLite repository on `db_path` (migrated), default options.
  static absl::StatusOr<std::unique_ptr<TokenStore>> Open(const std::string& db_path,
                                                          const Clock& clock);
  // Loads the index from `repo` (any engine).
  static absl::StatusOr<std::unique_ptr<TokenStore>> Create(
      std::unique_ptr<ApiTokenRepository> repo, const Clock& clock, TokenStoreOptions options = {});

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

  // Writes a new admin token to `path` (0600) when no live (neither revoked nor expired) admin
  // token exists and `path` does not exist yet. Returns whether it wrote one. Of several stores
  // on one database calling this together (replicas starting at once) exactly one issues: the
  // repository looks for a live admin again inside the insert's transaction
  // (ApiTokenRepository::InsertIfRoleVacant).
  absl::StatusOr<bool> EnsureBootstrapAdmin(const std::string& path);

  // Revision checks or reloads that failed (the index kept serving).
  uint64_t refresh_errors() const;

 private:
  TokenStore(std::unique_ptr<ApiTokenRepository> repo, const Clock& clock,
             TokenStoreOptions options)
      : repo_(std::move(repo)), clock_(clock), options_(options) {}
  // Issue; with `only_if_role_vacant`, nothing (nullopt) when a live token of `role` exists.
  absl::StatusOr<std::optional<provenance::v1::IssueTokenResponse>> IssueToken(
      const std::string& name, provenance::v1::Role role, const std::string& actor,
      absl::Duration ttl, bool only_if_role_vacant);
  // Reads the revision and reloads the index when it differs from the index's.
  absl::Status Refresh() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(repo_mu_);
  // Refresh, logging and counting a failure.
  void RefreshOrLog() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(repo_mu_);
  void Install(const std::vector<StoredApiToken>& rows) const ABSL_LOCKS_EXCLUDED(mu_);

  const std::unique_ptr<ApiTokenRepository> repo_;
  const Clock& clock_;
  const TokenStoreOptions options_;
  mutable absl::Mutex repo_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable absl::Mutex mu_;
  mutable absl::flat_hash_map<std::string, provenance::v1::TokenInfo> by_hash_ ABSL_GUARDED_BY(mu_);
  mutable uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  mutable int64_t revision_ ABSL_GUARDED_BY(mu_) = -1;  // of the rows in by_hash_
  mutable absl::Time last_check_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  mutable absl::Time last_miss_check_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  mutable uint64_t refresh_errors_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace prov::server
