// PgExportRepository and PgExportSnapshotSource: the export records (repo/exports.h) and the
// export's read snapshot (repo/export_snapshot.h) in PostgreSQL, table provd.exports and every
// table an export dumps (pg_schema.cc, versions 2 and 7).
//
//   PROV_ASSIGN_OR_RETURN(auto records, PgExportRepository::Open(url.pg_conninfo));
//   PROV_ASSIGN_OR_RETURN(auto snapshots, PgExportSnapshotSource::Open(url.pg_conninfo));
//   PROV_ASSIGN_OR_RETURN(auto exporter,
//                         Exporter::Create(std::move(o), std::move(records),
//                         std::move(snapshots)));
//
// Open connects (application_name provd/exports, search_path provd) and migrates the schema
// under the migration lock, as the other PostgreSQL repositories do; the repository keeps two
// sessions (the chain's, and one for List / LastExportUs / Stats so they answer while an export
// runs), the snapshot source one. Or build them from open sessions (FromConnections).
//
// The chain: BeginChain opens a READ COMMITTED transaction on the chain session and takes the
// transaction-level advisory lock (kPgLockKey, kPgExportChainLock) = (0x50524f56, 6) BEFORE it
// reads the newest export; the lock is held through the export (its snapshot, its files) until
// Record's COMMIT (the `exports` row and the "export" audit entry, AppendAuditEntry: lock 1 taken
// after 6) or the chain's ROLLBACK when it is dropped. So two replicas exporting at once run one
// after the other, and the second's previous_manifest_sha256 is the first's manifest. The wait
// for the lock is bounded by `chain_wait` (SET LOCAL lock_timeout and statement_timeout for that
// one statement; default 1 h: an export can take minutes), then UNAVAILABLE.
// The snapshot: BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY on the source's session (every
// table of one export from one snapshot), each table read through a cursor (DECLARE ... NO
// SCROLL CURSOR, FETCH 1000 at a time); parameterised queries (one measurement by id) are read
// whole; statement_timeout is 1 h inside it (a cursor's first FETCH may sort a whole table).
// Ended (COMMIT) when the snapshot is destroyed.
// Reconnection (server/store/README.md): reads (List, LastExportUs, Stats, IdTaken) reconnect
// and run once more when the session was lost during the call (RunWithReconnect); BeginChain and
// Begin reconnect a dropped session first and begin once more when it was found gone at BEGIN.
// Record is never repeated (its COMMIT may have landed): a session lost during an export fails
// that export (UNAVAILABLE), and the Exporter removes its folder.
// Thread-safe: reads under one mutex, the chain under another (one chain at a time, held by the
// chain object); a snapshot source serves one snapshot at a time.
#pragma once

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/store/pg/pg_conn.h"
#include "server/store/repo/export_snapshot.h"
#include "server/store/repo/exports.h"

namespace prov::server {

class PgExportRepository : public ExportRepository {
 public:
  static absl::StatusOr<std::unique_ptr<PgExportRepository>> Open(
      const std::string& conninfo, absl::Duration connect_timeout = absl::Seconds(10),
      absl::Duration chain_wait = absl::Hours(1));
  // Two open sessions (search_path provd, schema migrated).
  static std::unique_ptr<PgExportRepository> FromConnections(
      std::unique_ptr<PgConn> chain_conn, std::unique_ptr<PgConn> read_conn,
      absl::Duration chain_wait = absl::Hours(1));

  absl::StatusOr<std::unique_ptr<ExportChain>> BeginChain() override;
  absl::StatusOr<bool> IdTaken(const std::string& export_id) override;
  absl::StatusOr<std::vector<ExportRecord>> List() override;
  absl::StatusOr<std::optional<int64_t>> LastExportUs(const std::string& trigger) override;
  absl::StatusOr<std::map<std::string, ExportTriggerCount>> Stats() override;

 private:
  class Chain;
  PgExportRepository(std::unique_ptr<PgConn> chain_conn, std::unique_ptr<PgConn> read_conn,
                     absl::Duration chain_wait)
      : chain_wait_(chain_wait),
        chain_conn_(std::move(chain_conn)),
        read_conn_(std::move(read_conn)) {}

  const absl::Duration chain_wait_;
  absl::Mutex chain_mu_;
  std::unique_ptr<PgConn> chain_conn_ ABSL_GUARDED_BY(chain_mu_);
  absl::Mutex read_mu_;
  std::unique_ptr<PgConn> read_conn_ ABSL_GUARDED_BY(read_mu_);
};

class PgExportSnapshotSource : public ExportSnapshotSource {
 public:
  static absl::StatusOr<std::unique_ptr<PgExportSnapshotSource>> Open(
      const std::string& conninfo, absl::Duration connect_timeout = absl::Seconds(10));
  // An open session (search_path provd, schema migrated).
  explicit PgExportSnapshotSource(std::unique_ptr<PgConn> conn) : conn_(std::move(conn)) {}
  absl::StatusOr<std::unique_ptr<ExportSnapshot>> Begin() override;

 private:
  std::unique_ptr<PgConn> conn_;
};

// Connects (application_name provd/exports, search_path provd) and migrates the schema.
absl::StatusOr<std::unique_ptr<PgConn>> OpenPgExportsConn(const std::string& conninfo,
                                                          absl::Duration connect_timeout);

}  // namespace prov::server
