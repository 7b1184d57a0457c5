// Everything provd knows about one account, for IdentityService.GetAccount: its current KYC record
// and version, its current screening hits, its bundle (bundle_accounts) and its flags
// (flag_accounts joined with flags; both tables are written by the analysis engine).
//
//   PROV_ASSIGN_OR_RETURN(std::optional<GetAccountResponse> view, LoadAccountView(db, "acme"));
//   if (!view) { /* unknown: no KYC record, no hit, no bundle, no flag */ }
//
// An account the agents attribute work to but that was never KYC-imported still has a view when
// the engine bundled or flagged it (identity empty, kyc_version 0). One read transaction. The
// reads are IdentityRepository::AccountView's (server/store/repo/identity.h), on either engine.
#pragma once

#include <optional>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "provenance/v1/analysis.pb.h"
#include "server/store/repo/identity.h"
#include "server/store/sqlite.h"

namespace prov::server {

absl::StatusOr<std::optional<provenance::v1::GetAccountResponse>> LoadAccountView(
    SqliteDb& db, absl::string_view account_id);
absl::StatusOr<std::optional<provenance::v1::GetAccountResponse>> LoadAccountView(
    IdentityRepository& repo, absl::string_view account_id);

}  // namespace prov::server
