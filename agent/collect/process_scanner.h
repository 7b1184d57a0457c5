// Process scan: which processes hold accelerator device files open, and the few facts about them
// the agent needs, read from <procfs-root>/<pid>/{fd/*,cgroup,status,cmdline,stat,environ}.
//
//   ProcessScanStats stats;
//   std::vector<ProcessInfo> procs = ScanAcceleratorProcesses("/proc", &stats);
//   absl::StatusOr<ProcessInfo> p = ReadProcess("/proc", 4242);   // e.g. a pid NVML reported
//
// Secrets: argv is held in memory for the classifier and digested (cmdline_digest), never reported.
// From environ only the variables in kAllowedEnv (and the names, not values, of variables with
// a prefix in kMarkerEnvPrefixes) are kept; the raw buffer is wiped after the parse.
// Processes that vanish mid-scan or whose fds we may not read are skipped and counted.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "agent/collect/device_files.h"

namespace prov::agent {

inline constexpr const char* kAllowedEnv[] = {
    "SLURM_JOB_ID", "SLURM_JOB_ACCOUNT",  "SLURM_JOB_USER", "SLURM_CLUSTER_NAME",
    "RANK",         "LOCAL_RANK",         "WORLD_SIZE",     "MASTER_ADDR",
    "MASTER_PORT",  "TORCHELASTIC_RUN_ID"};
// Launcher markers: only presence is kept (value replaced by "").
inline constexpr const char* kMarkerEnvPrefixes[] = {"DEEPSPEED_", "ACCELERATE_"};

struct ProcessInfo {
  uint32_t pid = 0;
  uint32_t ppid = 0;
  std::optional<uint32_t> uid;
  uint64_t start_ticks = 0;                // field 22 of stat (clock ticks since boot)
  std::vector<std::string> argv;           // in memory only; never reported
  std::vector<std::string> parent_argv;    // launcher detection (torchrun parent of workers)
  std::string cgroup;                      // raw /proc/<pid>/cgroup text
  std::map<std::string, std::string> env;  // allow-listed only
  std::vector<DeviceRef> devices;          // accelerator device files open
  std::vector<uint64_t> socket_inodes;     // from fd -> socket:[inode]
};

struct ProcessScanStats {
  uint64_t processes_seen = 0;
  uint64_t unreadable = 0;  // fd dir not readable (permission) or process gone
};

// Pure parsers, exposed for tests.
std::map<std::string, std::string> FilterEnviron(std::string& raw);  // wipes raw
std::vector<std::string> SplitCmdline(absl::string_view raw);
// ppid and start time from /proc/<pid>/stat text; false when malformed.
bool ParseStat(absl::string_view text, uint32_t* ppid, uint64_t* start_ticks);
std::optional<uint32_t> ParseStatusUid(absl::string_view text);

absl::StatusOr<ProcessInfo> ReadProcess(const std::string& procfs_root, uint32_t pid);
std::vector<ProcessInfo> ScanAcceleratorProcesses(const std::string& procfs_root,
                                                  ProcessScanStats* stats);

}  // namespace prov::agent
