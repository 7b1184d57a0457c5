// Watchdog: the agent caps its own CPU and memory, as osquery's watchdog caps its worker.
//
//   Watchdog dog({.cpu_percent = 10, .memory_bytes = 200 << 20}, clock);
//   ... collect a report ...
//   WatchdogStatus s = dog.Check();          // reads /proc/self/stat and statm
//   if (s.change == WatchdogChange::kOverMemory) { log; shut down; exit(kWatchdogExitCode); }
//   next += dog.Interval(base_interval);     // x2, x4 while backing off
//   collector.set_skip_expensive(dog.skip_expensive());
//
// CPU: each Check measures the agent's CPU time (utime + stime) over the wall time since the
// previous Check, in percent of one core. `sustained_checks` checks in a row over `cpu_percent`
// raise the back-off level by one (at most `max_level`): the collection interval doubles per
// level, capped at max(base, `max_interval`) so provd never sees a backed-off agent as silent,
// and expensive collectors are skipped from level 1 on. As many checks in a row under half the
// limit lower it again. A single spike changes nothing.
// Memory: resident memory over `memory_bytes` at a Check is kOverMemory; the caller exits with
// kWatchdogExitCode and its supervisor (systemd Restart=on-failure, the Kubernetes kubelet)
// starts a fresh process: a leak is cured by a restart, and the spool keeps unacked reports.
// A limit of 0 disables that check. Unreadable /proc/self files read as zero (no action).
//
// Why one process and not osquery's watcher + worker pair: the agent already runs under a
// supervisor that restarts it (systemd, Kubernetes), so a second process would only duplicate
// it; and the CPU the agent spends comes from the node's load (processes, sockets to scan), which
// a restart would not reduce, so the agent backs off instead of being killed for CPU.
//
// Not thread-safe: the agent's main thread calls it once per collection.
#pragma once

#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "common/clock.h"

namespace prov::agent {

inline constexpr int kWatchdogExitCode = 3;  // prov-agent's exit status when over memory

struct WatchdogOptions {
  double cpu_percent = 10;             // of one core, per check period; 0: no CPU limit
  uint64_t memory_bytes = 200u << 20;  // resident; 0: no memory limit
  int sustained_checks = 3;            // checks in a row over (or under half) the limit
  int max_level = 2;                   // interval x2, x4
  // The backed-off interval never exceeds max(base, max_interval): under provd's default
  // --silent-after (60 s), so backing off does not make the node look silent.
  absl::Duration max_interval = absl::Seconds(45);
  std::string self_dir = "/proc/self";  // tests: a folder with fake stat and statm
};

enum class WatchdogChange { kNone, kBackedOff, kRecovered, kOverMemory };

struct WatchdogStatus {
  double cpu_percent = 0;  // over the last check period (0 at the first check)
  uint64_t rss_bytes = 0;
  int level = 0;  // 0: normal; n: interval x2^n, expensive collectors skipped
  WatchdogChange change = WatchdogChange::kNone;
};

class Watchdog {
 public:
  Watchdog(WatchdogOptions options, const Clock& clock) : options_(options), clock_(clock) {}

  WatchdogStatus Check();
  int level() const { return level_; }
  bool skip_expensive() const { return level_ > 0; }
  absl::Duration Interval(absl::Duration base) const;
  const WatchdogOptions& options() const { return options_; }

 private:
  const WatchdogOptions options_;
  const Clock& clock_;
  bool has_last_ = false;
  double last_cpu_seconds_ = 0;
  absl::Time last_time_;
  int level_ = 0;
  int over_ = 0;   // consecutive checks over the limit
  int under_ = 0;  // consecutive checks under half the limit
};

}  // namespace prov::agent
