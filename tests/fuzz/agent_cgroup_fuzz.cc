// The agent's cgroup parser (agent/collect/cgroup_parser.h): /proc/<pid>/cgroup text, and each
// of its lines' paths on their own (Kubernetes pod and container ids, Slurm job and step ids).
#include <cstdint>

#include "absl/strings/string_view.h"
#include "agent/collect/cgroup_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  (void)prov::agent::ParseCgroupFile(text);
  (void)prov::agent::ParseCgroupPath(text);
  return 0;
}
