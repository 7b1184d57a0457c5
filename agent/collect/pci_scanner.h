// PCI scan: finds the node's accelerators under <sysfs-root>/bus/pci/devices/*.
//
//   std::vector<std::string> errors;
//   std::vector<provenance::v1::Accelerator> accs =
//       ScanPciAccelerators("/sys", AcceleratorCatalog::Builtin(), &errors);
//
// A device is an accelerator when
//   - its class is 0x0302xx (3D controller), 0x0380xx (other display), 0x1200xx (processing
//     accelerator) or 0x0b40xx (co-processor), or
//   - it is a 0x0300xx VGA device of a vendor the catalog knows, or
//   - the catalog lists its exact (vendor, device) pair as an accelerator,
// and the catalog does not list it as a switch (NVSwitch). Other classes (NICs, bridges) are not.
// Unknown devices of an accelerator class keep their raw IDs with model_known=false; an unknown
// device of a catalogued vendor takes the vendor's default row (e.g. Huawei -> family "ascend").
// memory_total_bytes comes from the catalog here (source CATALOG); NVML later overrides it.
// Unreadable devices are skipped with a message in *errors, never abort the scan.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/accelerator_catalog.h"
#include "provenance/v1/report.pb.h"

namespace prov::agent {

// Decides from IDs alone (exposed for tests).
bool IsAcceleratorDevice(uint32_t class_code, uint32_t vendor_id, uint32_t device_id,
                         const AcceleratorCatalog& catalog);

std::vector<provenance::v1::Accelerator> ScanPciAccelerators(const std::string& sysfs_root,
                                                             const AcceleratorCatalog& catalog,
                                                             std::vector<std::string>* errors);

}  // namespace prov::agent
