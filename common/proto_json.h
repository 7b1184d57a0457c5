// Proto3 JSON for humans and tools (prov-agent --once, provctl -o json, scenario files).
//
//   std::string json = prov::ToJson(report);             // pretty, proto field names
//   absl::Status s = prov::FromJson(text, &scenario);    // errors name the offending field
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"

namespace prov {

std::string ToJson(const google::protobuf::Message& message, bool pretty = true);
absl::Status FromJson(absl::string_view json, google::protobuf::Message* message);

}  // namespace prov
