// provctl's text for the declared inventory (inventory import, list, show).
//
//   std::cout << InventoryImported(response, "netbox.csv");
//   std::cout << InventoryTable(list_response);
//   std::cout << InventoryDetail(get_response);   // declared vs last observed
//
// Pure functions of the responses; -o json prints the protos instead.
#pragma once

#include <string>

#include "provenance/v1/inventory.pb.h"

namespace prov::provctl {

std::string InventoryImported(const provenance::v1::ImportInventoryResponse& response,
                              const std::string& file);
std::string InventoryTable(const provenance::v1::ListInventoryResponse& response);
std::string InventoryDetail(const provenance::v1::GetInventoryResponse& response);

}  // namespace prov::provctl
