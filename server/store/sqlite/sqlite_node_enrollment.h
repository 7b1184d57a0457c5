// SqliteNodeEnrollmentRepository: enrolment tokens and node certificates
// (repo/node_enrollment.h) in provd's SQLite file, tables `node_enroll_tokens` and
// `node_certificates` (SCHEMA.md, version 11). The SQL formerly in server/store/node_enrollment.cc.
//
//   PROV_ASSIGN_OR_RETURN(auto repo, SqliteNodeEnrollmentRepository::Open(data_dir + "/provd.db"));
//   PROV_ASSIGN_OR_RETURN(auto t, repo->FindToken("E-1f.."));
//
// Open migrates the schema on a read-write connection of its own. Writes run in BEGIN IMMEDIATE
// transactions with their audit entry. Thread-safe (one call at a time under its mutex).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "server/store/repo/node_enrollment.h"
#include "server/store/sqlite.h"

namespace prov::server {

class SqliteNodeEnrollmentRepository : public NodeEnrollmentRepository {
 public:
  static absl::StatusOr<std::unique_ptr<SqliteNodeEnrollmentRepository>> Open(
      const std::string& db_path);

  absl::Status CreateToken(const StoredEnrollToken& token, const AuditRecord& audit) override;
  absl::StatusOr<std::optional<StoredEnrollToken>> FindToken(const std::string& token_id) override;
  absl::Status RecordCertificate(const StoredNodeCertificate& cert, const std::string& token_id,
                                 const AuditRecord& audit) override;
  absl::StatusOr<std::vector<StoredNodeCertificate>> ListCertificates(
      const std::string& node_id) override;

 private:
  explicit SqliteNodeEnrollmentRepository(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}
  // Whether `sql` (one ?1 parameter) finds a row.
  absl::StatusOr<bool> Exists(const char* sql, const std::string& key)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  std::unique_ptr<SqliteDb> db_ ABSL_GUARDED_BY(mu_);
};

}  // namespace prov::server
