// Hardware identity that survives an OS reinstall: the machine's SMBIOS facts and the
// accelerators' serials and UUIDs from their drivers' sysfs attributes.
//
//   std::vector<std::string> errors;
//   std::optional<provenance::v1::NodeHardware> hw = ReadDmiIdentity("/sys", &errors);
//   if (hw) *report.mutable_node()->mutable_hardware() = *hw;
//   for (Accelerator& acc : accs) AddDriverSysfsIdentity("/sys", &acc, &errors);
//
// ReadDmiIdentity reads <sysfs>/class/dmi/id/{product_uuid, product_serial, board_serial,
// chassis_serial, product_name, sys_vendor, board_name}. The serials and the UUID are root-only
// (mode 0400): a file that exists but cannot be read leaves the fact empty and adds one error
// naming it ("product_uuid unreadable (permission denied; the agent is not root)"); a file
// that does not exist (no SMBIOS: VMs without it, Arm boards) is simply absent. Vendor
// placeholders ("To Be Filled By O.E.M.", "Not Specified", "Default string", "0123456789", an
// all-zero or all-F UUID) are dropped: a thousand nodes sharing "Default string" would look like
// one cloned identity. Returns nullopt when no fact at all was found.
//
// AddDriverSysfsIdentity reads <sysfs>/bus/pci/devices/<pci_address>/{serial_number, unique_id}.
// /sys/class/drm/cardN/device and /sys/class/accel/accelN/device are links to this same PCI
// directory, so the one read covers amdgpu (serial_number, unique_id on MI-series boards),
// habanalabs and Ascend drivers where they expose the same attribute names. A fact already set
// is kept (callers run this before NVML enrichment, which wins). Source: FACT_SOURCE_DRIVER_SYSFS.
// An attribute that exists but cannot be read adds an error naming it, like the DMI files.
//
// Thread-safety: pure functions of the file system; safe from any thread.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "provenance/v1/report.pb.h"

namespace prov::agent {

std::optional<provenance::v1::NodeHardware> ReadDmiIdentity(const std::string& sysfs_root,
                                                            std::vector<std::string>* errors);

void AddDriverSysfsIdentity(const std::string& sysfs_root, provenance::v1::Accelerator* acc,
                            std::vector<std::string>* errors);

// True for SMBIOS placeholder values that identify nothing (exposed for tests).
bool IsPlaceholderIdentity(const std::string& value);

}  // namespace prov::agent
