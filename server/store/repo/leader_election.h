// LeaderElection: which provd replica runs the singletons (the analysis engine, the alert
// notifier, the export scheduler; issue 12). Exactly one replica leads at a time; the others
// stand by and one of them takes over when the leader dies or steps down.
//
//   std::unique_ptr<LeaderElection> election = ...;   // SoleLeader, or PgLeaderElection
//   PROV_RETURN_IF_ERROR(election->Start({
//       .elected = [&](int64_t term) { StartEngine(term); },   // rebuild state, catch up
//       .deposed = [&] { StopEngine(); },                       // stop writing at once
//   }));
//   election->leading();                // for /metrics and provctl status
//   election->Stop();                   // steps down: a standby takes over without waiting
//
// The events are called on the election's own thread, alternating (elected, deposed, elected,
// ...), never concurrently; deposed is called by Stop() (and the destructor) too when this
// replica leads, so what the events touch must outlive the election. Each
// election has a term, higher than every term before it: a leader's writes that must never land
// after it was deposed check the term inside their transaction (the PostgreSQL implementation's
// CheckLeaderTerm), so a replica that has not noticed yet that it lost cannot write over its
// successor (fencing). Implementations are thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>

#include "absl/status/status.h"

namespace prov::server {

struct LeaderEvents {
  std::function<void(int64_t term)> elected = nullptr;
  std::function<void()> deposed = nullptr;
};

class LeaderElection {
 public:
  virtual ~LeaderElection() = default;
  // Starts campaigning in the background. FAILED_PRECONDITION when already started.
  virtual absl::Status Start(LeaderEvents events) = 0;
  // Steps down (calling deposed when leading) and stops campaigning; idempotent. Not from
  // inside an event (it waits for the thread that runs them).
  virtual void Stop() = 0;
  virtual bool leading() const = 0;
  // The term this replica leads in; 0 when it does not lead.
  virtual int64_t term() const = 0;
};

// One provd on its own store (SQLite: one process owns the file): it leads from Start() to
// Stop(), in term 1. Start and Stop are called from one thread (provd's main); leading() and
// term() from any.
class SoleLeader : public LeaderElection {
 public:
  ~SoleLeader() override { Stop(); }
  absl::Status Start(LeaderEvents events) override;
  void Stop() override;
  bool leading() const override;
  int64_t term() const override { return leading() ? 1 : 0; }

 private:
  LeaderEvents events_;
  bool started_ = false;
  std::atomic<bool> leading_{false};
};

}  // namespace prov::server
