// PgNodeEnrollmentRepository: node enrolment tokens and certificates (repo/node_enrollment.h),
// tables provd.node_enroll_tokens and provd.node_certificates, on PostgreSQL (pg_schema.cc version
// 6). Connection, transaction and reconnection rules: pg_access.h.
//
//   PROV_ASSIGN_OR_RETURN(auto repo, PgNodeEnrollmentRepository::Open(url.pg_conninfo));
//   PROV_RETURN_IF_ERROR(repo->RecordCertificate(cert, "E-1f..", audit));  // one replica wins
//
// Thread-safe (one call at a time under its mutex, on its own connection).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/store/pg/pg_conn.h"
#include "server/store/repo/node_enrollment.h"

namespace prov::server {

class PgNodeEnrollmentRepository : public NodeEnrollmentRepository {
 public:
  static absl::StatusOr<std::unique_ptr<PgNodeEnrollmentRepository>> Open(
      const std::string& conninfo, absl::Duration connect_timeout = absl::Seconds(10));

  absl::Status CreateToken(const StoredEnrollToken& token, const AuditRecord& audit) override;
  absl::StatusOr<std::optional<StoredEnrollToken>> FindToken(const std::string& token_id) override;
  absl::Status RecordCertificate(const StoredNodeCertificate& cert, const std::string& token_id,
                                 const AuditRecord& audit) override;
  absl::StatusOr<std::vector<StoredNodeCertificate>> ListCertificates(
      const std::string& node_id) override;

 private:
  explicit PgNodeEnrollmentRepository(std::unique_ptr<PgConn> conn) : conn_(std::move(conn)) {}
  absl::Mutex mu_;
  std::unique_ptr<PgConn> conn_ ABSL_GUARDED_BY(mu_);
};

}  // namespace prov::server
