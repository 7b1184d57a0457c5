// Policy YAML (server/policy/policy.h ParsePolicy): what provd loads from --policy and what
// IdentityService serves back.
#include <cstdint>

#include "absl/strings/string_view.h"
#include "server/policy/policy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view yaml(reinterpret_cast<const char*>(data), size);
  (void)prov::policy::ParsePolicy(yaml, "fuzz.yaml");
  return 0;
}
