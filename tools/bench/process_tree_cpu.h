// ProcessTreeCpu: CPU seconds of a server process and its direct children, for benchmark
// figures of PostgreSQL (the postmaster and its backends, walwriter, checkpointer, ...).
//
//   absl::StatusOr<double> before = ReadProcessTreeCpu("/proc", postmaster_pid);
//   ... load ...
//   absl::StatusOr<double> after = ReadProcessTreeCpu("/proc", postmaster_pid);
//   double pg_cpu_s = *after - *before;
//
// The sum is the root's utime+stime plus cutime+cstime (children it has reaped: backends of
// connections that closed keep counting) plus utime+stime of every live process whose parent is
// the root. Grandchildren are not counted (PostgreSQL has none). Processes that vanish between
// listing /proc and reading them are skipped. Thread-safety: free functions, no shared state.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace prov::bench {

struct StatTimes {
  pid_t ppid = 0;
  uint64_t own_ticks = 0;       // utime + stime
  uint64_t children_ticks = 0;  // cutime + cstime (reaped children)
};

// Parses /proc/<pid>/stat text (comm may hold spaces and parentheses).
absl::StatusOr<StatTimes> ParseStatTimes(absl::string_view stat_text);

// CPU seconds of `root` and its live direct children, plus what its reaped children used.
absl::StatusOr<double> ReadProcessTreeCpu(const std::string& procfs_root, pid_t root);

}  // namespace prov::bench
