#include "server/store/sqlite/sqlite_inventory.h"

#include "common/status_macros.h"
#include "server/store/connection.h"
#include "server/store/inventory_store.h"
#include "server/store/inventory_view.h"
#include "server/store/node_hardware.h"
#include "server/store/schema.h"
#include "server/store/sqlite/sqlite_audit_log.h"
#include "server/store/transaction.h"

namespace prov::server {

using provenance::v1::InventoryEntry;

absl::StatusOr<std::unique_ptr<SqliteInventoryRepository>> SqliteInventoryRepository::Open(
    const std::string& db_path) {
  PROV_ASSIGN_OR_RETURN(auto write_db, OpenConnection(db_path, SqliteDb::kReadWrite));
  PROV_RETURN_IF_ERROR(MigrateSchema(*write_db));
  PROV_ASSIGN_OR_RETURN(auto read_db, OpenConnection(db_path, SqliteDb::kReadOnly));
  return std::make_unique<SqliteInventoryRepository>(std::move(write_db), std::move(read_db));
}

absl::StatusOr<InventoryImportSummary> SqliteInventoryRepository::Import(
    const InventoryImport& import, BeforeCommit before_commit) {
  absl::MutexLock lock(&write_mu_);
  SqliteDb& db = *write_db_;
  PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db, Transaction::kWrite));
  PROV_ASSIGN_OR_RETURN(InventoryImportSummary summary,
                        ImportInventoryRows(db, import.rows, import.source, import.actor,
                                            import.content_digest, import.errors, import.now));
  PROV_RETURN_IF_ERROR(AppendAuditEntry(db, import.actor, "inventory.import",
                                        InventoryImportAuditPayload(import, summary), import.now)
                           .status());
  PROV_RETURN_IF_ERROR(before_commit());
  PROV_RETURN_IF_ERROR(txn.Commit());
  return summary;
}

absl::StatusOr<int64_t> SqliteInventoryRepository::LatestVersion() {
  absl::MutexLock lock(&read_mu_);
  return LatestInventoryVersion(*read_db_);
}

absl::StatusOr<std::vector<InventoryEntry>> SqliteInventoryRepository::List(
    const InventoryQuery& query) {
  absl::MutexLock lock(&read_mu_);
  return ListInventory(*read_db_, query);
}

absl::StatusOr<std::vector<InventoryEntry>> SqliteInventoryRepository::LoadAll() {
  absl::MutexLock lock(&read_mu_);
  return LoadInventory(*read_db_);
}

absl::StatusOr<std::optional<InventoryEntry>> SqliteInventoryRepository::Get(
    const std::string& serial) {
  absl::MutexLock lock(&read_mu_);
  return GetInventoryEntry(*read_db_, serial);
}

absl::StatusOr<std::vector<InventoryEntry>> SqliteInventoryRepository::History(
    const std::string& serial) {
  absl::MutexLock lock(&read_mu_);
  return InventoryHistory(*read_db_, serial);
}

absl::StatusOr<std::optional<provenance::v1::ObservedAccelerator>>
SqliteInventoryRepository::LastObserved(const std::string& serial, const std::string& uuid) {
  absl::MutexLock lock(&read_mu_);
  return server::LastObserved(*read_db_, serial, uuid);
}

absl::StatusOr<std::vector<provenance::v1::InventoryPlaceCount>> SqliteInventoryRepository::Places(
    const std::string& datacenter) {
  absl::MutexLock lock(&read_mu_);
  return InventoryPlaces(*read_db_, datacenter);
}

absl::StatusOr<InventoryPageResult> SqliteInventoryRepository::Page(const std::string& datacenter,
                                                                    const std::string& rack,
                                                                    const InventoryPageKey& after,
                                                                    size_t limit) {
  absl::MutexLock lock(&read_mu_);
  return InventoryPage(*read_db_, datacenter, rack, after, limit);
}

absl::StatusOr<ObservedCount> SqliteInventoryRepository::CountObserved(
    const std::string& datacenter) {
  absl::MutexLock lock(&read_mu_);
  return CountObservedInDatacenter(*read_db_, datacenter);
}

absl::StatusOr<provenance::v1::NodeHardwareIdentity> SqliteInventoryRepository::NodeHardware(
    const std::string& node_id, bool with_changes) {
  absl::MutexLock lock(&read_mu_);
  SqliteDb& db = *read_db_;
  PROV_ASSIGN_OR_RETURN(Statement * st, db.Cached("SELECT id FROM nodes WHERE node_id = ?"));
  st->BindText(1, node_id);
  absl::StatusOr<bool> row = st->Step();
  const int64_t node = row.ok() && *row ? st->ColumnInt64(0) : 0;
  st->Reset();
  PROV_RETURN_IF_ERROR(row.status());
  provenance::v1::NodeHardwareIdentity out;
  if (!*row) return out;
  PROV_RETURN_IF_ERROR(ReadNodeHardware(db, node, with_changes, &out));
  return out;
}

}  // namespace prov::server
