// The declared inventory of a simulated fleet: what the provider's asset system says it owns, in
// the import format of docs/inventory-format.md (provctl inventory import). Written by prov-sim
// (--inventory-out) and prov-eval-gen beside the scenario.
//
//   HardwarePlan plan(scenario);
//   std::string csv = InventoryCsv(DeclaredInventory(scenario, plan, catalog, 0));
//   for (uint32_t k : InventoryUpdateReports(scenario))        // re-imports, before report k
//     WriteFile(InventoryUpdatePath("inv.csv", k), InventoryCsv(InventoryUpdate(scenario, plan,
//                                                                              catalog, k)));
//
// The initial inventory declares every card of every node (SimNode.undeclared nodes excepted) as
// it is before any hardware event, with the node's rack, rented_to account and declared_model.
// Events with `declared` set are recorded by a re-import before their report: a partial file with
// only the rows they change (the import keeps every other row). Pure; thread-compatible.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/accelerator_catalog.h"
#include "tools/prov-sim/hardware_plan.h"
#include "tools/prov-sim/scenario.pb.h"

namespace prov::sim {

struct InventoryRow {
  std::string serial, uuid, declared_model;
  uint32_t vendor_id = 0, device_id = 0;
  std::string node_id, datacenter, rack, account, status;
};

// The inventory as declared just before report `report` is sent (declared events of reports
// <= `report` applied).
std::vector<InventoryRow> DeclaredInventory(const v1::Scenario& scenario, const HardwarePlan& plan,
                                            const AcceleratorCatalog& catalog, uint32_t report);
// The rows declared events at exactly `report` change (a re-import).
std::vector<InventoryRow> InventoryUpdate(const v1::Scenario& scenario, const HardwarePlan& plan,
                                          const AcceleratorCatalog& catalog, uint32_t report);
// Reports (> 0, ascending) before which a re-import is due.
std::vector<uint32_t> InventoryUpdateReports(const v1::Scenario& scenario);
// CSV with the header of docs/inventory-format.md; PCI IDs as 0x hex.
std::string InventoryCsv(const std::vector<InventoryRow>& rows);
// "dir/inventory.csv", 20 -> "dir/inventory.at-20.csv".
std::string InventoryUpdatePath(const std::string& base, uint32_t report);
// Writes `base` (the initial inventory) and one re-import file per InventoryUpdateReports, each
// atomically; returns (report, path) pairs, report 0 first.
absl::StatusOr<std::vector<std::pair<uint32_t, std::string>>> WriteInventoryFiles(
    const v1::Scenario& scenario, const std::string& base);

}  // namespace prov::sim
