// AcceleratorCatalog: PCI (vendor, device) -> model, family and approx. peak, loaded from a data
// table.
//
//   const auto& catalog = prov::AcceleratorCatalog::Builtin();   // common/data/accelerators.tsv
//   if (auto m = catalog.Lookup(0x10de, 0x2330)) {
//     m->entry->model;        // "H100 SXM5 80GB"
//     m->exact;               // false when only the vendor's default row matched
//   }
//
// The table is data, not code: the built-in copy is embedded from common/data/accelerators.tsv at
// build time, and `--accelerator-catalog FILE` in prov-agent and provd loads a replacement in the
// same format. Immutable after construction; safe to share between threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace prov {

struct CatalogEntry {
  uint32_t vendor_id = 0;
  std::optional<uint32_t> device_id;  // nullopt: the vendor's default row
  std::string vendor;                 // "nvidia"
  std::string model;                  // empty in a default row unless the file names one
  std::string family;                 // "hopper", "ascend"
  bool is_switch = false;             // NVSwitch and the like: never an accelerator
  double peak_flops = 0;              // dense BF16 FLOP/s; 0 when unknown
  double memory_gib = 0;
};

class AcceleratorCatalog {
 public:
  struct Match {
    const CatalogEntry* entry;
    bool exact;  // false: matched the vendor's default row only
  };

  // Parses the TSV format described at the top of common/data/accelerators.tsv. Errors name the
  // source, line and column.
  static absl::StatusOr<AcceleratorCatalog> Parse(absl::string_view tsv,
                                                  absl::string_view source_name);
  static absl::StatusOr<AcceleratorCatalog> LoadFile(const std::string& path);
  static const AcceleratorCatalog& Builtin();

  std::optional<Match> Lookup(uint32_t vendor_id, uint32_t device_id) const;
  // Vendor name for a vendor id ("unknown" when the vendor is not in the table).
  std::string VendorName(uint32_t vendor_id) const;
  bool KnowsVendor(uint32_t vendor_id) const;
  size_t size() const { return entries_.size(); }

 private:
  static uint64_t Key(uint32_t vendor, uint32_t device) {
    return (static_cast<uint64_t>(vendor) << 32) | device;
  }
  std::vector<CatalogEntry> entries_;
  absl::flat_hash_map<uint64_t, size_t> exact_;
  absl::flat_hash_map<uint32_t, size_t> vendor_default_;
};

}  // namespace prov
