// Accounts, KYC versions, the snapshot and the account view; screening lists, hits and policies
// are in sqlite_identity_lists_sql.cc.
#include "server/store/sqlite/sqlite_identity_sql.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/store/repo/parse_blob.h"
#include "server/store/transaction.h"

namespace prov::server::sqlite_identity {

using provenance::v1::AccountIdentity;

absl::StatusOr<KycImportSummary> InsertKyc(SqliteDb& db, const KycImportWrite& write) {
  if (write.accounts == nullptr) return absl::InvalidArgumentError("KYC import: no accounts given");
  PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db, Transaction::kWrite));
  KycImportSummary summary;
  summary.accepted = static_cast<uint32_t>(write.accounts->size());
  summary.errors = write.errors;
  summary.content_digest = write.content_digest;
  {
    PROV_ASSIGN_OR_RETURN(Statement * st,
                          db.Cached("INSERT INTO kyc_imports(imported_at_us, source, actor, "
                                    "content_digest, accepted, errors) VALUES (?, ?, ?, ?, ?, ?)"));
    st->BindInt64(1, absl::ToUnixMicros(write.now));
    st->BindText(2, write.source);
    st->BindText(3, write.actor);
    st->BindText(4, write.content_digest);
    st->BindInt64(5, summary.accepted);
    st->BindInt64(6, summary.errors);
    PROV_RETURN_IF_ERROR(st->Run());
    summary.version = db.LastInsertRowId();
  }
  PROV_ASSIGN_OR_RETURN(
      Statement * history,
      db.Cached("INSERT INTO account_identities(account_id, version, identity) VALUES (?, ?, ?)"));
  PROV_ASSIGN_OR_RETURN(
      Statement * current,
      db.Cached("INSERT INTO accounts(account_id, version, legal_entity, country, parent_account, "
                "identity) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(account_id) DO UPDATE SET "
                "version = ?2, legal_entity = ?3, country = ?4, parent_account = ?5, "
                "identity = ?6"));
  size_t written = 0;
  for (const AccountIdentity& account : *write.accounts) {
    if (write.cancelled && ++written % 1024 == 0 && write.cancelled()) {
      return absl::CancelledError(absl::StrCat("import cancelled while writing (", written, " of ",
                                               write.accounts->size(), " accounts); rolled back"));
    }
    std::string blob = account.SerializeAsString();
    history->BindText(1, account.account_id());
    history->BindInt64(2, summary.version);
    history->BindBlob(3, blob);
    PROV_RETURN_IF_ERROR(history->Run());
    current->BindText(1, account.account_id());
    current->BindInt64(2, summary.version);
    current->BindText(3, account.legal_entity());
    current->BindText(4, account.country_of_incorporation());
    current->BindText(5, account.parent_account());
    current->BindBlob(6, blob);
    PROV_RETURN_IF_ERROR(current->Run());
  }
  PROV_RETURN_IF_ERROR(txn.Commit());
  return summary;
}

absl::StatusOr<std::vector<AccountIdentity>> CurrentAccounts(SqliteDb& db) {
  PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db, Transaction::kRead));
  PROV_ASSIGN_OR_RETURN(
      auto st, db.Prepare("SELECT account_id, identity FROM accounts ORDER BY account_id"));
  std::vector<AccountIdentity> accounts;
  while (true) {
    PROV_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    AccountIdentity account;
    PROV_RETURN_IF_ERROR(
        ParseBlob(st->ColumnBlob(1), &account, absl::StrCat("accounts row ", st->ColumnText(0))));
    accounts.push_back(std::move(account));
  }
  st.reset();
  PROV_RETURN_IF_ERROR(txn.Commit());
  return accounts;
}

absl::StatusOr<std::optional<StoredAccount>> Account(SqliteDb& db, absl::string_view account_id) {
  PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db, Transaction::kRead));
  PROV_ASSIGN_OR_RETURN(auto st,
                        db.Prepare("SELECT version, identity FROM accounts WHERE account_id = ?"));
  st->BindText(1, account_id);
  PROV_ASSIGN_OR_RETURN(bool row, st->Step());
  std::optional<StoredAccount> out;
  if (row) {
    out.emplace();
    out->version = st->ColumnInt64(0);
    PROV_RETURN_IF_ERROR(
        ParseBlob(st->ColumnBlob(1), &out->identity, absl::StrCat("accounts row ", account_id)));
  }
  st.reset();
  PROV_RETURN_IF_ERROR(txn.Commit());
  return out;
}

absl::StatusOr<std::optional<AccountIdentity>> AccountVersion(SqliteDb& db,
                                                              absl::string_view account_id,
                                                              int64_t version) {
  PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db, Transaction::kRead));
  PROV_ASSIGN_OR_RETURN(
      auto st,
      db.Prepare("SELECT identity FROM account_identities WHERE account_id = ? AND version = ?"));
  st->BindText(1, account_id);
  st->BindInt64(2, version);
  PROV_ASSIGN_OR_RETURN(bool row, st->Step());
  std::optional<AccountIdentity> out;
  if (row) {
    out.emplace();
    PROV_RETURN_IF_ERROR(
        ParseBlob(st->ColumnBlob(0), &*out,
                  absl::StrCat("account_identities row ", account_id, " version ", version)));
  }
  st.reset();
  PROV_RETURN_IF_ERROR(txn.Commit());
  return out;
}

absl::StatusOr<int64_t> LatestKycVersion(SqliteDb& db) {
  PROV_ASSIGN_OR_RETURN(auto st, db.Prepare("SELECT COALESCE(MAX(version), 0) FROM kyc_imports"));
  PROV_ASSIGN_OR_RETURN(bool row, st->Step());
  return row ? st->ColumnInt64(0) : 0;
}

absl::StatusOr<IdentityRows> Snapshot(SqliteDb& db) {
  PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db, Transaction::kRead));
  IdentityRows rows;
  PROV_ASSIGN_OR_RETURN(rows.kyc_version, LatestKycVersion(db));
  PROV_ASSIGN_OR_RETURN(rows.accounts, CurrentAccounts(db));
  PROV_ASSIGN_OR_RETURN(std::optional<ScreeningListInfo> list, LatestScreeningListInfo(db));
  if (list.has_value()) rows.screening_list_version = list->list_version;
  PROV_ASSIGN_OR_RETURN(rows.hits, Hits(db, ""));
  PROV_RETURN_IF_ERROR(txn.Commit());
  return rows;
}

absl::StatusOr<std::optional<provenance::v1::GetAccountResponse>> AccountView(
    SqliteDb& db, absl::string_view account_id) {
  PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db, Transaction::kRead));
  provenance::v1::GetAccountResponse view;
  bool known = false;
  PROV_ASSIGN_OR_RETURN(std::optional<StoredAccount> account, Account(db, account_id));
  if (account.has_value()) {
    known = true;
    *view.mutable_identity() = std::move(account->identity);
    view.set_kyc_version(account->version);
  }
  PROV_ASSIGN_OR_RETURN(auto hits, Hits(db, account_id));
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

}  // namespace prov::server::sqlite_identity
