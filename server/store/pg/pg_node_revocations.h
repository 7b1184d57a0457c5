// PgNodeRevocationRepository: node revocations (repo/node_revocations.h), table
// provd.node_revocations, on PostgreSQL (pg_schema.cc version 6). Connection, transaction and
// reconnection rules: pg_access.h.
//
//   PROV_ASSIGN_OR_RETURN(auto repo, PgNodeRevocationRepository::Open(url.pg_conninfo));
//   PROV_ASSIGN_OR_RETURN(StoredRevocation r, repo->Revoke({"gpu-017", now, who, why}, audit));
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
#include "server/store/repo/node_revocations.h"

namespace prov::server {

class PgNodeRevocationRepository : public NodeRevocationRepository {
 public:
  static absl::StatusOr<std::unique_ptr<PgNodeRevocationRepository>> Open(
      const std::string& conninfo, absl::Duration connect_timeout = absl::Seconds(10));

  absl::StatusOr<StoredRevocation> Revoke(const StoredRevocation& r,
                                          const AuditRecord& audit) override;
  absl::StatusOr<std::vector<StoredRevocation>> List() override;
  absl::StatusOr<int64_t> Revision() override;

 private:
  explicit PgNodeRevocationRepository(std::unique_ptr<PgConn> conn) : conn_(std::move(conn)) {}
  absl::Mutex mu_;
  std::unique_ptr<PgConn> conn_ ABSL_GUARDED_BY(mu_);
};

}  // namespace prov::server
