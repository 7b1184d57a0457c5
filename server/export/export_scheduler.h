// ExportScheduler: provd's thread for periodic work on the record: a scheduled export when the
// newest scheduled export is older than the interval (provd --export-interval, daily by
// default), and a retention pass when the newest "retention.prune" audit entry is older than a
// day. Both "last done" times come from the database, so a restart neither skips nor doubles a
// day; the first start exports (and prunes) at once.
//
//   ExportScheduler scheduler(exporter.get(), pruner.get(), clock, {.export_interval =
//   absl::Hours(24)}); scheduler.Start();      // checks every `poll` of real time, and once at
//   start scheduler.Stop();       // wakes and joins the thread; a running export finishes first
//
//   // tests: no thread, a FakeClock, and Tick() by hand
//   clock.Advance(absl::Hours(25));
//   ExportScheduler::TickResult r = scheduler.Tick();   // r.exported, r.pruned
//
// Either job may be absent (null exporter or pruner, or a zero interval). Failures are logged to
// stderr and retried at the next check. Thread-safe: Tick may run beside the thread (exports are
// serialised by the Exporter).
#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "server/export/exporter.h"
#include "server/export/retention.h"

namespace prov::server {

class ExportScheduler {
 public:
  struct Options {
    absl::Duration export_interval = absl::Hours(24);  // zero: no scheduled exports
    absl::Duration prune_interval = absl::Hours(24);
    absl::Duration poll = absl::Minutes(1);  // real time between checks (the thread only)
  };
  struct TickResult {
    bool exported = false;
    bool pruned = false;
    absl::Status status;  // the first failure, if any
  };

  ExportScheduler(Exporter* exporter, RetentionPruner* pruner, const Clock& clock, Options options)
      : exporter_(exporter), pruner_(pruner), clock_(clock), options_(options) {}
  ~ExportScheduler() { Stop(); }
  ExportScheduler(const ExportScheduler&) = delete;
  ExportScheduler& operator=(const ExportScheduler&) = delete;

  void Start();
  void Stop();
  TickResult Tick();

 private:
  void Loop();

  Exporter* const exporter_;
  RetentionPruner* const pruner_;
  const Clock& clock_;
  const Options options_;
  absl::Mutex tick_mu_;  // one Tick at a time (the pruner is single-connection)
  // The stop signal uses std primitives (pthread underneath), which ThreadSanitizer sees even
  // with Debian's uninstrumented Abseil.
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;  // guarded by stop_mu_
  std::thread thread_;
};

}  // namespace prov::server
