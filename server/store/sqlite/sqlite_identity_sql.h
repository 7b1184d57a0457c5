// The identity domain's SQL on a SqliteDb (moved from server/identity/identity_store*.cc), shared
// by SqliteIdentityRepository (sqlite_identity.h) and the older free functions of
// server/identity/identity_store.h that take a SqliteDb.
//
//   PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db, Transaction::kWrite));
//   PROV_ASSIGN_OR_RETURN(KycImportSummary s, sqlite_identity::InsertKyc(db, write));
//   PROV_RETURN_IF_ERROR(sqlite_identity::ReplaceHits(db, hits, now));
//   PROV_RETURN_IF_ERROR(txn.Commit());
//
// Each function runs in ONE transaction on `db` (BEGIN IMMEDIATE for writes) or joins the one
// the caller has open. The writes here write rows only: no audit entry, no hits unless named
// (SqliteIdentityRepository composes them). Thread-compatible: one thread per SqliteDb at a time.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/store/repo/identity.h"
#include "server/store/sqlite.h"

namespace prov::server::sqlite_identity {

// kyc_imports, account_identities and accounts rows of `write` (its hits and audit are ignored).
absl::StatusOr<KycImportSummary> InsertKyc(SqliteDb& db, const KycImportWrite& write);
absl::StatusOr<std::vector<provenance::v1::AccountIdentity>> CurrentAccounts(SqliteDb& db);
absl::StatusOr<std::optional<StoredAccount>> Account(SqliteDb& db, absl::string_view account_id);
absl::StatusOr<std::optional<provenance::v1::AccountIdentity>> AccountVersion(
    SqliteDb& db, absl::string_view account_id, int64_t version);
absl::StatusOr<int64_t> LatestKycVersion(SqliteDb& db);

// The screening_lists row of `write` (its hits and audit are ignored).
absl::StatusOr<ScreeningListInfo> InsertScreeningList(SqliteDb& db,
                                                      const ScreeningListWrite& write);
absl::StatusOr<std::optional<ScreeningListInfo>> LatestScreeningListInfo(SqliteDb& db);
absl::StatusOr<std::optional<std::pair<ScreeningListInfo, std::string>>> LatestScreeningListContent(
    SqliteDb& db);
absl::Status ReplaceHits(SqliteDb& db, const HitsReplacement& hits, absl::Time now);
absl::StatusOr<std::vector<provenance::v1::ScreeningMatch>> Hits(SqliteDb& db,
                                                                 absl::string_view account_id);

absl::StatusOr<int64_t> InsertPolicy(SqliteDb& db, absl::string_view version,
                                     absl::string_view source, absl::string_view yaml,
                                     absl::Time now);
absl::Status RemovePolicy(SqliteDb& db, int64_t id);
absl::StatusOr<std::optional<StoredPolicy>> LatestPolicy(SqliteDb& db);

absl::StatusOr<IdentityRows> Snapshot(SqliteDb& db);
absl::StatusOr<std::optional<provenance::v1::GetAccountResponse>> AccountView(
    SqliteDb& db, absl::string_view account_id);

}  // namespace prov::server::sqlite_identity
