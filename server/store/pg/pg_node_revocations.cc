#include "server/store/pg/pg_node_revocations.h"

#include "common/status_macros.h"
#include "server/store/pg/pg_access.h"
#include "server/store/pg/pg_audit_log.h"

namespace prov::server {
namespace {

absl::StatusOr<StoredRevocation> RevocationOf(const PgResult& r, int i) {
  PROV_ASSIGN_OR_RETURN(int64_t revoked_us, r.Int64(i, 1));
  return StoredRevocation{r.Text(i, 0), absl::FromUnixMicros(revoked_us), r.Text(i, 2),
                          r.Text(i, 3)};
}

}  // namespace

absl::StatusOr<std::unique_ptr<PgNodeRevocationRepository>> PgNodeRevocationRepository::Open(
    const std::string& conninfo, absl::Duration connect_timeout) {
  PROV_ASSIGN_OR_RETURN(auto conn, OpenPgAccessConn(conninfo, connect_timeout));
  return std::unique_ptr<PgNodeRevocationRepository>(
      new PgNodeRevocationRepository(std::move(conn)));
}

absl::StatusOr<StoredRevocation> PgNodeRevocationRepository::Revoke(const StoredRevocation& r,
                                                                    const AuditRecord& audit) {
  absl::MutexLock lock(&mu_);
  PgConn& conn = *conn_;
  PROV_RETURN_IF_ERROR(UsablePgSession(conn));
  StoredRevocation stored;
  PROV_RETURN_IF_ERROR(conn.Transaction([&]() -> absl::Status {
    PROV_RETURN_IF_ERROR(
        conn.Query("INSERT INTO node_revocations(node_id, revoked_at_us, revoked_by, reason) "
                   "VALUES ($1, $2, $3, $4) ON CONFLICT (node_id) DO NOTHING",
                   {r.node_id, absl::ToUnixMicros(r.revoked_at), r.revoked_by, r.reason})
            .status());
    PROV_ASSIGN_OR_RETURN(PgResult row,
                          conn.Query("SELECT node_id, revoked_at_us, revoked_by, reason FROM "
                                     "node_revocations WHERE node_id = $1",
                                     {r.node_id}));
    if (row.rows() == 0) {
      return absl::InternalError("node_revocations: the row just written is missing");
    }
    PROV_ASSIGN_OR_RETURN(stored, RevocationOf(row, 0));
    return AppendAuditEntry(conn, audit.actor, audit.action, audit.payload, audit.at).status();
  }));
  return stored;
}

absl::StatusOr<std::vector<StoredRevocation>> PgNodeRevocationRepository::List() {
  absl::MutexLock lock(&mu_);
  PgConn& conn = *conn_;
  return RunWithReconnect(conn, [&]() -> absl::StatusOr<std::vector<StoredRevocation>> {
    PROV_ASSIGN_OR_RETURN(PgResult r,
                          conn.Query("SELECT node_id, revoked_at_us, revoked_by, reason FROM "
                                     "node_revocations ORDER BY revoked_at_us DESC, node_id"));
    std::vector<StoredRevocation> out;
    out.reserve(static_cast<size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
      PROV_ASSIGN_OR_RETURN(StoredRevocation one, RevocationOf(r, i));
      out.push_back(std::move(one));
    }
    return out;
  });
}

absl::StatusOr<int64_t> PgNodeRevocationRepository::Revision() {
  absl::MutexLock lock(&mu_);
  PgConn& conn = *conn_;
  return RunWithReconnect(conn, [&]() -> absl::StatusOr<int64_t> {
    PROV_ASSIGN_OR_RETURN(PgResult r, conn.Query("SELECT count(*) FROM node_revocations"));
    return r.Int64(0, 0);
  });
}

}  // namespace prov::server
