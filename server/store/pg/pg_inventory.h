// PgInventoryRepository: the declared inventory (repo/inventory.h) in PostgreSQL, tables
// provd.inventory_imports, provd.inventory, provd.inventory_history (pg_schema.cc, PostgreSQL
// version 7), and its reads of the ingest tables (accelerators, nodes, node_hardware,
// node_hardware_changes).
//
//   PROV_ASSIGN_OR_RETURN(auto inventory, PgInventoryRepository::Open(url.pg_conninfo));
//   PROV_ASSIGN_OR_RETURN(InventoryImportSummary s, inventory->Import(import));
//   // or, on a connection a factory opened (search_path provd, migrated):
//   auto inventory = std::make_unique<PgInventoryRepository>(std::move(conn));
//
// Open connects (application_name provd/inventory, search_path provd) and migrates the schema
// under the migration lock, as the other PostgreSQL repositories do. Import is one READ COMMITTED
// transaction that first takes the transaction-level advisory lock (kPgLockKey,
// kPgInventoryImportLock = 5) and only then reads the latest version, so two replicas importing at
// once get consecutive versions (inventory_imports.version is a plain key) and each compares its
// rows with the other's committed ones; the audit entry is appended in the same transaction
// (pg_audit_log.h; its lock (1) is taken last). The wait is bounded by lock_timeout (UNAVAILABLE).
// Import is never repeated (it appends an audit entry): it first makes sure its session answers
// (UsablePgSession, pg_access.h), and a session lost during the import fails it UNAVAILABLE (its
// COMMIT may have landed: the caller decides). Reads reconnect a dropped session and run once
// more on the new one (RunWithReconnect). An import writes 1,000 rows per statement (PgArray,
// unnest): three statements per 1,000 rows. A text field holding
// a NUL byte is INVALID_ARGUMENT (PostgreSQL text cannot store it; SQLite would). Thread-safe
// (one call at a time under its mutex).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "provenance/v1/audit.pb.h"
#include "provenance/v1/inventory.pb.h"
#include "server/store/pg/pg_conn.h"
#include "server/store/repo/inventory.h"

namespace prov::server {

class PgInventoryRepository : public InventoryRepository {
 public:
  static absl::StatusOr<std::unique_ptr<PgInventoryRepository>> Open(
      const std::string& conninfo, absl::Duration connect_timeout = absl::Seconds(10));
  // `conn`: connected with search_path provd, schema migrated.
  explicit PgInventoryRepository(std::unique_ptr<PgConn> conn) : conn_(std::move(conn)) {}

  using InventoryRepository::Import;
  absl::StatusOr<InventoryImportSummary> Import(const InventoryImport& import,
                                                BeforeCommit before_commit) override;
  absl::StatusOr<int64_t> LatestVersion() override;
  absl::StatusOr<std::vector<provenance::v1::InventoryEntry>> List(
      const InventoryQuery& query) override;
  absl::StatusOr<std::vector<provenance::v1::InventoryEntry>> LoadAll() override;
  absl::StatusOr<std::optional<provenance::v1::InventoryEntry>> Get(
      const std::string& serial) override;
  absl::StatusOr<std::vector<provenance::v1::InventoryEntry>> History(
      const std::string& serial) override;
  absl::StatusOr<std::optional<provenance::v1::ObservedAccelerator>> LastObserved(
      const std::string& serial, const std::string& uuid) override;
  absl::StatusOr<std::vector<provenance::v1::InventoryPlaceCount>> Places(
      const std::string& datacenter) override;
  absl::StatusOr<InventoryPageResult> Page(const std::string& datacenter, const std::string& rack,
                                           const InventoryPageKey& after, size_t limit) override;
  absl::StatusOr<ObservedCount> CountObserved(const std::string& datacenter) override;
  absl::StatusOr<provenance::v1::NodeHardwareIdentity> NodeHardware(const std::string& node_id,
                                                                    bool with_changes) override;

 private:
  absl::Mutex mu_;
  std::unique_ptr<PgConn> conn_ ABSL_GUARDED_BY(mu_);
};

// SQLite's ReadNodeHardware (node_hardware.h) on PostgreSQL, on the caller's connection (a fleet
// reader's GetNode): fills `out` from node `node`'s (nodes.id) rows; leaves it empty when none.
// `with_changes`: also the newest 50 changes (changes_total is always set).
absl::Status PgReadNodeHardware(PgConn& conn, int64_t node, bool with_changes,
                                provenance::v1::NodeHardwareIdentity* out);

namespace pg_inventory_internal {
// An InventoryEntry from columns (declared, version, imported_at_us) starting at `first_column`.
absl::StatusOr<provenance::v1::InventoryEntry> ReadEntry(const PgResult& r, int row,
                                                         int first_column);
}  // namespace pg_inventory_internal

}  // namespace prov::server
