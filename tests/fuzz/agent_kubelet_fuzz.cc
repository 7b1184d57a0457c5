// The kubelet pods file (agent/collect/kubelet_pods.h ParseKubeletPods, `--kubelet-pods-file`):
// a PodList as JSON, then one lookup in the index it builds.
#include <cstdint>

#include "absl/strings/string_view.h"
#include "agent/collect/kubelet_pods.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view json(reinterpret_cast<const char*>(data), size);
  auto pods = prov::agent::ParseKubeletPods(json, "pods.json");
  if (pods.ok()) (void)pods->Find("3f2c0000-0000-0000-0000-000000000000");
  return 0;
}
