#include "server/identity/account_view.h"

#include "server/store/sqlite/sqlite_identity_sql.h"

namespace prov::server {

absl::StatusOr<std::optional<provenance::v1::GetAccountResponse>> LoadAccountView(
    SqliteDb& db, absl::string_view account_id) {
  return sqlite_identity::AccountView(db, account_id);
}

absl::StatusOr<std::optional<provenance::v1::GetAccountResponse>> LoadAccountView(
    IdentityRepository& repo, absl::string_view account_id) {
  return repo.AccountView(account_id);
}

}  // namespace prov::server
