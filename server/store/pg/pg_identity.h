// PgIdentityRepository: the identity records (repo/identity.h) in PostgreSQL, tables
// provd.kyc_imports, account_identities, accounts, screening_lists, screening_hits, policies
// (pg_schema.cc, PostgreSQL version 7).
//
//   PROV_ASSIGN_OR_RETURN(auto identity, PgIdentityRepository::Open(url.pg_conninfo));
//   PROV_ASSIGN_OR_RETURN(KycImportSummary s, identity->ImportKyc(write));
//   // or over a connection a factory opened (search_path provd, schema migrated):
//   auto identity = std::make_unique<PgIdentityRepository>(std::move(conn));
//
// Open connects (application_name provd/identity, search_path provd) and migrates the schema
// under the migration lock, as the other PostgreSQL repositories do, and keeps that connection.
// Writes: each is one READ COMMITTED transaction that first takes the transaction-level advisory
// lock (kPgLockKey, kPgIdentityLock) = (1347571542, 4), then reads what it builds on (the latest
// KYC version, the stored hits' first-found times), writes, and appends its audit entry last
// (AppendAuditEntry, pg_audit_log.h: the audit lock (1347571542, 1) is taken after this one). So
// two replicas importing KYC at once get versions N and N+1 in commit order, never a gap or a
// collision, and "latest" list / policy is the last committed (ids are identities, and only
// lock holders insert). Rows go in ONE statement per 1024 accounts (unnest of PgArray
// parameters), the cancel callback polled between them. The lock wait is bounded by the
// session's lock_timeout (UNAVAILABLE). Reconnection (server/store/README.md): reads reconnect a
// dropped session first and run once more on a new session when it was lost during the call;
// multi-table reads (Snapshot, AccountView, a list with its content) are one REPEATABLE READ READ
// ONLY transaction. Writes are never repeated (their COMMIT may have landed: a repeat would
// import a second version); they first make sure the session is alive (UsablePgSession) and a
// session lost in the middle fails UNAVAILABLE. Thread-safe (one call at a time under its mutex).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/store/pg/pg_conn.h"
#include "server/store/repo/identity.h"

namespace prov::server {

class PgIdentityRepository : public IdentityRepository {
 public:
  static absl::StatusOr<std::unique_ptr<PgIdentityRepository>> Open(
      const std::string& conninfo, absl::Duration connect_timeout = absl::Seconds(10));
  // On an open connection (search_path provd, schema migrated).
  explicit PgIdentityRepository(std::unique_ptr<PgConn> conn) : conn_(std::move(conn)) {}

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
  // One write transaction: UsablePgSession, BEGIN, the identity lock, `body`, COMMIT.
  absl::Status Write(absl::FunctionRef<absl::Status()> body) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  std::unique_ptr<PgConn> conn_ ABSL_GUARDED_BY(mu_);
};

}  // namespace prov::server
