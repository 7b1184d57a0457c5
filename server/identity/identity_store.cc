// The free functions over a SqliteDb (their SQL: server/store/sqlite/sqlite_identity_sql.h) and
// the snapshot; screening lists, hits and policies are in identity_store_lists.cc.
#include "server/identity/identity_store.h"

#include "common/status_macros.h"
#include "server/store/sqlite/sqlite_identity_sql.h"

namespace prov::server {

using provenance::v1::AccountIdentity;

absl::StatusOr<KycImportSummary> ImportAccounts(SqliteDb& db, const kyc::KycParseResult& parsed,
                                                absl::string_view source, absl::string_view actor,
                                                absl::Time now,
                                                const std::function<bool()>& cancelled) {
  KycImportWrite write;
  write.accounts = &parsed.accounts;
  write.source = std::string(source);
  write.actor = std::string(actor);
  write.content_digest = parsed.content_digest;
  write.errors = static_cast<uint32_t>(parsed.errors.size());
  write.now = now;
  write.cancelled = cancelled;
  return sqlite_identity::InsertKyc(db, write);
}

absl::StatusOr<std::vector<AccountIdentity>> LoadCurrentAccounts(SqliteDb& db) {
  return sqlite_identity::CurrentAccounts(db);
}

absl::StatusOr<std::optional<StoredAccount>> LoadAccount(SqliteDb& db,
                                                         absl::string_view account_id) {
  return sqlite_identity::Account(db, account_id);
}

absl::StatusOr<std::optional<AccountIdentity>> LoadAccountVersion(SqliteDb& db,
                                                                  absl::string_view account_id,
                                                                  int64_t version) {
  return sqlite_identity::AccountVersion(db, account_id, version);
}

absl::StatusOr<int64_t> LatestKycVersion(SqliteDb& db) {
  return sqlite_identity::LatestKycVersion(db);
}

IdentitySnapshot ToIdentitySnapshot(IdentityRows rows) {
  IdentitySnapshot snapshot;
  snapshot.kyc_version = rows.kyc_version;
  snapshot.accounts =
      std::make_shared<const std::vector<AccountIdentity>>(std::move(rows.accounts));
  snapshot.screening_list_version = std::move(rows.screening_list_version);
  snapshot.screening = std::move(rows.hits);
  return snapshot;
}

absl::StatusOr<IdentitySnapshot> LoadIdentitySnapshot(SqliteDb& db) {
  PROV_ASSIGN_OR_RETURN(IdentityRows rows, sqlite_identity::Snapshot(db));
  return ToIdentitySnapshot(std::move(rows));
}

absl::StatusOr<IdentitySnapshot> LoadIdentitySnapshot(IdentityRepository& repo) {
  PROV_ASSIGN_OR_RETURN(IdentityRows rows, repo.Snapshot());
  return ToIdentitySnapshot(std::move(rows));
}

}  // namespace prov::server
