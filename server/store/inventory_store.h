// The declared inventory's tables (SCHEMA.md, version 9): versioned imports, the current row per
// serial, and the look-ups that compare it with what agents reported.
//
//   PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db, Transaction::kWrite));
//   PROV_ASSIGN_OR_RETURN(InventoryImportSummary s,
//                         ImportInventoryRows(db, rows, "netbox.csv", "token:alice", digest,
//                                             /*errors=*/2, now));
//   ... AppendAuditEntry(db, ...) ...; txn.Commit();
//
//   auto entries = ListInventory(db, {.datacenter = "fra1"});
//   auto one = GetInventoryEntry(db, "1654923004511");        // nullopt: not declared
//   auto seen = LastObserved(db, "1654923004511", "GPU-8f1c");
//
// The SQLite half of SqliteInventoryRepository (sqlite/sqlite_inventory.h), which is what services
// use (AnalysisStore too, through the repository); these functions stay callable on a SqliteDb.
// The structs (InventoryImportSummary, InventoryQuery) are repo/inventory.h's.
// ImportInventoryRows must run inside the caller's write transaction (it refuses otherwise), so
// the import, its history rows and its audit entry commit together. All functions take a
// connection the caller serialises (one thread at a time per SqliteDb).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "provenance/v1/inventory.pb.h"
#include "server/store/repo/inventory.h"
#include "server/store/sqlite.h"

namespace prov::server {

absl::StatusOr<InventoryImportSummary> ImportInventoryRows(
    SqliteDb& db, const std::vector<provenance::v1::DeclaredAccelerator>& rows,
    const std::string& source, const std::string& actor, const std::string& content_digest,
    uint32_t errors, absl::Time now);

// 0 when nothing has been imported.
absl::StatusOr<int64_t> LatestInventoryVersion(SqliteDb& db);

// Ordered by datacenter, rack, node_id, serial.
absl::StatusOr<std::vector<provenance::v1::InventoryEntry>> ListInventory(
    SqliteDb& db, const InventoryQuery& query);

absl::StatusOr<std::optional<provenance::v1::InventoryEntry>> GetInventoryEntry(
    SqliteDb& db, const std::string& serial);
// Every version that declared the serial, newest first.
absl::StatusOr<std::vector<provenance::v1::InventoryEntry>> InventoryHistory(
    SqliteDb& db, const std::string& serial);
// Every current row (for an in-memory index, server/inventory/inventory_index.h).
absl::StatusOr<std::vector<provenance::v1::InventoryEntry>> LoadInventory(SqliteDb& db);

// The accelerator an agent reported most recently with this serial, else with this uuid (when
// not empty). The accelerator is as the agent sent it (the caller names it from its catalog).
absl::StatusOr<std::optional<provenance::v1::ObservedAccelerator>> LastObserved(
    SqliteDb& db, const std::string& serial, const std::string& uuid);

}  // namespace prov::server
