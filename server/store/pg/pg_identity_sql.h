// The identity domain's SQL on a PgConn, shared by pg_identity.cc (the repository) and
// pg_identity_lists.cc: each runs on the caller's connection, inside the caller's transaction
// when one is open (the repository holds the identity lock there for the writes).
//
//   PROV_ASSIGN_OR_RETURN(std::vector<ScreeningMatch> hits, pg_identity::Hits(conn, ""));
//
// Thread-compatible (the caller's connection).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/store/pg/pg_conn.h"
#include "server/store/repo/identity.h"

namespace prov::server::pg_identity {

absl::StatusOr<int64_t> LatestKycVersion(PgConn& conn);
absl::StatusOr<std::vector<provenance::v1::AccountIdentity>> CurrentAccounts(PgConn& conn);
absl::StatusOr<std::optional<StoredAccount>> Account(PgConn& conn, absl::string_view account_id);
// The kyc_imports row as version `version` and the account rows (hits and audit not written).
absl::StatusOr<KycImportSummary> InsertKyc(PgConn& conn, const KycImportWrite& write,
                                           int64_t version);

absl::StatusOr<std::optional<ScreeningListInfo>> LatestScreeningListInfo(PgConn& conn);
absl::StatusOr<std::optional<std::pair<ScreeningListInfo, std::string>>> LatestScreeningListContent(
    PgConn& conn);
absl::StatusOr<ScreeningListInfo> InsertScreeningList(PgConn& conn,
                                                      const ScreeningListWrite& write);
absl::Status ReplaceHits(PgConn& conn, const HitsReplacement& hits, absl::Time now);
absl::StatusOr<std::vector<provenance::v1::ScreeningMatch>> Hits(PgConn& conn,
                                                                 absl::string_view account_id);
absl::StatusOr<std::optional<StoredPolicy>> LatestPolicy(PgConn& conn);

}  // namespace prov::server::pg_identity
