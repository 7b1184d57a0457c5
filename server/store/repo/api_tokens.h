// ApiTokenRepository: the bearer tokens an admin issues (table `api_tokens`,
// server/store/SCHEMA.md) on either engine: SqliteApiTokenRepository (server/store/sqlite/) or
// PgApiTokenRepository (server/store/pg/). TokenStore (server/access/token_store.h) keeps the
// in-memory index that the hot path reads and refreshes it from here.
// tests/store/access_conformance_test.cc holds both engines to the same behaviour.
//
//   PROV_ASSIGN_OR_RETURN(auto repo, SqliteApiTokenRepository::Open(data_dir + "/provd.db"));
//   PROV_RETURN_IF_ERROR(repo->Insert(row, {"token:root", "token.issue", payload, now}));
//   PROV_ASSIGN_OR_RETURN(std::vector<StoredApiToken> all, repo->LoadAll());
//   PROV_ASSIGN_OR_RETURN(int64_t rev, repo->Revision());   // moved: LoadAll again
//   PROV_ASSIGN_OR_RETURN(bool wrote, repo->InsertIfRoleVacant(admin, audit, now));  // first admin
//   PROV_ASSIGN_OR_RETURN(StoredApiToken t, repo->Revoke("T-3", now, audit));
//
// Only a token's SHA-256 is stored. Rows are never deleted and a token is revoked at most once,
// so the count of rows plus the count of revoked rows counts every write ever made: that is the
// revision (ApiTokenRevision), readable with one cheap query, that tells a replica its index is
// stale. Each write appends its audit entry in its own transaction (both or neither).
// Implementations are thread-safe (one call at a time on their own connection).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/store/repo/audit_appender.h"

namespace prov::server {

struct StoredApiToken {
  std::string token_id;  // "T-<n>"
  std::string name;
  int64_t role = 0;           // provenance.v1.Role
  std::string secret_sha256;  // lowercase hex
  absl::Time created_at;
  std::string created_by;
  std::optional<absl::Time> revoked_at;
  std::optional<absl::Time> expires_at;  // none: never expires
  bool operator==(const StoredApiToken&) const = default;
};

// Rows plus revoked rows: what Revision() returns for the database these rows were read from.
int64_t ApiTokenRevision(const std::vector<StoredApiToken>& tokens);
// What every engine's Insert and InsertIfRoleVacant check first: INVALID_ARGUMENT for a new
// token that is already revoked.
absl::Status CheckNewApiToken(const StoredApiToken& token);

class ApiTokenRepository {
 public:
  virtual ~ApiTokenRepository() = default;
  // Every token, in any state, ordered by token_id (bytes).
  virtual absl::StatusOr<std::vector<StoredApiToken>> LoadAll() = 0;
  // Grows by one with every Insert and every first Revoke, on any connection or replica.
  virtual absl::StatusOr<int64_t> Revision() = 0;
  // Stores a new token (revoked_at must be empty) with its audit entry, one transaction.
  // ALREADY_EXISTS when the token_id (or the secret's hash) is taken: nothing is written.
  virtual absl::Status Insert(const StoredApiToken& token, const AuditRecord& audit) = 0;
  // Insert, but only when no live token of `token.role` exists (not revoked, not expired at
  // `now`). The check and the insert are one transaction under a lock every connection and
  // replica takes for it (PostgreSQL: the advisory lock kPgTokenLock; SQLite: BEGIN IMMEDIATE),
  // so of several callers racing on a vacant role exactly one writes: how the first admin token
  // is issued once although replicas start together. false: a live one exists, nothing written.
  virtual absl::StatusOr<bool> InsertIfRoleVacant(const StoredApiToken& token,
                                                  const AuditRecord& audit, absl::Time now) = 0;
  // Sets revoked_at = `at` with the audit entry, one transaction, and returns the stored row.
  // A token revoked already is returned as stored, nothing written (no audit entry).
  // NOT_FOUND for an unknown id.
  virtual absl::StatusOr<StoredApiToken> Revoke(const std::string& token_id, absl::Time at,
                                                const AuditRecord& audit) = 0;
};

}  // namespace prov::server
