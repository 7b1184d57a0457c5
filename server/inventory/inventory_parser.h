// Declared-inventory import: one row per accelerator the provider owns, from CSV (with a header)
// or JSON Lines, into DeclaredAccelerator protos. The format is documented for the people who
// export it in docs/inventory-format.md; deploy/inventory/ holds its JSON schema and an example.
//
//   absl::StatusOr<InventoryParseResult> r =
//       ParseInventory(text, InventoryFormat::kCsv, "netbox-2026-03.csv");
//   if (!r.ok()) ...                       // the whole file refused: nothing imported
//   for (const auto& e : r->errors) ...    // "line 7: field status: \"broken\" is not one of ..."
//   store(r->rows);                        // only valid rows; a bad row never drops the good ones
//
// Columns (CSV header, any order, case-insensitive; JSON Lines keys likewise): serial (required),
// uuid, declared_model, vendor_id, device_id, node_id, datacenter, rack, account, status. Unknown
// columns or keys are an error naming them. vendor_id/device_id are hex ("0x10de") or decimal,
// at most 0xffff; status is in_service, spare, rma or retired (empty: in_service); account empty
// means not rented. Strings are trimmed; each is at most kMaxInventoryFieldBytes. A serial given
// twice in one file is an error on the later line.
//
// The whole input fails (a Status error, nothing accepted) when it is not valid UTF-8 (naming
// line, column and byte), when its CSV quoting is broken, when the header lacks `serial` or names
// an unknown column, or when it has more than options.max_rows rows. Pure; thread-compatible.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "provenance/v1/inventory.pb.h"

namespace prov::inventory {

enum class InventoryFormat { kCsv, kJsonLines };

inline constexpr size_t kMaxInventoryFieldBytes = 256;  // like provd's bound on report ids
inline constexpr size_t kDefaultMaxInventoryRows = 1000000;

struct InventoryParseOptions {
  size_t max_rows = kDefaultMaxInventoryRows;
};

struct InventoryRowError {
  int line;             // 1-based line of the file
  std::string message;  // "line 7: field status: ..."
};

struct InventoryParseResult {
  std::vector<provenance::v1::DeclaredAccelerator> rows;
  std::vector<InventoryRowError> errors;
  std::string content_digest;  // sha256 hex of the input bytes
};

absl::StatusOr<InventoryParseResult> ParseInventory(absl::string_view text, InventoryFormat format,
                                                    absl::string_view source_name,
                                                    const InventoryParseOptions& options = {});

// From a request's format ("csv", "jsonl", "ndjson") or, when empty, the file name's suffix.
absl::StatusOr<InventoryFormat> InventoryFormatFrom(absl::string_view format,
                                                    absl::string_view source_name);

// "0x10de" / "4318" -> 0x10de; an error for anything else or a value over 0xffff.
absl::StatusOr<uint32_t> ParsePciId(absl::string_view text);

// "in_service" -> INVENTORY_STATUS_IN_SERVICE (empty too); the wire names back.
absl::StatusOr<provenance::v1::InventoryStatus> ParseInventoryStatus(absl::string_view text);
std::string InventoryStatusName(provenance::v1::InventoryStatus status);

}  // namespace prov::inventory
