// RunLoad: drives N simulated agents (AgentStream, one connection each) against one listening
// target and measures it. prov-ingest-bench calls it once per target (noop sink, then provd) with
// the same options, so the two results compare like with like.
//
//   LoadOptions opts{.mode = LoadMode::kSaturation, .agents = 1000, .duration = absl::Seconds(60)};
//   absl::StatusOr<LoadResult> r = RunLoad("127.0.0.1:40123", target_pid, opts);
//   r->reports_per_second; r->target_cpu_us_per_report; r->latency_p99; ...
//
// Phases: connect (every channel READY, or the connect timeout), then
//  - saturation: every agent keeps `window` reports in flight; a warmup, then the measured window;
//  - cadence: agent i's reports fall due at t0 + i*interval/agents + k*interval (staggered) for
//    `duration`; then a drain of up to `drain_timeout` for the last acks.
// Target CPU comes from /proc/<pid>/stat (utime+stime) sampled at the window's edges, peak RSS
// from VmHWM, the generator's own CPU from /proc/self/stat. Nothing here asserts a figure.
//
// Thread-safety: call from one thread; it blocks for the whole run.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace prov::bench {

enum class LoadMode { kSaturation, kCadence };

struct LoadOptions {
  LoadMode mode = LoadMode::kSaturation;
  int agents = 1000;
  absl::Duration duration = absl::Seconds(60);
  absl::Duration interval = absl::Seconds(10);  // cadence
  absl::Duration warmup = absl::Seconds(3);     // saturation
  int window = 8;                               // unacked reports per agent
  int first_agent = 0;  // agent i sends node bench-node-<first_agent + i> (concurrent runs differ)
  absl::Duration connect_timeout = absl::Seconds(120);
  absl::Duration drain_timeout = absl::Seconds(15);  // cadence
  std::string procfs_root = "/proc";
  bool verbose = true;  // progress lines on stderr
};

struct LoadResult {
  size_t report_bytes = 0;  // serialized size of one report
  int agents = 0;
  int connected = 0;  // channels READY after the connect phase
  double connect_seconds = 0;
  double window_seconds = 0;  // measured window (saturation) or send period + drain (cadence)
  uint64_t requested = 0;     // cadence: reports that fell due in the window
  uint64_t sent = 0;          // writes started in the window
  uint64_t acked = 0;         // covered by acks in the window
  uint64_t rejected = 0;
  uint64_t unacked_at_end = 0;
  uint64_t streams_failed = 0;
  std::string first_error;
  double reports_per_second = 0;  // acked / window_seconds
  double latency_p50_ms = 0, latency_p99_ms = 0, latency_max_ms = 0;
  double target_cpu_seconds = 0;  // in the window
  double target_cores = 0;        // target_cpu_seconds / window_seconds
  double target_cpu_us_per_report = 0;
  double target_connect_cpu_seconds = 0;
  uint64_t target_rss_idle = 0;       // before any agent connected
  uint64_t target_rss_connected = 0;  // all agents connected, before load
  uint64_t target_rss_end = 0;
  uint64_t target_peak_rss = 0;  // VmHWM at the end
  int target_threads = 0;
  double generator_cpu_seconds = 0;
  double generator_cores = 0;
  uint64_t generator_peak_rss = 0;
  // Whole machine (all processes) in the window, and what is left beside target and generator:
  // other engineers' builds on a shared box show up here and make the figures noisy.
  double machine_cores = 0;
  double other_cores = 0;
};

absl::StatusOr<LoadResult> RunLoad(const std::string& address, pid_t target_pid,
                                   const LoadOptions& options);

}  // namespace prov::bench
