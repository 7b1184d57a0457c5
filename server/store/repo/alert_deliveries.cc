#include "server/store/repo/alert_deliveries.h"

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace prov::server {

std::string LabelsToJson(const AlertLabels& labels) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : labels) j[k] = v;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

absl::StatusOr<AlertLabels> LabelsFromJson(const std::string& json) {
  nlohmann::json j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return absl::InvalidArgumentError("not a JSON object");
  AlertLabels out;
  for (const auto& [k, v] : j.items()) {
    if (!v.is_string()) return absl::InvalidArgumentError(absl::StrCat("label ", k, ": not text"));
    out[k] = v.get<std::string>();
  }
  return out;
}

}  // namespace prov::server
