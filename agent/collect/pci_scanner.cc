#include "agent/collect/pci_scanner.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/fs.h"

namespace prov::agent {
namespace {

using provenance::v1::Accelerator;

absl::StatusOr<uint32_t> ReadHexFile(const std::string& path) {
  auto text = ReadFileToString(path, 64);
  if (!text.ok()) return text.status();
  absl::string_view s = absl::StripAsciiWhitespace(*text);
  absl::ConsumePrefix(&s, "0x");
  uint32_t value = 0;
  if (s.empty() || !absl::SimpleHexAtoi(s, &value)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a hex number: '", s, "'"));
  }
  return value;
}

std::string Basename(absl::string_view path) {
  size_t slash = path.rfind('/');
  return std::string(slash == absl::string_view::npos ? path : path.substr(slash + 1));
}

}  // namespace

bool IsAcceleratorDevice(uint32_t class_code, uint32_t vendor_id, uint32_t device_id,
                         const AcceleratorCatalog& catalog) {
  auto match = catalog.Lookup(vendor_id, device_id);
  if (match && match->exact && match->entry->is_switch) return false;
  if (match && match->exact) return true;
  uint32_t cls = class_code >> 8;  // class + subclass, programming interface dropped
  if (cls == 0x0302 || cls == 0x0380 || cls == 0x1200 || cls == 0x0b40) return true;
  if (cls == 0x0300) return catalog.KnowsVendor(vendor_id);
  return false;
}

std::vector<Accelerator> ScanPciAccelerators(const std::string& sysfs_root,
                                             const AcceleratorCatalog& catalog,
                                             std::vector<std::string>* errors) {
  std::vector<Accelerator> out;
  const std::string dir = JoinPath(sysfs_root, "bus/pci/devices");
  auto names = ListDirectory(dir);
  if (!names.ok()) {
    // A machine (or container) without PCI sysfs has no visible accelerators; say why.
    errors->push_back(std::string(names.status().message()));
    return out;
  }
  for (const std::string& addr : *names) {
    const std::string dev = JoinPath(dir, addr);
    auto cls = ReadHexFile(JoinPath(dev, "class"));
    auto vendor = ReadHexFile(JoinPath(dev, "vendor"));
    auto device = ReadHexFile(JoinPath(dev, "device"));
    if (!cls.ok() || !vendor.ok() || !device.ok()) {
      for (const auto* s : {&cls, &vendor, &device}) {
        if (!s->ok()) errors->push_back(std::string(s->status().message()));
      }
      continue;
    }
    if (!IsAcceleratorDevice(*cls, *vendor, *device, catalog)) continue;
    Accelerator acc;
    auto& src = *acc.mutable_fact_sources();
    const auto kPci = provenance::v1::FACT_SOURCE_PCI_SYSFS;
    const auto kCatalog = provenance::v1::FACT_SOURCE_CATALOG;
    acc.set_pci_address(addr);
    acc.set_class_code(*cls);
    acc.set_vendor_id(*vendor);
    acc.set_device_id(*device);
    acc.set_device_minor(-1);
    for (const char* f : {"pci_address", "class_code", "vendor_id", "device_id"}) src[f] = kPci;
    if (auto v = ReadHexFile(JoinPath(dev, "subsystem_vendor")); v.ok()) {
      acc.set_subsystem_vendor_id(*v);
      src["subsystem_vendor_id"] = kPci;
    }
    if (auto v = ReadHexFile(JoinPath(dev, "subsystem_device")); v.ok()) {
      acc.set_subsystem_device_id(*v);
      src["subsystem_device_id"] = kPci;
    }
    if (auto link = ReadSymlink(JoinPath(dev, "driver")); link.ok()) {
      acc.set_driver(Basename(*link));
      src["driver"] = kPci;
    }
    auto match = catalog.Lookup(*vendor, *device);
    acc.set_vendor(match ? match->entry->vendor : catalog.VendorName(*vendor));
    src["vendor"] = kCatalog;
    if (match) {
      acc.set_family(match->entry->family);
      src["family"] = kCatalog;
      // A default row may still name the family's model ("Ascend (unidentified model)").
      acc.set_model(match->entry->model);
      if (!acc.model().empty()) src["model"] = kCatalog;
      acc.set_model_known(match->exact);
      if (match->entry->memory_gib > 0) {
        acc.set_memory_total_bytes(static_cast<uint64_t>(match->entry->memory_gib * (1ull << 30)));
        src["memory_total_bytes"] = kCatalog;
      }
    }
    out.push_back(std::move(acc));
  }
  return out;
}

}  // namespace prov::agent
