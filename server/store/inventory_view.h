// The inventory view's queries (InventoryService.GetInventoryView, the dashboard's hardware page):
// declared vs observed counts per data centre or per rack, and one data centre's rows a page at a
// time (keyset paging on the inventory_page index, SCHEMA.md version 12), so a 20k-node fleet is
// never read whole.
//
//   PROV_ASSIGN_OR_RETURN(auto dcs, InventoryPlaces(db, ""));         // one row per data centre
//   PROV_ASSIGN_OR_RETURN(auto racks, InventoryPlaces(db, "fra1"));   // one row per rack of fra1
//   InventoryPageKey after;                                           // {}: the first page
//   PROV_ASSIGN_OR_RETURN(auto page, InventoryPage(db, "fra1", "", after, 200));
//   // page.entries; page.next: the key to pass for the next page (nullopt: last page)
//
// The SQLite half of SqliteInventoryRepository (sqlite/sqlite_inventory.h); the page key, its
// token and the result structs are repo/inventory.h's (engine-free: a token pages identically on
// both engines). "Observed" means some agent ever reported the serial (else the uuid): the
// accelerators table keeps a row per (node, PCI address) that was reported. All functions use the
// connection they are given, which the caller serialises.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "provenance/v1/inventory.pb.h"
#include "server/store/repo/inventory.h"
#include "server/store/sqlite.h"

namespace prov::server {

// Counts per data centre (datacenter empty) or per rack of `datacenter`, ordered by name.
absl::StatusOr<std::vector<provenance::v1::InventoryPlaceCount>> InventoryPlaces(
    SqliteDb& db, const std::string& datacenter);

// Rows of `datacenter` (and `rack` when not empty) after `after`, ordered by rack, node_id, serial.
absl::StatusOr<InventoryPageResult> InventoryPage(SqliteDb& db, const std::string& datacenter,
                                                  const std::string& rack,
                                                  const InventoryPageKey& after, size_t limit);

// Accelerators reported by nodes whose reported data centre is `datacenter`, and how many of them
// no inventory row declares (neither by serial nor by uuid).
absl::StatusOr<ObservedCount> CountObservedInDatacenter(SqliteDb& db,
                                                        const std::string& datacenter);

}  // namespace prov::server
