// Node enrolment (issue 10 §1), tables `node_enroll_tokens` and `node_certificates` (SCHEMA.md,
// version 11). Only the SHA-256 of a token's secret is stored.
//
//   PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db, Transaction::kWrite));
//   PROV_RETURN_IF_ERROR(InsertEnrollToken(db, {.token_id = "E-1f..", .secret_sha256 = hash,
//                                               .node_id = "gpu-017", ...}));
//   PROV_ASSIGN_OR_RETURN(std::optional<StoredEnrollToken> t, FindEnrollToken(db, "E-1f.."));
//   PROV_RETURN_IF_ERROR(MarkEnrollTokenUsed(db, "E-1f..", now, serial));  // once only
//   PROV_RETURN_IF_ERROR(InsertNodeCertificate(db, {serial, "gpu-017", now, not_after, "token"}));
//   txn.Commit();
//
// Thread-compatible: the caller owns the connection.
#pragma once

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/store/sqlite.h"

namespace prov::server {

struct StoredEnrollToken {
  std::string token_id;
  std::string secret_sha256;  // lowercase hex
  std::string node_id;
  absl::Time created_at;
  std::string created_by;
  absl::Time expires_at;
  std::optional<absl::Time> used_at;  // set once, by the enrolment that used it
  std::string cert_serial;            // the certificate issued with it (hex); empty while unused
};

struct StoredNodeCertificate {
  std::string serial;  // hex
  std::string node_id;
  absl::Time issued_at;
  absl::Time not_after;
  std::string via;  // "token" (first enrolment) or "renewal"
};

absl::Status InsertEnrollToken(SqliteDb& db, const StoredEnrollToken& token);
// nullopt when no token has this id.
absl::StatusOr<std::optional<StoredEnrollToken>> FindEnrollToken(SqliteDb& db,
                                                                 const std::string& token_id);
// FAILED_PRECONDITION when the token is used already (or missing): a token enrols once.
absl::Status MarkEnrollTokenUsed(SqliteDb& db, const std::string& token_id, absl::Time used_at,
                                 const std::string& cert_serial);
absl::Status InsertNodeCertificate(SqliteDb& db, const StoredNodeCertificate& cert);

}  // namespace prov::server
