#include "server/store/node_enrollment.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace prov::server {

absl::Status InsertEnrollToken(SqliteDb& db, const StoredEnrollToken& token) {
  PROV_ASSIGN_OR_RETURN(
      Statement * st,
      db.Cached("INSERT INTO node_enroll_tokens(token_id, secret_sha256, node_id, created_us, "
                "created_by, expires_us) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
  st->BindText(1, token.token_id);
  st->BindText(2, token.secret_sha256);
  st->BindText(3, token.node_id);
  st->BindInt64(4, absl::ToUnixMicros(token.created_at));
  st->BindText(5, token.created_by);
  st->BindInt64(6, absl::ToUnixMicros(token.expires_at));
  absl::Status ran = st->Run();
  st->Reset();
  return ran;
}

absl::StatusOr<std::optional<StoredEnrollToken>> FindEnrollToken(SqliteDb& db,
                                                                 const std::string& token_id) {
  PROV_ASSIGN_OR_RETURN(
      Statement * st,
      db.Cached("SELECT token_id, secret_sha256, node_id, created_us, created_by, expires_us, "
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

absl::Status MarkEnrollTokenUsed(SqliteDb& db, const std::string& token_id, absl::Time used_at,
                                 const std::string& cert_serial) {
  PROV_ASSIGN_OR_RETURN(Statement * st,
                        db.Cached("UPDATE node_enroll_tokens SET used_us = ?2, cert_serial = ?3 "
                                  "WHERE token_id = ?1 AND used_us IS NULL"));
  st->BindText(1, token_id);
  st->BindInt64(2, absl::ToUnixMicros(used_at));
  st->BindText(3, cert_serial);
  absl::Status ran = st->Run();
  st->Reset();
  PROV_RETURN_IF_ERROR(ran);
  if (db.Changes() != 1) {
    return absl::FailedPreconditionError(
        absl::StrCat("enrolment token ", token_id, " is used already"));
  }
  return absl::OkStatus();
}

absl::Status InsertNodeCertificate(SqliteDb& db, const StoredNodeCertificate& cert) {
  PROV_ASSIGN_OR_RETURN(Statement * st,
                        db.Cached("INSERT INTO node_certificates(serial, node_id, issued_us, "
                                  "not_after_us, via) VALUES (?1, ?2, ?3, ?4, ?5)"));
  st->BindText(1, cert.serial);
  st->BindText(2, cert.node_id);
  st->BindInt64(3, absl::ToUnixMicros(cert.issued_at));
  st->BindInt64(4, absl::ToUnixMicros(cert.not_after));
  st->BindText(5, cert.via);
  absl::Status ran = st->Run();
  st->Reset();
  return ran;
}

}  // namespace prov::server
