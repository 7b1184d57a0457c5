#include "common/accelerator_catalog.h"

#include <cstdlib>
#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/fs.h"
#include "common/status_macros.h"

extern const char prov_accelerators_tsv[];
extern const std::size_t prov_accelerators_tsv_size;

namespace prov {
namespace {

bool ParseHex(absl::string_view s, uint32_t* out) {
  s = absl::StripAsciiWhitespace(s);
  absl::ConsumePrefix(&s, "0x");
  return !s.empty() && absl::SimpleHexAtoi(s, out);
}

}  // namespace

absl::StatusOr<AcceleratorCatalog> AcceleratorCatalog::Parse(absl::string_view tsv,
                                                             absl::string_view source_name) {
  AcceleratorCatalog catalog;
  int line_no = 0;
  bool header_seen = false;
  for (absl::string_view line : absl::StrSplit(tsv, '\n')) {
    ++line_no;
    absl::ConsumeSuffix(&line, "\r");
    if (absl::StripAsciiWhitespace(line).empty() || line.front() == '#') continue;
    std::vector<absl::string_view> cols = absl::StrSplit(line, '\t');
    auto err = [&](absl::string_view column, absl::string_view what) {
      return absl::InvalidArgumentError(
          absl::StrCat(source_name, ":", line_no, ": column ", column, ": ", what));
    };
    if (!header_seen) {
      header_seen = true;
      if (cols.size() != 8 || cols[0] != "vendor_id") {
        return err("header", "expected 8 TAB-separated columns starting with vendor_id");
      }
      continue;
    }
    if (cols.size() != 8) {
      return err("*", absl::StrCat("expected 8 TAB-separated columns, got ", cols.size()));
    }
    CatalogEntry e;
    if (!ParseHex(cols[0], &e.vendor_id)) return err("vendor_id", "not a hex number");
    if (cols[1] != "*") {
      uint32_t device = 0;
      if (!ParseHex(cols[1], &device)) return err("device_id", "not a hex number or *");
      e.device_id = device;
    }
    e.vendor = std::string(cols[2]);
    if (e.vendor.empty()) return err("vendor", "empty");
    e.model = std::string(cols[3]);
    e.family = std::string(cols[4]);
    if (cols[5] == "switch") {
      e.is_switch = true;
    } else if (cols[5] != "accelerator") {
      return err("kind", "must be accelerator or switch");
    }
    double tflops = 0;
    if (!absl::SimpleAtod(cols[6], &tflops) || tflops < 0) {
      return err("peak_tflops", "not a non-negative number");
    }
    e.peak_flops = tflops * 1e12;
    if (!absl::SimpleAtod(cols[7], &e.memory_gib) || e.memory_gib < 0) {
      return err("memory_gib", "not a non-negative number");
    }
    size_t index = catalog.entries_.size();
    if (e.device_id.has_value()) {
      if (!catalog.exact_.emplace(Key(e.vendor_id, *e.device_id), index).second) {
        return err("device_id", "duplicate vendor/device pair");
      }
    } else if (!catalog.vendor_default_.emplace(e.vendor_id, index).second) {
      return err("device_id", "duplicate default row for vendor");
    }
    catalog.entries_.push_back(std::move(e));
  }
  if (!header_seen) return absl::InvalidArgumentError(absl::StrCat(source_name, ": empty catalog"));
  return catalog;
}

absl::StatusOr<AcceleratorCatalog> AcceleratorCatalog::LoadFile(const std::string& path) {
  PROV_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  return Parse(text, path);
}

const AcceleratorCatalog& AcceleratorCatalog::Builtin() {
  static const AcceleratorCatalog* catalog = [] {
    auto parsed = Parse(absl::string_view(prov_accelerators_tsv, prov_accelerators_tsv_size),
                        "builtin accelerators.tsv");
    if (!parsed.ok()) {  // The embedded table is checked by tests: a bad one is a build defect.
      std::cerr << parsed.status() << "\n";
      std::abort();
    }
    return new AcceleratorCatalog(std::move(*parsed));
  }();
  return *catalog;
}

std::optional<AcceleratorCatalog::Match> AcceleratorCatalog::Lookup(uint32_t vendor_id,
                                                                    uint32_t device_id) const {
  if (auto it = exact_.find(Key(vendor_id, device_id)); it != exact_.end()) {
    return Match{&entries_[it->second], true};
  }
  if (auto it = vendor_default_.find(vendor_id); it != vendor_default_.end()) {
    return Match{&entries_[it->second], false};
  }
  return std::nullopt;
}

std::string AcceleratorCatalog::VendorName(uint32_t vendor_id) const {
  if (auto it = vendor_default_.find(vendor_id); it != vendor_default_.end()) {
    return entries_[it->second].vendor;
  }
  for (const auto& e : entries_) {
    if (e.vendor_id == vendor_id) return e.vendor;
  }
  return "unknown";
}

bool AcceleratorCatalog::KnowsVendor(uint32_t vendor_id) const {
  return VendorName(vendor_id) != "unknown";
}

}  // namespace prov
