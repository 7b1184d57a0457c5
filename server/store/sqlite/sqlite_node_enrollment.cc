#include "server/store/sqlite/sqlite_node_enrollment.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/store/connection.h"
#include "server/store/schema.h"
#include "server/store/sqlite/sqlite_audit_log.h"
#include "server/store/transaction.h"

namespace prov::server {

absl::StatusOr<std::unique_ptr<SqliteNodeEnrollmentRepository>>
SqliteNodeEnrollmentRepository::Open(const std::string& db_path) {
  PROV_ASSIGN_OR_RETURN(auto db, OpenConnection(db_path, SqliteDb::kReadWrite));
  PROV_RETURN_IF_ERROR(MigrateSchema(*db));
  return std::unique_ptr<SqliteNodeEnrollmentRepository>(
      new SqliteNodeEnrollmentRepository(std::move(db)));
}

absl::StatusOr<bool> SqliteNodeEnrollmentRepository::Exists(const char* sql,
                                                            const std::string& key) {
  PROV_ASSIGN_OR_RETURN(Statement * st, db_->Cached(sql));
  st->BindText(1, key);
  absl::StatusOr<bool> row = st->Step();
  st->Reset();
  return row;
}

absl::Status SqliteNodeEnrollmentRepository::CreateToken(const StoredEnrollToken& token,
                                                         const AuditRecord& audit) {
  absl::MutexLock lock(&mu_);
  PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(*db_, Transaction::kWrite));
  PROV_ASSIGN_OR_RETURN(
      bool taken, Exists("SELECT 1 FROM node_enroll_tokens WHERE token_id = ?1", token.token_id));
  if (taken) {
    return absl::AlreadyExistsError(
        absl::StrCat("node_enroll_tokens: token_id ", token.token_id, " is taken"));
  }
  PROV_ASSIGN_OR_RETURN(
      Statement * st,
      db_->Cached("INSERT INTO node_enroll_tokens(token_id, secret_sha256, node_id, created_us, "
                  "created_by, expires_us) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
  st->BindText(1, token.token_id);
  st->BindText(2, token.secret_sha256);
  st->BindText(3, token.node_id);
  st->BindInt64(4, absl::ToUnixMicros(token.created_at));
  st->BindText(5, token.created_by);
  st->BindInt64(6, absl::ToUnixMicros(token.expires_at));
  absl::Status ran = st->Run();
  st->Reset();
  PROV_RETURN_IF_ERROR(ran);
  PROV_RETURN_IF_ERROR(
      AppendAuditEntry(*db_, audit.actor, audit.action, audit.payload, audit.at).status());
  return txn.Commit();
}

absl::StatusOr<std::optional<StoredEnrollToken>> SqliteNodeEnrollmentRepository::FindToken(
    const std::string& token_id) {
  absl::MutexLock lock(&mu_);
  PROV_ASSIGN_OR_RETURN(
      Statement * st,
      db_->Cached("SELECT token_id, secret_sha256, node_id, created_us, created_by, expires_us, "
                  "used_us, cert_serial FROM node_enroll_tokens WHERE token_id = ?1"));
  st->BindText(1, token_id);
  absl::StatusOr<bool> row = st->Step();
  std::optional<StoredEnrollToken> out;
  if (row.ok() && *row) {
    StoredEnrollToken t;
    t.token_id = st->ColumnText(0);
    t.secret_sha256 = st->ColumnText(1);
    t.node_id = st->ColumnText(2);
    t.created_at = absl::FromUnixMicros(st->ColumnInt64(3));
    t.created_by = st->ColumnText(4);
    t.expires_at = absl::FromUnixMicros(st->ColumnInt64(5));
    if (!st->ColumnIsNull(6)) t.used_at = absl::FromUnixMicros(st->ColumnInt64(6));
    if (!st->ColumnIsNull(7)) t.cert_serial = st->ColumnText(7);
    out = std::move(t);
  }
  st->Reset();
  PROV_RETURN_IF_ERROR(row.status());
  return out;
}

absl::Status SqliteNodeEnrollmentRepository::RecordCertificate(const StoredNodeCertificate& cert,
                                                               const std::string& token_id,
                                                               const AuditRecord& audit) {
  absl::MutexLock lock(&mu_);
  PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(*db_, Transaction::kWrite));
  if (!token_id.empty()) {
    PROV_ASSIGN_OR_RETURN(Statement * st,
                          db_->Cached("UPDATE node_enroll_tokens SET used_us = ?2, cert_serial = "
                                      "?3 WHERE token_id = ?1 AND used_us IS NULL"));
    st->BindText(1, token_id);
    st->BindInt64(2, absl::ToUnixMicros(cert.issued_at));
    st->BindText(3, cert.serial);
    absl::Status ran = st->Run();
    st->Reset();
    PROV_RETURN_IF_ERROR(ran);
    if (db_->Changes() != 1) {
      return absl::FailedPreconditionError(
          absl::StrCat("enrolment token ", token_id, " is used already"));
    }
  }
  PROV_ASSIGN_OR_RETURN(bool taken,
                        Exists("SELECT 1 FROM node_certificates WHERE serial = ?1", cert.serial));
  if (taken) {
    return absl::AlreadyExistsError(
        absl::StrCat("node_certificates: serial ", cert.serial, " is stored already"));
  }
  PROV_ASSIGN_OR_RETURN(Statement * st,
                        db_->Cached("INSERT INTO node_certificates(serial, node_id, issued_us, "
                                    "not_after_us, via) VALUES (?1, ?2, ?3, ?4, ?5)"));
  st->BindText(1, cert.serial);
  st->BindText(2, cert.node_id);
  st->BindInt64(3, absl::ToUnixMicros(cert.issued_at));
  st->BindInt64(4, absl::ToUnixMicros(cert.not_after));
  st->BindText(5, cert.via);
  absl::Status ran = st->Run();
  st->Reset();
  PROV_RETURN_IF_ERROR(ran);
  PROV_RETURN_IF_ERROR(
      AppendAuditEntry(*db_, audit.actor, audit.action, audit.payload, audit.at).status());
  return txn.Commit();
}

absl::StatusOr<std::vector<StoredNodeCertificate>> SqliteNodeEnrollmentRepository::ListCertificates(
    const std::string& node_id) {
  absl::MutexLock lock(&mu_);
  PROV_ASSIGN_OR_RETURN(
      auto st, db_->Prepare("SELECT serial, node_id, issued_us, not_after_us, via FROM "
                            "node_certificates WHERE node_id = ?1 ORDER BY issued_us, serial"));
  st->BindText(1, node_id);
  std::vector<StoredNodeCertificate> out;
  while (true) {
    PROV_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    out.push_back({st->ColumnText(0), st->ColumnText(1), absl::FromUnixMicros(st->ColumnInt64(2)),
                   absl::FromUnixMicros(st->ColumnInt64(3)), st->ColumnText(4)});
  }
  return out;
}

}  // namespace prov::server
