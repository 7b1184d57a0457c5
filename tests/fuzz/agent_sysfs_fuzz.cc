// The agent's sysfs readers (agent/collect): SMBIOS identity (class/dmi/id, hardware_identity.h),
// the PCI scan (bus/pci/devices/*/{class,vendor,device,subsystem_*}, pci_scanner.h) and the
// driver's identity files (serial_number, unique_id). They read a sysfs root, so the input is a
// scratch tree: its parts (fuzz_input.h, kPartSeparator) are the files' contents in kFiles order;
// an empty part leaves that file out.
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

#include "agent/collect/hardware_identity.h"
#include "agent/collect/pci_scanner.h"
#include "common/accelerator_catalog.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

constexpr char kDevice[] = "bus/pci/devices/0000:3b:00.0/";
const char* const kFiles[] = {
    "class/dmi/id/product_uuid",
    "class/dmi/id/product_serial",
    "class/dmi/id/board_serial",
    "class/dmi/id/chassis_serial",
    "class/dmi/id/product_name",
    "class/dmi/id/sys_vendor",
    "class/dmi/id/board_name",
    "@class",
    "@vendor",
    "@device",
    "@subsystem_vendor",
    "@subsystem_device",
    "@serial_number",
    "@unique_id",
};
constexpr size_t kFileCount = sizeof(kFiles) / sizeof(kFiles[0]);

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& root = prov::fuzz::ScratchDir("sysfs");
  const std::vector<std::string> parts = prov::fuzz::SplitParts(data, size, kFileCount);
  for (size_t i = 0; i < kFileCount; ++i) {
    std::string rel = kFiles[i];
    if (rel[0] == '@') rel = kDevice + rel.substr(1);
    const std::string path = root + "/" + rel;
    if (parts[i].empty()) {
      unlink(path.c_str());
    } else {
      prov::fuzz::WriteFileOrDie(path, parts[i]);
    }
  }
  std::vector<std::string> errors;
  (void)prov::agent::ReadDmiIdentity(root, &errors);
  std::vector<provenance::v1::Accelerator> accelerators =
      prov::agent::ScanPciAccelerators(root, prov::AcceleratorCatalog::Builtin(), &errors);
  for (auto& acc : accelerators) prov::agent::AddDriverSysfsIdentity(root, &acc, &errors);
  return 0;
}
