// Revoked node certificates (issue 10 §1), table `node_revocations` (SCHEMA.md, version 10).
//
//   PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db, Transaction::kWrite));
//   PROV_ASSIGN_OR_RETURN(StoredRevocation r,
//                         InsertNodeRevocation(db, {"gpu-017", now, "token:alice", "stolen"}));
//   ... AppendAuditEntry(db, ...) in the same transaction ...; txn.Commit();
//   PROV_ASSIGN_OR_RETURN(std::vector<StoredRevocation> all, ListNodeRevocations(db));
//
// Thread-compatible: the caller owns the connection.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/store/sqlite.h"

namespace prov::server {

struct StoredRevocation {
  std::string node_id;
  absl::Time revoked_at;
  std::string revoked_by;
  std::string reason;
};

// Inserts the revocation unless the node is revoked already; returns the stored row (the first
// revocation when there was one). Run it inside the caller's write transaction.
absl::StatusOr<StoredRevocation> InsertNodeRevocation(SqliteDb& db, const StoredRevocation& r);
// Newest first.
absl::StatusOr<std::vector<StoredRevocation>> ListNodeRevocations(SqliteDb& db);

}  // namespace prov::server
