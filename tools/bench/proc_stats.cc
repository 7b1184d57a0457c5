#include "tools/bench/proc_stats.h"

#include <unistd.h>

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/fs.h"
#include "common/status_macros.h"

namespace prov::bench {
namespace {

// Fields after "pid (comm) ": state is index 0, utime index 11, stime index 12 (proc(5)).
constexpr size_t kUtimeIndex = 11;
constexpr size_t kStimeIndex = 12;

absl::StatusOr<uint64_t> ParseKb(absl::string_view line, absl::string_view key) {
  absl::string_view rest = line.substr(key.size());
  rest = absl::StripAsciiWhitespace(rest);
  if (!absl::ConsumeSuffix(&rest, "kB")) {
    return absl::InvalidArgumentError(absl::StrCat("status field ", key, " has no kB unit"));
  }
  uint64_t kb = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(rest), &kb)) {
    return absl::InvalidArgumentError(absl::StrCat("status field ", key, " is not a number"));
  }
  return kb * 1024;
}

absl::StatusOr<ProcSample> ReadSample(const std::string& dir) {
  PROV_ASSIGN_OR_RETURN(std::string stat, ReadFileToString(dir + "/stat"));
  PROV_ASSIGN_OR_RETURN(std::string status, ReadFileToString(dir + "/status"));
  PROV_ASSIGN_OR_RETURN(uint64_t ticks, ParseStatCpuTicks(stat));
  ProcSample sample;
  sample.cpu_seconds = static_cast<double>(ticks) / static_cast<double>(sysconf(_SC_CLK_TCK));
  PROV_RETURN_IF_ERROR(ParseStatus(status, sample));
  return sample;
}

}  // namespace

absl::StatusOr<uint64_t> ParseStatCpuTicks(absl::string_view stat_text) {
  const size_t close = stat_text.rfind(')');
  if (close == absl::string_view::npos) {
    return absl::InvalidArgumentError("stat: no ')' closing the comm field");
  }
  std::vector<absl::string_view> fields =
      absl::StrSplit(stat_text.substr(close + 1), ' ', absl::SkipEmpty());
  if (fields.size() <= kStimeIndex) {
    return absl::InvalidArgumentError(
        absl::StrCat("stat: ", fields.size(), " fields after comm, need > ", kStimeIndex));
  }
  uint64_t utime = 0, stime = 0;
  if (!absl::SimpleAtoi(fields[kUtimeIndex], &utime) ||
      !absl::SimpleAtoi(fields[kStimeIndex], &stime)) {
    return absl::InvalidArgumentError("stat: utime/stime are not numbers");
  }
  return utime + stime;
}

absl::Status ParseStatus(absl::string_view status_text, ProcSample& sample) {
  bool saw_rss = false;
  for (absl::string_view line : absl::StrSplit(status_text, '\n')) {
    if (absl::StartsWith(line, "VmRSS:")) {
      PROV_ASSIGN_OR_RETURN(sample.rss_bytes, ParseKb(line, "VmRSS:"));
      saw_rss = true;
    } else if (absl::StartsWith(line, "VmHWM:")) {
      PROV_ASSIGN_OR_RETURN(sample.peak_rss_bytes, ParseKb(line, "VmHWM:"));
    } else if (absl::StartsWith(line, "Threads:")) {
      absl::string_view v = absl::StripAsciiWhitespace(line.substr(8));
      if (!absl::SimpleAtoi(v, &sample.threads)) {
        return absl::InvalidArgumentError("status field Threads: is not a number");
      }
    }
  }
  if (!saw_rss) return absl::InvalidArgumentError("status: no VmRSS line (zombie process?)");
  return absl::OkStatus();
}

absl::StatusOr<double> ParseMachineBusySeconds(absl::string_view proc_stat_text) {
  absl::string_view line = proc_stat_text.substr(0, proc_stat_text.find('\n'));
  std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
  // cpu user nice system idle iowait irq softirq steal ...
  constexpr size_t kIdle = 4, kIowait = 5, kNeeded = 8;
  if (f.size() < kNeeded || f[0] != "cpu") {
    return absl::InvalidArgumentError("/proc/stat: first line is not an aggregate cpu line");
  }
  uint64_t busy = 0;
  for (size_t i = 1; i < f.size() && i <= kNeeded - 1; ++i) {
    uint64_t v = 0;
    if (!absl::SimpleAtoi(f[i], &v)) {
      return absl::InvalidArgumentError(absl::StrCat("/proc/stat: cpu field ", i, " not a number"));
    }
    if (i != kIdle && i != kIowait) busy += v;
  }
  return static_cast<double>(busy) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

absl::StatusOr<double> ReadMachineBusySeconds(const std::string& procfs_root) {
  PROV_ASSIGN_OR_RETURN(std::string text, ReadFileToString(procfs_root + "/stat"));
  return ParseMachineBusySeconds(text);
}

absl::StatusOr<ProcSample> ReadProcSample(const std::string& procfs_root, pid_t pid) {
  return ReadSample(absl::StrCat(procfs_root, "/", pid));
}

absl::StatusOr<ProcSample> ReadSelfSample(const std::string& procfs_root) {
  return ReadSample(procfs_root + "/self");
}

}  // namespace prov::bench
