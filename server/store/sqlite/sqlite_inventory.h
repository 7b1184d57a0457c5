// SqliteInventoryRepository: the declared inventory (repo/inventory.h) in provd's SQLite file. The
// SQL is server/store/inventory_store.cc, inventory_view.cc and node_hardware.cc's
// ReadNodeHardware (unchanged; still callable on a SqliteDb by the SQLite-only readers).
//
//   PROV_ASSIGN_OR_RETURN(auto inventory, SqliteInventoryRepository::Open(data_dir + "/provd.db"));
//   PROV_ASSIGN_OR_RETURN(InventoryImportSummary s, inventory->Import(import));
//
// Two connections, as InventoryServiceImpl had: a read-write one for Import (BEGIN IMMEDIATE: the
// version read, the rows and the audit entry, AppendAuditEntry on the same connection, are one
// unit serialised with every other writer of the file) and a query_only one for the reads, each
// behind its own mutex, so a long import does not hold up the reads (WAL). Open migrates the schema
// (a no-op once provd's store has). Thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "server/store/repo/inventory.h"
#include "server/store/sqlite.h"

namespace prov::server {

class SqliteInventoryRepository : public InventoryRepository {
 public:
  static absl::StatusOr<std::unique_ptr<SqliteInventoryRepository>> Open(
      const std::string& db_path);
  // Both connections already open on one file (the write one read-write, migrated).
  SqliteInventoryRepository(std::unique_ptr<SqliteDb> write_db, std::unique_ptr<SqliteDb> read_db)
      : write_db_(std::move(write_db)), read_db_(std::move(read_db)) {}

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
  absl::Mutex write_mu_;
  std::unique_ptr<SqliteDb> write_db_ ABSL_GUARDED_BY(write_mu_);
  absl::Mutex read_mu_;
  std::unique_ptr<SqliteDb> read_db_ ABSL_GUARDED_BY(read_mu_);
};

}  // namespace prov::server
