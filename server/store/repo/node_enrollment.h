// NodeEnrollmentRepository: one-time node enrolment tokens and the certificates provd's node CA
// issued (issue 10 §1; tables `node_enroll_tokens`, `node_certificates`, server/store/SCHEMA.md)
// on either engine: SqliteNodeEnrollmentRepository (server/store/sqlite/) or
// PgNodeEnrollmentRepository (server/store/pg/). tests/store/access_conformance_test.cc holds
// both to the same behaviour. Only the SHA-256 of a token's secret is stored.
//
//   PROV_RETURN_IF_ERROR(repo->CreateToken({.token_id = "E-1f..", .secret_sha256 = hash,
//                                           .node_id = "gpu-017", ...}, audit));
//   PROV_ASSIGN_OR_RETURN(std::optional<StoredEnrollToken> t, repo->FindToken("E-1f.."));
//   // marks the token used (once only), stores the certificate, appends the audit entry:
//   PROV_RETURN_IF_ERROR(repo->RecordCertificate({serial, "gpu-017", now, not_after, "token"},
//                                                "E-1f..", audit));
//
// Single use holds across connections and replicas: the token is marked used by a conditional
// UPDATE (used_us IS NULL) inside the transaction that stores the certificate, so of two
// enrolments racing with one token exactly one commits; the other gets FAILED_PRECONDITION and
// writes nothing. Implementations are thread-safe (one call at a time on their own connection).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/store/repo/audit_appender.h"

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
  bool operator==(const StoredEnrollToken&) const = default;
};

struct StoredNodeCertificate {
  std::string serial;  // hex
  std::string node_id;
  absl::Time issued_at;
  absl::Time not_after;
  std::string via;  // "token" (first enrolment) or "renewal"
  bool operator==(const StoredNodeCertificate&) const = default;
};

class NodeEnrollmentRepository {
 public:
  virtual ~NodeEnrollmentRepository() = default;
  // Stores an unused token with its audit entry, one transaction. ALREADY_EXISTS for a taken id.
  virtual absl::Status CreateToken(const StoredEnrollToken& token, const AuditRecord& audit) = 0;
  // nullopt when no token has this id.
  virtual absl::StatusOr<std::optional<StoredEnrollToken>> FindToken(
      const std::string& token_id) = 0;
  // One transaction: when `token_id` is not empty, marks that token used at cert.issued_at with
  // the certificate's serial (FAILED_PRECONDITION, nothing written, when it is used already or
  // missing); stores the certificate (ALREADY_EXISTS for a serial stored already); appends the
  // audit entry. An empty `token_id` is a renewal (no token).
  virtual absl::Status RecordCertificate(const StoredNodeCertificate& cert,
                                         const std::string& token_id, const AuditRecord& audit) = 0;
  // A node's certificates, oldest first (issued_at, then serial).
  virtual absl::StatusOr<std::vector<StoredNodeCertificate>> ListCertificates(
      const std::string& node_id) = 0;
};

}  // namespace prov::server
