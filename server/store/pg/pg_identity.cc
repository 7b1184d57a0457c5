#include "server/store/pg/pg_identity.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/store/pg/pg_access.h"
#include "server/store/pg/pg_audit_log.h"
#include "server/store/pg/pg_identity_sql.h"
#include "server/store/pg/pg_schema.h"
#include "server/store/repo/parse_blob.h"

namespace prov::server {
namespace {

using provenance::v1::AccountIdentity;
using provenance::v1::GetAccountResponse;
using provenance::v1::ScreeningMatch;

constexpr char kSnapshotBegin[] = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";

absl::Status Append(PgConn& conn, const AuditRecord& a) {
  return AppendAuditEntry(conn, a.actor, a.action, a.payload, a.at).status();
}

absl::StatusOr<std::optional<GetAccountResponse>> ViewOnce(PgConn& conn,
                                                           absl::string_view account_id) {
  GetAccountResponse view;
  bool known = false;
  PROV_ASSIGN_OR_RETURN(std::optional<StoredAccount> account,
                        pg_identity::Account(conn, account_id));
  if (account.has_value()) {
    known = true;
    *view.mutable_identity() = std::move(account->identity);
    view.set_kyc_version(account->version);
  }
  PROV_ASSIGN_OR_RETURN(std::vector<ScreeningMatch> hits, pg_identity::Hits(conn, account_id));
  known = known || !hits.empty();
  for (auto& hit : hits) *view.add_screening() = std::move(hit);
  PROV_ASSIGN_OR_RETURN(
      PgResult bundle,
      conn.Query("SELECT bundle_id FROM bundle_accounts WHERE account_id = $1", {account_id}));
  if (bundle.rows() > 0) {
    known = true;
    view.set_bundle_id(bundle.Text(0, 0));
  }
  PROV_ASSIGN_OR_RETURN(PgResult flags,
                        conn.Query("SELECT f.flag_id, f.flag FROM flag_accounts a "
                                   "JOIN flags f ON f.flag_id = a.flag_id "
                                   "WHERE a.account_id = $1 ORDER BY f.severity DESC, f.flag_id",
                                   {account_id}));
  for (int i = 0; i < flags.rows(); ++i) {
    known = true;
    PROV_ASSIGN_OR_RETURN(std::string blob, flags.Bytes(i, 1));
    PROV_RETURN_IF_ERROR(
        ParseBlob(blob, view.add_flags(), absl::StrCat("flags row ", flags.Text(i, 0))));
  }
  if (!known) return std::nullopt;
  if (!account.has_value()) view.mutable_identity()->set_account_id(std::string(account_id));
  return view;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PgIdentityRepository>> PgIdentityRepository::Open(
    const std::string& conninfo, absl::Duration connect_timeout) {
  PgConnOptions options{.connect_timeout = connect_timeout,
                        .application_name = "provd/identity",
                        .search_path = kPgSchema};
  PROV_ASSIGN_OR_RETURN(auto conn, PgConn::Connect(conninfo, options));
  PROV_RETURN_IF_ERROR(MigratePgSchema(*conn));
  return std::make_unique<PgIdentityRepository>(std::move(conn));
}

absl::StatusOr<int64_t> PgIdentityRepository::LatestKycVersion() {
  absl::MutexLock lock(&mu_);
  PgConn& conn = *conn_;
  return RunWithReconnect(conn, [&] { return pg_identity::LatestKycVersion(conn); });
}

absl::StatusOr<std::vector<AccountIdentity>> PgIdentityRepository::CurrentAccounts() {
  absl::MutexLock lock(&mu_);
  PgConn& conn = *conn_;
  return RunWithReconnect(conn, [&] { return pg_identity::CurrentAccounts(conn); });
}

absl::StatusOr<std::optional<StoredAccount>> PgIdentityRepository::Account(
    absl::string_view account_id) {
  absl::MutexLock lock(&mu_);
  PgConn& conn = *conn_;
  return RunWithReconnect(conn, [&] { return pg_identity::Account(conn, account_id); });
}

absl::StatusOr<std::optional<AccountIdentity>> PgIdentityRepository::AccountVersion(
    absl::string_view account_id, int64_t version) {
  absl::MutexLock lock(&mu_);
  PgConn& conn = *conn_;
  return RunWithReconnect(conn, [&]() -> absl::StatusOr<std::optional<AccountIdentity>> {
    PROV_ASSIGN_OR_RETURN(PgResult r, conn.Query("SELECT identity FROM account_identities "
                                                 "WHERE account_id = $1 AND version = $2",
                                                 {account_id, version}));
    if (r.rows() == 0) return std::nullopt;
    AccountIdentity out;
    PROV_ASSIGN_OR_RETURN(std::string blob, r.Bytes(0, 0));
    PROV_RETURN_IF_ERROR(ParseBlob(
        blob, &out, absl::StrCat("account_identities row ", account_id, " version ", version)));
    return out;
  });
}

absl::StatusOr<std::optional<ScreeningListInfo>> PgIdentityRepository::LatestScreeningListInfo() {
  absl::MutexLock lock(&mu_);
  PgConn& conn = *conn_;
  return RunWithReconnect(conn, [&] { return pg_identity::LatestScreeningListInfo(conn); });
}

absl::StatusOr<std::optional<std::pair<ScreeningListInfo, std::string>>>
PgIdentityRepository::LatestScreeningListContent() {
  absl::MutexLock lock(&mu_);
  PgConn& conn = *conn_;
  return RunWithReconnect(conn, [&] { return pg_identity::LatestScreeningListContent(conn); });
}

absl::StatusOr<std::vector<ScreeningMatch>> PgIdentityRepository::ScreeningHits(
    absl::string_view account_id) {
  absl::MutexLock lock(&mu_);
  PgConn& conn = *conn_;
  return RunWithReconnect(conn, [&] { return pg_identity::Hits(conn, account_id); });
}

absl::StatusOr<std::optional<StoredPolicy>> PgIdentityRepository::LatestPolicy() {
  absl::MutexLock lock(&mu_);
  PgConn& conn = *conn_;
  return RunWithReconnect(conn, [&] { return pg_identity::LatestPolicy(conn); });
}

absl::StatusOr<IdentityRows> PgIdentityRepository::Snapshot() {
  absl::MutexLock lock(&mu_);
  PgConn& conn = *conn_;
  return RunWithReconnect(conn, [&]() -> absl::StatusOr<IdentityRows> {
    IdentityRows rows;
    PROV_RETURN_IF_ERROR(conn.Transaction(
        [&]() -> absl::Status {
          PROV_ASSIGN_OR_RETURN(rows.kyc_version, pg_identity::LatestKycVersion(conn));
          PROV_ASSIGN_OR_RETURN(rows.accounts, pg_identity::CurrentAccounts(conn));
          PROV_ASSIGN_OR_RETURN(std::optional<ScreeningListInfo> list,
                                pg_identity::LatestScreeningListInfo(conn));
          if (list.has_value()) rows.screening_list_version = list->list_version;
          PROV_ASSIGN_OR_RETURN(rows.hits, pg_identity::Hits(conn, ""));
          return absl::OkStatus();
        },
        kSnapshotBegin));
    return rows;
  });
}

absl::StatusOr<std::optional<GetAccountResponse>> PgIdentityRepository::AccountView(
    absl::string_view account_id) {
  absl::MutexLock lock(&mu_);
  PgConn& conn = *conn_;
  return RunWithReconnect(conn, [&]() -> absl::StatusOr<std::optional<GetAccountResponse>> {
    std::optional<GetAccountResponse> view;
    PROV_RETURN_IF_ERROR(conn.Transaction(
        [&]() -> absl::Status {
          PROV_ASSIGN_OR_RETURN(view, ViewOnce(conn, account_id));
          return absl::OkStatus();
        },
        kSnapshotBegin));
    return view;
  });
}

absl::Status PgIdentityRepository::Write(absl::FunctionRef<absl::Status()> body) {
  PgConn& conn = *conn_;
  PROV_RETURN_IF_ERROR(UsablePgSession(conn));
  return conn.Transaction(
      [&]() -> absl::Status {
        PROV_RETURN_IF_ERROR(conn.Query("SELECT pg_advisory_xact_lock($1::int, $2::int)",
                                        {kPgLockKey, kPgIdentityLock})
                                 .status());
        return body();
      },
      "BEGIN ISOLATION LEVEL READ COMMITTED");  // the lock before the read: see the header
}

absl::StatusOr<KycImportSummary> PgIdentityRepository::ImportKyc(const KycImportWrite& write) {
  if (write.accounts == nullptr) return absl::InvalidArgumentError("KYC import: no accounts given");
  absl::MutexLock lock(&mu_);
  PgConn& conn = *conn_;
  KycImportSummary summary;
  PROV_RETURN_IF_ERROR(Write([&]() -> absl::Status {
    // Under the identity lock: the latest version read here is the last committed one.
    PROV_ASSIGN_OR_RETURN(int64_t latest, pg_identity::LatestKycVersion(conn));
    if (write.expected_version > 0 && latest + 1 != write.expected_version) {
      return absl::AbortedError(
          absl::StrCat("another writer imported KYC version ", latest, " meanwhile; retry"));
    }
    PROV_ASSIGN_OR_RETURN(summary, pg_identity::InsertKyc(conn, write, latest + 1));
    if (write.hits != nullptr) {
      PROV_RETURN_IF_ERROR(pg_identity::ReplaceHits(
          conn,
          {.hits = write.hits, .kyc_version = summary.version, .list_version = write.list_version},
          write.now));
    }
    if (write.audit) PROV_RETURN_IF_ERROR(Append(conn, write.audit(summary)));
    if (write.cancelled && write.cancelled()) {
      return absl::CancelledError("import cancelled before commit; rolled back");
    }
    return absl::OkStatus();
  }));
  return summary;
}

absl::StatusOr<ScreeningListInfo> PgIdentityRepository::ImportScreeningList(
    const ScreeningListWrite& write) {
  absl::MutexLock lock(&mu_);
  PgConn& conn = *conn_;
  ScreeningListInfo info;
  PROV_RETURN_IF_ERROR(Write([&]() -> absl::Status {
    if (write.expected_kyc_version.has_value()) {
      PROV_ASSIGN_OR_RETURN(int64_t latest, pg_identity::LatestKycVersion(conn));
      PROV_RETURN_IF_ERROR(CheckKycVersion(latest, *write.expected_kyc_version));
    }
    PROV_ASSIGN_OR_RETURN(info, pg_identity::InsertScreeningList(conn, write));
    if (write.hits.has_value()) {
      PROV_RETURN_IF_ERROR(pg_identity::ReplaceHits(conn, *write.hits, write.now));
    }
    if (write.audit.has_value()) PROV_RETURN_IF_ERROR(Append(conn, *write.audit));
    if (write.cancelled && write.cancelled()) {
      return absl::CancelledError("import cancelled before commit; rolled back");
    }
    return absl::OkStatus();
  }));
  return info;
}

absl::Status PgIdentityRepository::ReplaceScreeningHits(const HitsReplacement& hits,
                                                        absl::Time now) {
  if (hits.hits == nullptr) return absl::InvalidArgumentError("hits: none given");
  absl::MutexLock lock(&mu_);
  PgConn& conn = *conn_;
  return Write([&] { return pg_identity::ReplaceHits(conn, hits, now); });
}

absl::StatusOr<int64_t> PgIdentityRepository::SavePolicy(absl::string_view version,
                                                         absl::string_view source,
                                                         absl::string_view yaml, absl::Time now,
                                                         const std::optional<AuditRecord>& audit) {
  absl::MutexLock lock(&mu_);
  PgConn& conn = *conn_;
  int64_t id = 0;
  PROV_RETURN_IF_ERROR(Write([&]() -> absl::Status {
    PROV_ASSIGN_OR_RETURN(PgResult r,
                          conn.Query("INSERT INTO policies(policy_version, source, loaded_at_us, "
                                     "yaml) VALUES ($1, $2, $3, $4) RETURNING id",
                                     {version, source, absl::ToUnixMicros(now), yaml}));
    PROV_ASSIGN_OR_RETURN(id, r.Int64(0, 0));
    if (audit.has_value()) PROV_RETURN_IF_ERROR(Append(conn, *audit));
    return absl::OkStatus();
  }));
  return id;
}

absl::Status PgIdentityRepository::DeletePolicy(int64_t id,
                                                const std::optional<AuditRecord>& audit) {
  absl::MutexLock lock(&mu_);
  PgConn& conn = *conn_;
  return Write([&]() -> absl::Status {
    PROV_RETURN_IF_ERROR(conn.Query("DELETE FROM policies WHERE id = $1", {id}).status());
    if (audit.has_value()) PROV_RETURN_IF_ERROR(Append(conn, *audit));
    return absl::OkStatus();
  });
}

}  // namespace prov::server
