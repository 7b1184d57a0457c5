#include "server/store/node_hardware_key.h"

#include "absl/strings/str_cat.h"

namespace prov::server {

std::string NodeHardwareKey(const provenance::v1::NodeHardware& hw) {
  return absl::StrCat(hw.system_uuid(), "\x1f", hw.board_serial(), "\x1f", hw.product_serial(),
                      "\x1f", hw.chassis_serial(), "\x1f", hw.product_name(), "\x1f",
                      hw.sys_vendor(), "\x1f", hw.board_name());
}

}  // namespace prov::server
