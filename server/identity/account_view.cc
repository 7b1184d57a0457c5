#include "server/identity/account_view.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/identity/identity_store.h"
#include "server/identity/store_util.h"
#include "server/store/transaction.h"

namespace prov::server {

absl::StatusOr<std::optional<provenance::v1::GetAccountResponse>> LoadAccountView(
    SqliteDb& db, absl::string_view account_id) {
  PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db, Transaction::kRead));
  provenance::v1::GetAccountResponse view;
  bool known = false;
  PROV_ASSIGN_OR_RETURN(std::optional<StoredAccount> account, LoadAccount(db, account_id));
  if (account.has_value()) {
    known = true;
    *view.mutable_identity() = std::move(account->identity);
    view.set_kyc_version(account->version);
  }
  PROV_ASSIGN_OR_RETURN(auto hits, LoadScreeningHits(db, account_id));
  known = known || !hits.empty();
  for (auto& hit : hits) *view.add_screening() = std::move(hit);
  {
    PROV_ASSIGN_OR_RETURN(auto st,
                          db.Prepare("SELECT bundle_id FROM bundle_accounts WHERE account_id = ?"));
    st->BindText(1, account_id);
    PROV_ASSIGN_OR_RETURN(bool row, st->Step());
    if (row) {
      known = true;
      view.set_bundle_id(st->ColumnText(0));
    }
  }
  {
    PROV_ASSIGN_OR_RETURN(auto st,
                          db.Prepare("SELECT f.flag_id, f.flag FROM flag_accounts a "
                                     "JOIN flags f ON f.flag_id = a.flag_id "
                                     "WHERE a.account_id = ? ORDER BY f.severity DESC, f.flag_id"));
    st->BindText(1, account_id);
    while (true) {
      PROV_ASSIGN_OR_RETURN(bool row, st->Step());
      if (!row) break;
      known = true;
      PROV_RETURN_IF_ERROR(ParseBlob(st->ColumnBlob(1), view.add_flags(),
                                     absl::StrCat("flags row ", st->ColumnText(0))));
    }
  }
  PROV_RETURN_IF_ERROR(txn.Commit());
  if (!known) return std::nullopt;
  if (!account.has_value()) view.mutable_identity()->set_account_id(std::string(account_id));
  return view;
}

}  // namespace prov::server
