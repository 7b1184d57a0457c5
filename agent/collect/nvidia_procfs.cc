#include "agent/collect/nvidia_procfs.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "common/fs.h"

namespace prov::agent {

NvidiaProcfsInfo ParseNvidiaInformation(absl::string_view text) {
  NvidiaProcfsInfo info;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    size_t colon = line.find(':');
    if (colon == absl::string_view::npos) continue;
    absl::string_view key = absl::StripAsciiWhitespace(line.substr(0, colon));
    absl::string_view value = absl::StripAsciiWhitespace(line.substr(colon + 1));
    if (key == "Device Minor") {
      int minor = 0;
      if (absl::SimpleAtoi(value, &minor) && minor >= 0) info.minor = minor;
    } else if (key == "GPU UUID" && absl::StartsWith(value, "GPU-")) {
      // Older drivers print "GPU-????????-...." without permission; keep only real hex UUIDs.
      if (!absl::StrContains(value, '?')) info.uuid = std::string(value);
    }
  }
  return info;
}

absl::StatusOr<NvidiaProcfsInfo> ReadNvidiaProcfs(const std::string& procfs_root,
                                                  const std::string& pci_address) {
  auto text = ReadFileToString(
      JoinPath(procfs_root, "driver/nvidia/gpus/" + pci_address + "/information"), 64 << 10);
  if (!text.ok()) return text.status();
  return ParseNvidiaInformation(*text);
}

}  // namespace prov::agent
