#include "server/store/node_hardware_key.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace prov::server {

std::string NodeHardwareKey(const provenance::v1::NodeHardware& hw) {
  return absl::StrCat(hw.system_uuid(), "\x1f", hw.board_serial(), "\x1f", hw.product_serial(),
                      "\x1f", hw.chassis_serial(), "\x1f", hw.product_name(), "\x1f",
                      hw.sys_vendor(), "\x1f", hw.board_name());
}

NodeHardwareDecision DecideNodeHardware(const provenance::v1::NodeHardware* stored,
                                        int64_t node_last_seen_us,
                                        const provenance::v1::NodeHardware& reported,
                                        absl::string_view reported_key, int64_t seen_us) {
  NodeHardwareDecision d;
  if (seen_us < node_last_seen_us) return d;  // older than what is stored
  if (stored != nullptr && NodeHardwareKey(*stored) == reported_key) {
    d.action = NodeHardwareDecision::kCacheOnly;
    return d;
  }
  d.action = NodeHardwareDecision::kWrite;
  if (stored == nullptr) return d;
  const std::pair<absl::string_view, std::pair<absl::string_view, absl::string_view>> facts[] = {
      {"system_uuid", {stored->system_uuid(), reported.system_uuid()}},
      {"board_serial", {stored->board_serial(), reported.board_serial()}},
  };
  for (const auto& [field, values] : facts) {
    if (values.first.empty() || values.second.empty() || values.first == values.second) continue;
    d.changes.push_back({field, values.first, values.second});
  }
  return d;
}

}  // namespace prov::server
