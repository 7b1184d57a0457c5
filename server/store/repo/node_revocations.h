// NodeRevocationRepository: revoked nodes (issue 10 §1; table `node_revocations`,
// server/store/SCHEMA.md): every certificate of a revoked node issued at or before the revocation
// is refused (NodeRevocationList, server/access/). On either engine:
// SqliteNodeRevocationRepository (server/store/sqlite/) or PgNodeRevocationRepository
// (server/store/pg/). tests/store/access_conformance_test.cc holds both to the same behaviour.
//
//   PROV_ASSIGN_OR_RETURN(StoredRevocation r,
//                         repo->Revoke({"gpu-017", now, "token:alice", "stolen"}, audit));
//   PROV_ASSIGN_OR_RETURN(std::vector<StoredRevocation> all, repo->List());
//
// Implementations are thread-safe (one call at a time on their own connection).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/store/repo/audit_appender.h"

namespace prov::server {

struct StoredRevocation {
  std::string node_id;
  absl::Time revoked_at;
  std::string revoked_by;
  std::string reason;
  bool operator==(const StoredRevocation&) const = default;
};

class NodeRevocationRepository {
 public:
  virtual ~NodeRevocationRepository() = default;
  // One transaction: inserts the revocation unless the node is revoked already, appends the
  // audit entry (also when it was: the request is recorded), and returns the stored row (the
  // first revocation when there was one).
  virtual absl::StatusOr<StoredRevocation> Revoke(const StoredRevocation& r,
                                                  const AuditRecord& audit) = 0;
  // Newest first (revoked_at descending, then node_id).
  virtual absl::StatusOr<std::vector<StoredRevocation>> List() = 0;
  // The number of revoked nodes. Rows are never deleted or changed, so it moves with every new
  // revocation, on any connection or replica (NodeRevocationSync polls it).
  virtual absl::StatusOr<int64_t> Revision() = 0;
};

}  // namespace prov::server
