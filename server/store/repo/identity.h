// IdentityRepository: the identity records (KYC imports and accounts, screening lists and hits,
// policies; tables in server/store/SCHEMA.md) on either engine: SqliteIdentityRepository
// (server/store/sqlite/) or PgIdentityRepository (server/store/pg/). IdentityServiceImpl
// (server/identity/) parses, screens and calls this; tests/store/identity_conformance_test.cc
// holds both engines to the same behaviour.
//
//   PROV_ASSIGN_OR_RETURN(auto repo, SqliteIdentityRepository::Open(data_dir + "/provd.db"));
//   KycImportWrite w{.accounts = &parsed.accounts, .source = "accounts.csv", .actor = "alice",
//                    .content_digest = parsed.content_digest, .now = clock.Now(),
//                    .expected_version = latest + 1, .hits = &hits, .list_version = list};
//   w.audit = [&](const KycImportSummary& s) { return AuditRecord{...}; };
//   PROV_ASSIGN_OR_RETURN(KycImportSummary s, repo->ImportKyc(w));   // s.version == latest + 1
//   PROV_ASSIGN_OR_RETURN(IdentityRows rows, repo->Snapshot());      // provd start-up
//
// Every call is one transaction. The writes (ImportKyc, ImportScreeningList, SavePolicy,
// DeletePolicy) write their rows, replace the stored hits where they carry some, and append their
// audit entry in that one transaction, serialised with each other on the same database whichever
// connection or provd replica runs them (SQLite: BEGIN IMMEDIATE; PostgreSQL: the
// transaction-level advisory lock (kPgLockKey, kPgIdentityLock) taken before anything is read),
// so a KYC version is the previous one + 1 with no gap and "latest" is the last committed.
// A write that fails (its audit entry included) or is cancelled leaves nothing. An import adds
// and updates accounts; it never deletes one. Stored protobufs that no longer parse are
// DATA_LOSS naming the row. Implementations are thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "provenance/v1/analysis.pb.h"
#include "provenance/v1/identity.pb.h"
#include "server/store/repo/audit_appender.h"

namespace prov::server {

struct KycImportSummary {
  int64_t version = 0;
  uint32_t accepted = 0;
  uint32_t errors = 0;
  std::string content_digest;
};

struct StoredAccount {
  provenance::v1::AccountIdentity identity;
  int64_t version = 0;  // the KYC import this record came from
};

struct ScreeningListInfo {
  int64_t id = 0;
  std::string list_version;  // "csl-sha256:..."
  std::string source;
  std::string actor;
  int columns = 0;
  int entries = 0;
  absl::Time imported_at;
};

struct StoredPolicy {
  int64_t id = 0;
  std::string version;
  std::string source;
  std::string yaml;
  absl::Time loaded_at;
};

// What the analysis engine needs at start-up, read in one transaction.
struct IdentityRows {
  int64_t kyc_version = 0;                                // 0: no KYC import yet
  std::vector<provenance::v1::AccountIdentity> accounts;  // current, by account_id
  std::string screening_list_version;                     // empty: no list yet
  std::vector<provenance::v1::ScreeningMatch> hits;       // stored order
};

// The stored hits after a write: every stored hit is replaced by `hits`. A hit already stored
// (same account, subject and entry) keeps its original found_at_us; new ones get the write's time.
struct HitsReplacement {
  const std::vector<provenance::v1::ScreeningMatch>* hits = nullptr;  // required
  int64_t kyc_version = 0;
  std::string list_version;
};

struct KycImportWrite {
  const std::vector<provenance::v1::AccountIdentity>* accounts = nullptr;  // required
  std::string source;
  std::string actor;
  std::string content_digest;
  uint32_t errors = 0;  // row errors of the parse (counted in kyc_imports)
  absl::Time now;
  // > 0: the version this import must get (the caller screened against the accounts of
  // expected_version - 1); another one is ABORTED ("another writer imported ... meanwhile").
  int64_t expected_version = 0;
  // Optional: the hits to store with the import (their kyc_version is the import's).
  const std::vector<provenance::v1::ScreeningMatch>* hits = nullptr;
  std::string list_version;  // of `hits`
  // Optional: the audit entry, built from the summary (it names the assigned version).
  std::function<AuditRecord(const KycImportSummary&)> audit;
  // Optional: polled every 1024 accounts and before COMMIT; true: CANCELLED, rolled back.
  std::function<bool()> cancelled;
};

struct ScreeningListWrite {
  absl::string_view content;  // the list as published (stored raw)
  std::string list_version;
  int columns = 0;
  int entries = 0;
  std::string source;
  std::string actor;
  absl::Time now;
  std::optional<HitsReplacement> hits;  // the hits against this list
  // Set: the KYC version the hits were screened on; another latest version (another writer
  // imported meanwhile) is ABORTED, nothing written.
  std::optional<int64_t> expected_kyc_version;
  std::optional<AuditRecord> audit;
  std::function<bool()> cancelled;  // polled before COMMIT
};

class IdentityRepository {
 public:
  virtual ~IdentityRepository() = default;

  // 0 when nothing was imported yet.
  virtual absl::StatusOr<int64_t> LatestKycVersion() = 0;
  // Current accounts, by account_id.
  virtual absl::StatusOr<std::vector<provenance::v1::AccountIdentity>> CurrentAccounts() = 0;
  // The current record of one account, or nullopt.
  virtual absl::StatusOr<std::optional<StoredAccount>> Account(absl::string_view account_id) = 0;
  // The record of an account as imported in `version`, or nullopt (history).
  virtual absl::StatusOr<std::optional<provenance::v1::AccountIdentity>> AccountVersion(
      absl::string_view account_id, int64_t version) = 0;
  // The latest imported list's metadata, nullopt when none was imported.
  virtual absl::StatusOr<std::optional<ScreeningListInfo>> LatestScreeningListInfo() = 0;
  // The latest list's metadata and its raw content (identity_store.h re-parses it).
  virtual absl::StatusOr<std::optional<std::pair<ScreeningListInfo, std::string>>>
  LatestScreeningListContent() = 0;
  // Hits of one account (or of every account when `account_id` is empty), in stored order.
  virtual absl::StatusOr<std::vector<provenance::v1::ScreeningMatch>> ScreeningHits(
      absl::string_view account_id) = 0;
  virtual absl::StatusOr<std::optional<StoredPolicy>> LatestPolicy() = 0;
  // Latest KYC version, current accounts, latest list version and every hit, one snapshot.
  virtual absl::StatusOr<IdentityRows> Snapshot() = 0;
  // GetAccount's view (server/identity/account_view.h): the account's KYC record, hits, bundle
  // (bundle_accounts) and flags (flag_accounts joined with flags, severity descending then
  // flag_id); nullopt when none of them exists. One snapshot.
  virtual absl::StatusOr<std::optional<provenance::v1::GetAccountResponse>> AccountView(
      absl::string_view account_id) = 0;

  // A new KYC version (also with row errors: `errors` is counted), one account_identities row per
  // account, the accounts upserted, the hits replaced and the audit entry appended.
  // INVALID_ARGUMENT when `accounts` is null.
  virtual absl::StatusOr<KycImportSummary> ImportKyc(const KycImportWrite& write) = 0;
  // Stores the list (raw content and figures), replaces the hits, appends the audit entry.
  virtual absl::StatusOr<ScreeningListInfo> ImportScreeningList(
      const ScreeningListWrite& write) = 0;
  // Replaces the stored hits alone (a re-screening); no audit entry (none is recorded today).
  virtual absl::Status ReplaceScreeningHits(const HitsReplacement& hits, absl::Time now) = 0;
  // Stores a policy with its audit entry (optional); returns the new row's id.
  virtual absl::StatusOr<int64_t> SavePolicy(absl::string_view version, absl::string_view source,
                                             absl::string_view yaml, absl::Time now,
                                             const std::optional<AuditRecord>& audit) = 0;
  // Removes one saved policy (undoing a SavePolicy the analysis engine refused), with its audit
  // entry (optional).
  virtual absl::Status DeletePolicy(int64_t id, const std::optional<AuditRecord>& audit) = 0;
};

// OK when `latest` is `expected`; else ABORTED ("another writer imported KYC version ...").
absl::Status CheckKycVersion(int64_t latest, int64_t expected);

// Identifies one hit across re-screenings, to keep its first found_at (both engines).
std::string ScreeningHitKey(const provenance::v1::ScreeningMatch& hit);

}  // namespace prov::server
