#include "agent/collect/hardware_identity.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/fs.h"

namespace prov::agent {
namespace {

using provenance::v1::Accelerator;
using provenance::v1::NodeHardware;

constexpr size_t kMaxFactBytes = 4096;  // sysfs attributes are one page at most

// The value of a sysfs attribute, trimmed; empty when the file is absent or holds a placeholder.
// A file that exists but cannot be read adds an error naming it.
std::string ReadFact(const std::string& dir, const char* name, std::vector<std::string>* errors) {
  auto text = ReadFileToString(JoinPath(dir, name), kMaxFactBytes);
  if (!text.ok()) {
    if (errors != nullptr && !absl::IsNotFound(text.status())) {
      errors->push_back(absl::StrCat(name, " unreadable (",
                                     absl::IsPermissionDenied(text.status())
                                         ? "permission denied; the agent is not root"
                                         : std::string(text.status().message()),
                                     ")"));
    }
    return "";
  }
  std::string value(absl::StripAsciiWhitespace(*text));
  return IsPlaceholderIdentity(value) ? "" : value;
}

}  // namespace

bool IsPlaceholderIdentity(const std::string& value) {
  if (value.empty()) return true;
  static const char* const kPlaceholders[] = {
      "to be filled by o.e.m.",
      "to be filled by oem",
      "not specified",
      "not applicable",
      "default string",
      "system serial number",
      "system product name",
      "chassis serial number",
      "base board serial number",
      "0123456789",
      "none",
      "n/a",
      "unknown",
      "0",
  };
  const std::string lower = absl::AsciiStrToLower(value);
  for (const char* p : kPlaceholders) {
    if (lower == p) return true;
  }
  // All-zero or all-F UUIDs and serials ("00000000-0000-...", "FFFFFFFF-FFFF-...").
  bool only_filler = true;
  for (char c : lower) {
    if (c != '0' && c != 'f' && c != '-' && c != ' ') {
      only_filler = false;
      break;
    }
  }
  if (only_filler) {
    bool zeros = lower.find_first_not_of("0- ") == std::string::npos;
    bool effs = lower.find_first_not_of("f- ") == std::string::npos;
    return zeros || effs;
  }
  return false;
}

std::optional<NodeHardware> ReadDmiIdentity(const std::string& sysfs_root,
                                            std::vector<std::string>* errors) {
  const std::string dir = JoinPath(sysfs_root, "class/dmi/id");
  NodeHardware hw;
  auto& src = *hw.mutable_fact_sources();
  const auto kDmi = provenance::v1::FACT_SOURCE_DMI_SYSFS;
  struct Fact {
    const char* file;
    const char* field;
    void (NodeHardware::*set)(const std::string&);
  };
  const Fact facts[] = {
      {"product_uuid", "system_uuid", &NodeHardware::set_system_uuid<const std::string&>},
      {"product_serial", "product_serial", &NodeHardware::set_product_serial<const std::string&>},
      {"board_serial", "board_serial", &NodeHardware::set_board_serial<const std::string&>},
      {"chassis_serial", "chassis_serial", &NodeHardware::set_chassis_serial<const std::string&>},
      {"product_name", "product_name", &NodeHardware::set_product_name<const std::string&>},
      {"sys_vendor", "sys_vendor", &NodeHardware::set_sys_vendor<const std::string&>},
      {"board_name", "board_name", &NodeHardware::set_board_name<const std::string&>},
  };
  for (const Fact& f : facts) {
    std::string value = ReadFact(dir, f.file, errors);
    if (value.empty()) continue;
    // SMBIOS UUIDs are printed in either case by different kernels/firmware: one spelling.
    if (f.field == std::string("system_uuid")) value = absl::AsciiStrToLower(value);
    (hw.*f.set)(value);
    src[f.field] = kDmi;
  }
  if (src.empty()) return std::nullopt;
  return hw;
}

void AddDriverSysfsIdentity(const std::string& sysfs_root, Accelerator* acc,
                            std::vector<std::string>* errors) {
  const std::string dir = JoinPath(JoinPath(sysfs_root, "bus/pci/devices"), acc->pci_address());
  auto& src = *acc->mutable_fact_sources();
  const auto kDriver = provenance::v1::FACT_SOURCE_DRIVER_SYSFS;
  if (acc->serial().empty()) {
    std::string serial = ReadFact(dir, "serial_number", errors);
    if (!serial.empty()) {
      acc->set_serial(serial);
      src["serial"] = kDriver;
    }
  }
  if (acc->uuid().empty()) {
    std::string id = ReadFact(dir, "unique_id", errors);
    if (!id.empty()) {
      acc->set_uuid(id);
      src["uuid"] = kDriver;
    }
  }
}

}  // namespace prov::agent
