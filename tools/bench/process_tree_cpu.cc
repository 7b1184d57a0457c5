#include "tools/bench/process_tree_cpu.h"

#include <unistd.h>

#include <filesystem>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/fs.h"
#include "common/status_macros.h"

namespace prov::bench {
namespace {

// Fields after "pid (comm) ": state 0, ppid 1, utime 11, stime 12, cutime 13, cstime 14.
constexpr size_t kPpid = 1, kUtime = 11, kStime = 12, kCutime = 13, kCstime = 14;

}  // namespace

absl::StatusOr<StatTimes> ParseStatTimes(absl::string_view stat_text) {
  const size_t close = stat_text.rfind(')');
  if (close == absl::string_view::npos) {
    return absl::InvalidArgumentError("stat: no ')' closing the comm field");
  }
  std::vector<absl::string_view> f =
      absl::StrSplit(stat_text.substr(close + 1), ' ', absl::SkipEmpty());
  if (f.size() <= kCstime) {
    return absl::InvalidArgumentError(
        absl::StrCat("stat: ", f.size(), " fields after comm, need > ", kCstime));
  }
  int64_t ppid = 0;
  uint64_t u = 0, s = 0, cu = 0, cs = 0;
  if (!absl::SimpleAtoi(f[kPpid], &ppid) || !absl::SimpleAtoi(f[kUtime], &u) ||
      !absl::SimpleAtoi(f[kStime], &s) || !absl::SimpleAtoi(f[kCutime], &cu) ||
      !absl::SimpleAtoi(f[kCstime], &cs)) {
    return absl::InvalidArgumentError("stat: ppid, utime, stime, cutime or cstime not a number");
  }
  return StatTimes{.ppid = static_cast<pid_t>(ppid), .own_ticks = u + s, .children_ticks = cu + cs};
}

absl::StatusOr<double> ReadProcessTreeCpu(const std::string& procfs_root, pid_t root) {
  PROV_ASSIGN_OR_RETURN(std::string root_text,
                        ReadFileToString(absl::StrCat(procfs_root, "/", root, "/stat")));
  PROV_ASSIGN_OR_RETURN(StatTimes root_times, ParseStatTimes(root_text));
  uint64_t ticks = root_times.own_ticks + root_times.children_ticks;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(procfs_root, ec)) {
    const std::string name = entry.path().filename().string();
    int64_t pid = 0;
    if (!absl::SimpleAtoi(name, &pid) || pid == root) continue;
    absl::StatusOr<std::string> text = ReadFileToString(entry.path().string() + "/stat");
    if (!text.ok()) continue;  // exited meanwhile
    absl::StatusOr<StatTimes> times = ParseStatTimes(*text);
    if (!times.ok() || times->ppid != root) continue;
    ticks += times->own_ticks;
  }
  if (ec) return absl::InternalError(absl::StrCat("listing ", procfs_root, ": ", ec.message()));
  return static_cast<double>(ticks) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace prov::bench
