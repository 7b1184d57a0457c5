// Declared-inventory import (server/inventory/inventory_parser.h): the same bytes as CSV and as
// JSON Lines.
#include <cstdint>

#include "absl/strings/string_view.h"
#include "server/inventory/inventory_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  prov::inventory::InventoryParseOptions options;
  options.max_rows = 10000;
  for (auto format :
       {prov::inventory::InventoryFormat::kCsv, prov::inventory::InventoryFormat::kJsonLines}) {
    (void)prov::inventory::ParseInventory(text, format, "fuzz", options);
  }
  return 0;
}
