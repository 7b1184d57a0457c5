#include "server/store/sqlite/sqlite_identity.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/store/connection.h"
#include "server/store/schema.h"
#include "server/store/sqlite/sqlite_audit_log.h"
#include "server/store/sqlite/sqlite_identity_sql.h"
#include "server/store/transaction.h"

namespace prov::server {
namespace {

absl::Status Append(SqliteDb& db, const AuditRecord& a) {
  return AppendAuditEntry(db, a.actor, a.action, a.payload, a.at).status();
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteIdentityRepository>> SqliteIdentityRepository::Open(
    const std::string& db_path, absl::Duration busy_timeout) {
  PROV_ASSIGN_OR_RETURN(auto db, OpenConnection(db_path, SqliteDb::kReadWrite, busy_timeout));
  absl::Status migrated = MigrateSchema(*db);
  if (!migrated.ok()) {
    return absl::Status(migrated.code(), absl::StrCat(db_path, ": ", migrated.message()));
  }
  return std::make_unique<SqliteIdentityRepository>(std::move(db));
}

absl::StatusOr<int64_t> SqliteIdentityRepository::LatestKycVersion() {
  absl::MutexLock lock(&mu_);
  return sqlite_identity::LatestKycVersion(*db_);
}

absl::StatusOr<std::vector<provenance::v1::AccountIdentity>>
SqliteIdentityRepository::CurrentAccounts() {
  absl::MutexLock lock(&mu_);
  return sqlite_identity::CurrentAccounts(*db_);
}

absl::StatusOr<std::optional<StoredAccount>> SqliteIdentityRepository::Account(
    absl::string_view account_id) {
  absl::MutexLock lock(&mu_);
  return sqlite_identity::Account(*db_, account_id);
}

absl::StatusOr<std::optional<provenance::v1::AccountIdentity>>
SqliteIdentityRepository::AccountVersion(absl::string_view account_id, int64_t version) {
  absl::MutexLock lock(&mu_);
  return sqlite_identity::AccountVersion(*db_, account_id, version);
}

absl::StatusOr<std::optional<ScreeningListInfo>>
SqliteIdentityRepository::LatestScreeningListInfo() {
  absl::MutexLock lock(&mu_);
  return sqlite_identity::LatestScreeningListInfo(*db_);
}

absl::StatusOr<std::optional<std::pair<ScreeningListInfo, std::string>>>
SqliteIdentityRepository::LatestScreeningListContent() {
  absl::MutexLock lock(&mu_);
  return sqlite_identity::LatestScreeningListContent(*db_);
}

absl::StatusOr<std::vector<provenance::v1::ScreeningMatch>> SqliteIdentityRepository::ScreeningHits(
    absl::string_view account_id) {
  absl::MutexLock lock(&mu_);
  return sqlite_identity::Hits(*db_, account_id);
}

absl::StatusOr<std::optional<StoredPolicy>> SqliteIdentityRepository::LatestPolicy() {
  absl::MutexLock lock(&mu_);
  return sqlite_identity::LatestPolicy(*db_);
}

absl::StatusOr<IdentityRows> SqliteIdentityRepository::Snapshot() {
  absl::MutexLock lock(&mu_);
  return sqlite_identity::Snapshot(*db_);
}

absl::StatusOr<std::optional<provenance::v1::GetAccountResponse>>
SqliteIdentityRepository::AccountView(absl::string_view account_id) {
  absl::MutexLock lock(&mu_);
  return sqlite_identity::AccountView(*db_, account_id);
}

absl::StatusOr<KycImportSummary> SqliteIdentityRepository::ImportKyc(const KycImportWrite& write) {
  absl::MutexLock lock(&mu_);
  SqliteDb& db = *db_;
  PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db, Transaction::kWrite));
  PROV_ASSIGN_OR_RETURN(KycImportSummary summary, sqlite_identity::InsertKyc(db, write));
  if (write.expected_version > 0 && summary.version != write.expected_version) {
    return absl::AbortedError(absl::StrCat("another writer imported KYC version ",
                                           summary.version - 1, " meanwhile; retry"));
  }
  if (write.hits != nullptr) {
    PROV_RETURN_IF_ERROR(sqlite_identity::ReplaceHits(
        db,
        {.hits = write.hits, .kyc_version = summary.version, .list_version = write.list_version},
        write.now));
  }
  if (write.audit) PROV_RETURN_IF_ERROR(Append(db, write.audit(summary)));
  if (write.cancelled && write.cancelled()) {
    return absl::CancelledError("import cancelled before commit; rolled back");
  }
  PROV_RETURN_IF_ERROR(txn.Commit());
  return summary;
}

absl::StatusOr<ScreeningListInfo> SqliteIdentityRepository::ImportScreeningList(
    const ScreeningListWrite& write) {
  absl::MutexLock lock(&mu_);
  SqliteDb& db = *db_;
  PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db, Transaction::kWrite));
  if (write.expected_kyc_version.has_value()) {
    PROV_ASSIGN_OR_RETURN(int64_t latest, sqlite_identity::LatestKycVersion(db));
    PROV_RETURN_IF_ERROR(CheckKycVersion(latest, *write.expected_kyc_version));
  }
  PROV_ASSIGN_OR_RETURN(ScreeningListInfo info, sqlite_identity::InsertScreeningList(db, write));
  if (write.hits.has_value()) {
    PROV_RETURN_IF_ERROR(sqlite_identity::ReplaceHits(db, *write.hits, write.now));
  }
  if (write.audit.has_value()) PROV_RETURN_IF_ERROR(Append(db, *write.audit));
  if (write.cancelled && write.cancelled()) {
    return absl::CancelledError("import cancelled before commit; rolled back");
  }
  PROV_RETURN_IF_ERROR(txn.Commit());
  return info;
}

absl::Status SqliteIdentityRepository::ReplaceScreeningHits(const HitsReplacement& hits,
                                                            absl::Time now) {
  absl::MutexLock lock(&mu_);
  return sqlite_identity::ReplaceHits(*db_, hits, now);
}

absl::StatusOr<int64_t> SqliteIdentityRepository::SavePolicy(
    absl::string_view version, absl::string_view source, absl::string_view yaml, absl::Time now,
    const std::optional<AuditRecord>& audit) {
  absl::MutexLock lock(&mu_);
  SqliteDb& db = *db_;
  PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db, Transaction::kWrite));
  PROV_ASSIGN_OR_RETURN(int64_t id, sqlite_identity::InsertPolicy(db, version, source, yaml, now));
  if (audit.has_value()) PROV_RETURN_IF_ERROR(Append(db, *audit));
  PROV_RETURN_IF_ERROR(txn.Commit());
  return id;
}

absl::Status SqliteIdentityRepository::DeletePolicy(int64_t id,
                                                    const std::optional<AuditRecord>& audit) {
  absl::MutexLock lock(&mu_);
  SqliteDb& db = *db_;
  PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db, Transaction::kWrite));
  PROV_RETURN_IF_ERROR(sqlite_identity::RemovePolicy(db, id));
  if (audit.has_value()) PROV_RETURN_IF_ERROR(Append(db, *audit));
  return txn.Commit();
}

}  // namespace prov::server
