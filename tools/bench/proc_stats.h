// ProcStats: CPU time and memory of a process, read from procfs, for benchmark figures.
//
//   absl::StatusOr<ProcSample> before = ReadProcSample("/proc", child_pid);
//   ...
//   absl::StatusOr<ProcSample> after = ReadProcSample("/proc", child_pid);
//   double cpu_s = after->cpu_seconds - before->cpu_seconds;   // utime + stime
//   uint64_t peak = after->peak_rss_bytes;                     // VmHWM
//
// The parsers are separate so tests feed them fixture text. `procfs_root` is injectable for the
// same reason. Thread-safety: free functions, no shared state.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace prov::bench {

struct ProcSample {
  double cpu_seconds = 0;       // utime + stime, all threads
  uint64_t rss_bytes = 0;       // VmRSS
  uint64_t peak_rss_bytes = 0;  // VmHWM
  int threads = 0;              // Threads
};

// Parses /proc/<pid>/stat text; returns utime+stime in clock ticks. The comm field may hold
// spaces and parentheses, so fields are counted from the last ')'.
absl::StatusOr<uint64_t> ParseStatCpuTicks(absl::string_view stat_text);

// Parses /proc/<pid>/status text into rss/peak/threads (the other fields stay untouched).
absl::Status ParseStatus(absl::string_view status_text, ProcSample& sample);

// Parses the "cpu" line of /proc/stat: busy (non-idle, non-iowait) CPU seconds of the whole
// machine since boot, all cores summed. Shows how much else ran beside the benchmark.
absl::StatusOr<double> ParseMachineBusySeconds(absl::string_view proc_stat_text);
absl::StatusOr<double> ReadMachineBusySeconds(const std::string& procfs_root);

absl::StatusOr<ProcSample> ReadProcSample(const std::string& procfs_root, pid_t pid);
// The calling process ("self").
absl::StatusOr<ProcSample> ReadSelfSample(const std::string& procfs_root);

}  // namespace prov::bench
