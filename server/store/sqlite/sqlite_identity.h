// SqliteIdentityRepository: the identity records (repo/identity.h) in provd.db, on a connection
// of its own (OpenConnection: WAL, busy_timeout). The SQL is sqlite_identity_sql.h's.
//
//   PROV_ASSIGN_OR_RETURN(auto identity, SqliteIdentityRepository::Open(data_dir + "/provd.db"));
//   PROV_ASSIGN_OR_RETURN(int64_t latest, identity->LatestKycVersion());
//   // a read-only one (GetAccount's reader), on a connection opened by the caller:
//   SqliteIdentityRepository reader(std::move(read_only_db));
//
// Open migrates the schema (a no-op once provd's store has). Writes run in one BEGIN IMMEDIATE
// transaction with their hits and audit entry (AppendAuditEntry, sqlite_audit_log.h): SQLite's
// write lock serialises them with every other writer of the file, so the KYC version rowid gives
// is the previous + 1 in commit order. Thread-safe (one call at a time under its mutex).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/store/repo/identity.h"
#include "server/store/sqlite.h"

namespace prov::server {

class SqliteIdentityRepository : public IdentityRepository {
 public:
  static absl::StatusOr<std::unique_ptr<SqliteIdentityRepository>> Open(
      const std::string& db_path, absl::Duration busy_timeout = absl::Seconds(10));
  // On an open connection (schema already migrated); read-only ones serve the reads only.
  explicit SqliteIdentityRepository(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}

  absl::StatusOr<int64_t> LatestKycVersion() override;
  absl::StatusOr<std::vector<provenance::v1::AccountIdentity>> CurrentAccounts() override;
  absl::StatusOr<std::optional<StoredAccount>> Account(absl::string_view account_id) override;
  absl::StatusOr<std::optional<provenance::v1::AccountIdentity>> AccountVersion(
      absl::string_view account_id, int64_t version) override;
  absl::StatusOr<std::optional<ScreeningListInfo>> LatestScreeningListInfo() override;
  absl::StatusOr<std::optional<std::pair<ScreeningListInfo, std::string>>>
  LatestScreeningListContent() override;
  absl::StatusOr<std::vector<provenance::v1::ScreeningMatch>> ScreeningHits(
      absl::string_view account_id) override;
  absl::StatusOr<std::optional<StoredPolicy>> LatestPolicy() override;
  absl::StatusOr<IdentityRows> Snapshot() override;
  absl::StatusOr<std::optional<provenance::v1::GetAccountResponse>> AccountView(
      absl::string_view account_id) override;

  absl::StatusOr<KycImportSummary> ImportKyc(const KycImportWrite& write) override;
  absl::StatusOr<ScreeningListInfo> ImportScreeningList(const ScreeningListWrite& write) override;
  absl::Status ReplaceScreeningHits(const HitsReplacement& hits, absl::Time now) override;
  absl::StatusOr<int64_t> SavePolicy(absl::string_view version, absl::string_view source,
                                     absl::string_view yaml, absl::Time now,
                                     const std::optional<AuditRecord>& audit) override;
  absl::Status DeletePolicy(int64_t id, const std::optional<AuditRecord>& audit) override;

 private:
  absl::Mutex mu_;
  std::unique_ptr<SqliteDb> db_ ABSL_GUARDED_BY(mu_);
};

}  // namespace prov::server
