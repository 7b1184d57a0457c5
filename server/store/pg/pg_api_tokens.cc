#include "server/store/pg/pg_api_tokens.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/store/pg/pg_access.h"
#include "server/store/pg/pg_audit_log.h"
#include "server/store/pg/pg_schema.h"

namespace prov::server {
namespace {

constexpr char kTokenColumns[] =
    "token_id, name, role, secret_sha256, created_us, created_by, revoked_us, expires_us";

absl::StatusOr<StoredApiToken> TokenOf(const PgResult& r, int i) {
  StoredApiToken t;
  t.token_id = r.Text(i, 0);
  t.name = r.Text(i, 1);
  PROV_ASSIGN_OR_RETURN(t.role, r.Int64(i, 2));
  t.secret_sha256 = r.Text(i, 3);
  PROV_ASSIGN_OR_RETURN(int64_t created_us, r.Int64(i, 4));
  t.created_at = absl::FromUnixMicros(created_us);
  t.created_by = r.Text(i, 5);
  PROV_ASSIGN_OR_RETURN(int64_t revoked_us, r.Int64(i, 6));
  if (revoked_us != 0) t.revoked_at = absl::FromUnixMicros(revoked_us);
  PROV_ASSIGN_OR_RETURN(int64_t expires_us, r.Int64(i, 7));
  if (expires_us != 0) t.expires_at = absl::FromUnixMicros(expires_us);
  return t;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PgApiTokenRepository>> PgApiTokenRepository::Open(
    const std::string& conninfo, absl::Duration connect_timeout) {
  PROV_ASSIGN_OR_RETURN(auto conn, OpenPgAccessConn(conninfo, connect_timeout));
  return std::unique_ptr<PgApiTokenRepository>(new PgApiTokenRepository(std::move(conn)));
}

absl::StatusOr<std::vector<StoredApiToken>> PgApiTokenRepository::LoadAll() {
  absl::MutexLock lock(&mu_);
  PgConn& conn = *conn_;
  return RunWithReconnect(conn, [&]() -> absl::StatusOr<std::vector<StoredApiToken>> {
    PROV_ASSIGN_OR_RETURN(
        PgResult r,
        conn.Query(absl::StrCat("SELECT ", kTokenColumns, " FROM api_tokens ORDER BY token_id")));
    std::vector<StoredApiToken> out;
    out.reserve(static_cast<size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
      PROV_ASSIGN_OR_RETURN(StoredApiToken t, TokenOf(r, i));
      out.push_back(std::move(t));
    }
    return out;
  });
}

absl::StatusOr<int64_t> PgApiTokenRepository::Revision() {
  absl::MutexLock lock(&mu_);
  PgConn& conn = *conn_;
  return RunWithReconnect(conn, [&]() -> absl::StatusOr<int64_t> {
    PROV_ASSIGN_OR_RETURN(
        PgResult r, conn.Query("SELECT count(*) + count(NULLIF(revoked_us, 0)) FROM api_tokens"));
    return r.Int64(0, 0);
  });
}

absl::Status PgApiTokenRepository::InsertRow(const StoredApiToken& token,
                                             const AuditRecord& audit) {
  PgConn& conn = *conn_;
  // A taken token_id or hash fails 23505: ALREADY_EXISTS, and the transaction rolls back.
  PROV_RETURN_IF_ERROR(
      conn.Query(
              "INSERT INTO api_tokens(token_id, name, role, secret_sha256, created_us, "
              "created_by, expires_us) VALUES ($1, $2, $3, $4, $5, $6, $7)",
              {token.token_id, token.name, token.role, token.secret_sha256,
               absl::ToUnixMicros(token.created_at), token.created_by,
               token.expires_at.has_value() ? absl::ToUnixMicros(*token.expires_at) : int64_t{0}})
          .status());
  return AppendAuditEntry(conn, audit.actor, audit.action, audit.payload, audit.at).status();
}

absl::Status PgApiTokenRepository::Insert(const StoredApiToken& token, const AuditRecord& audit) {
  PROV_RETURN_IF_ERROR(CheckNewApiToken(token));
  absl::MutexLock lock(&mu_);
  PgConn& conn = *conn_;
  PROV_RETURN_IF_ERROR(UsablePgSession(conn));
  return conn.Transaction(
      [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status { return InsertRow(token, audit); });
}

absl::StatusOr<bool> PgApiTokenRepository::InsertIfRoleVacant(const StoredApiToken& token,
                                                              const AuditRecord& audit,
                                                              absl::Time now) {
  PROV_RETURN_IF_ERROR(CheckNewApiToken(token));
  absl::MutexLock lock(&mu_);
  PgConn& conn = *conn_;
  PROV_RETURN_IF_ERROR(UsablePgSession(conn));
  bool wrote = false;
  PROV_RETURN_IF_ERROR(conn.Transaction([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
    // Every caller takes this lock before it looks: a second look sees the first's commit.
    PROV_RETURN_IF_ERROR(
        conn.Query("SELECT pg_advisory_xact_lock($1::int, $2::int)", {kPgLockKey, kPgTokenLock})
            .status());
    PROV_ASSIGN_OR_RETURN(
        PgResult live, conn.Query("SELECT 1 FROM api_tokens WHERE role = $1 AND revoked_us = 0 AND "
                                  "(expires_us = 0 OR expires_us > $2) LIMIT 1",
                                  {token.role, absl::ToUnixMicros(now)}));
    if (live.rows() > 0) return absl::OkStatus();
    PROV_RETURN_IF_ERROR(InsertRow(token, audit));
    wrote = true;
    return absl::OkStatus();
  }));
  return wrote;
}

absl::StatusOr<StoredApiToken> PgApiTokenRepository::Revoke(const std::string& token_id,
                                                            absl::Time at,
                                                            const AuditRecord& audit) {
  absl::MutexLock lock(&mu_);
  PgConn& conn = *conn_;
  PROV_RETURN_IF_ERROR(UsablePgSession(conn));
  StoredApiToken stored;
  PROV_RETURN_IF_ERROR(conn.Transaction([&]() -> absl::Status {
    // Waits for a concurrent revoke of this row, then sees revoked_us set: changes nothing.
    PROV_ASSIGN_OR_RETURN(PgResult updated,
                          conn.Query("UPDATE api_tokens SET revoked_us = $1 WHERE token_id = $2 "
                                     "AND revoked_us = 0",
                                     {absl::ToUnixMicros(at), token_id}));
    PROV_ASSIGN_OR_RETURN(
        PgResult r,
        conn.Query(absl::StrCat("SELECT ", kTokenColumns, " FROM api_tokens WHERE token_id = $1"),
                   {token_id}));
    if (r.rows() == 0) return absl::NotFoundError(absl::StrCat("token_id: no token ", token_id));
    PROV_ASSIGN_OR_RETURN(stored, TokenOf(r, 0));
    if (updated.affected() != 1) return absl::OkStatus();
    return AppendAuditEntry(conn, audit.actor, audit.action, audit.payload, audit.at).status();
  }));
  return stored;
}

}  // namespace prov::server
