#include "agent/collect/self_usage.h"

#include <unistd.h>

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "common/fs.h"

namespace prov::agent {

SelfUsage ReadSelfUsage(const std::string& self_dir) {
  SelfUsage u;
  if (auto stat = ReadFileToString(JoinPath(self_dir, "stat"), 4096); stat.ok()) {
    size_t close = stat->rfind(')');
    if (close != std::string::npos) {
      std::vector<absl::string_view> f =
          absl::StrSplit(absl::string_view(*stat).substr(close + 1), ' ', absl::SkipEmpty());
      uint64_t utime = 0, stime = 0;  // fields 14 and 15: f[11], f[12]
      if (f.size() > 12 && absl::SimpleAtoi(f[11], &utime) && absl::SimpleAtoi(f[12], &stime)) {
        u.cpu_seconds =
            static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
      }
    }
  }
  if (auto statm = ReadFileToString(JoinPath(self_dir, "statm"), 4096); statm.ok()) {
    std::vector<absl::string_view> f = absl::StrSplit(*statm, ' ', absl::SkipEmpty());
    uint64_t pages = 0;
    if (f.size() > 1 && absl::SimpleAtoi(f[1], &pages)) {
      u.rss_bytes = pages * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
    }
  }
  return u;
}

}  // namespace prov::agent
