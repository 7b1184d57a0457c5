#include "server/store/pg/pg_node_enrollment.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/store/pg/pg_access.h"
#include "server/store/pg/pg_audit_log.h"

namespace prov::server {

absl::StatusOr<std::unique_ptr<PgNodeEnrollmentRepository>> PgNodeEnrollmentRepository::Open(
    const std::string& conninfo, absl::Duration connect_timeout) {
  PROV_ASSIGN_OR_RETURN(auto conn, OpenPgAccessConn(conninfo, connect_timeout));
  return std::unique_ptr<PgNodeEnrollmentRepository>(
      new PgNodeEnrollmentRepository(std::move(conn)));
}

absl::Status PgNodeEnrollmentRepository::CreateToken(const StoredEnrollToken& token,
                                                     const AuditRecord& audit) {
  absl::MutexLock lock(&mu_);
  PgConn& conn = *conn_;
  PROV_RETURN_IF_ERROR(UsablePgSession(conn));
  return conn.Transaction([&]() -> absl::Status {
    PROV_RETURN_IF_ERROR(
        conn.Query("INSERT INTO node_enroll_tokens(token_id, secret_sha256, node_id, created_us, "
                   "created_by, expires_us) VALUES ($1, $2, $3, $4, $5, $6)",
                   {token.token_id, token.secret_sha256, token.node_id,
                    absl::ToUnixMicros(token.created_at), token.created_by,
                    absl::ToUnixMicros(token.expires_at)})
            .status());
    return AppendAuditEntry(conn, audit.actor, audit.action, audit.payload, audit.at).status();
  });
}

absl::StatusOr<std::optional<StoredEnrollToken>> PgNodeEnrollmentRepository::FindToken(
    const std::string& token_id) {
  absl::MutexLock lock(&mu_);
  PgConn& conn = *conn_;
  return RunWithReconnect(conn, [&]() -> absl::StatusOr<std::optional<StoredEnrollToken>> {
    PROV_ASSIGN_OR_RETURN(
        PgResult r,
        conn.Query("SELECT token_id, secret_sha256, node_id, created_us, created_by, expires_us, "
                   "used_us, cert_serial FROM node_enroll_tokens WHERE token_id = $1",
                   {token_id}));
    if (r.rows() == 0) return std::optional<StoredEnrollToken>();
    StoredEnrollToken t;
    t.token_id = r.Text(0, 0);
    t.secret_sha256 = r.Text(0, 1);
    t.node_id = r.Text(0, 2);
    PROV_ASSIGN_OR_RETURN(int64_t created_us, r.Int64(0, 3));
    t.created_at = absl::FromUnixMicros(created_us);
    t.created_by = r.Text(0, 4);
    PROV_ASSIGN_OR_RETURN(int64_t expires_us, r.Int64(0, 5));
    t.expires_at = absl::FromUnixMicros(expires_us);
    if (!r.IsNull(0, 6)) {
      PROV_ASSIGN_OR_RETURN(int64_t used_us, r.Int64(0, 6));
      t.used_at = absl::FromUnixMicros(used_us);
    }
    if (!r.IsNull(0, 7)) t.cert_serial = r.Text(0, 7);
    return std::optional<StoredEnrollToken>(std::move(t));
  });
}

absl::Status PgNodeEnrollmentRepository::RecordCertificate(const StoredNodeCertificate& cert,
                                                           const std::string& token_id,
                                                           const AuditRecord& audit) {
  absl::MutexLock lock(&mu_);
  PgConn& conn = *conn_;
  PROV_RETURN_IF_ERROR(UsablePgSession(conn));
  return conn.Transaction([&]() -> absl::Status {
    if (!token_id.empty()) {
      // Under READ COMMITTED a second session's UPDATE of this row waits for the first one's
      // transaction, then re-checks used_us IS NULL on the committed row: one of them wins.
      PROV_ASSIGN_OR_RETURN(
          PgResult used,
          conn.Query("UPDATE node_enroll_tokens SET used_us = $2, cert_serial = $3 WHERE "
                     "token_id = $1 AND used_us IS NULL",
                     {token_id, absl::ToUnixMicros(cert.issued_at), cert.serial}));
      if (used.affected() != 1) {
        return absl::FailedPreconditionError(
            absl::StrCat("enrolment token ", token_id, " is used already"));
      }
    }
    PROV_RETURN_IF_ERROR(
        conn.Query("INSERT INTO node_certificates(serial, node_id, issued_us, not_after_us, via) "
                   "VALUES ($1, $2, $3, $4, $5)",
                   {cert.serial, cert.node_id, absl::ToUnixMicros(cert.issued_at),
                    absl::ToUnixMicros(cert.not_after), cert.via})
            .status());
    return AppendAuditEntry(conn, audit.actor, audit.action, audit.payload, audit.at).status();
  });
}

absl::StatusOr<std::vector<StoredNodeCertificate>> PgNodeEnrollmentRepository::ListCertificates(
    const std::string& node_id) {
  absl::MutexLock lock(&mu_);
  PgConn& conn = *conn_;
  return RunWithReconnect(conn, [&]() -> absl::StatusOr<std::vector<StoredNodeCertificate>> {
    PROV_ASSIGN_OR_RETURN(
        PgResult r, conn.Query("SELECT serial, node_id, issued_us, not_after_us, via FROM "
                               "node_certificates WHERE node_id = $1 ORDER BY issued_us, serial",
                               {node_id}));
    std::vector<StoredNodeCertificate> out;
    out.reserve(static_cast<size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
      PROV_ASSIGN_OR_RETURN(int64_t issued_us, r.Int64(i, 2));
      PROV_ASSIGN_OR_RETURN(int64_t not_after_us, r.Int64(i, 3));
      out.push_back({r.Text(i, 0), r.Text(i, 1), absl::FromUnixMicros(issued_us),
                     absl::FromUnixMicros(not_after_us), r.Text(i, 4)});
    }
    return out;
  });
}

}  // namespace prov::server
