// IngestFeed: the elected leader's reader of the PostgreSQL ingest batch log
// (server/store/repo/ingest_batches.h, pg/pg_ingest_batches.h): it hands every committed batch's
// observations to the analysis engine once, in each node's commit order, with the position after
// them, so the engine saves the position with the facts they produced (scale-out.md section 3),
// and the node events any replica appended to the log (a rejection or refusal round).
//
//   PROV_ASSIGN_OR_RETURN(auto reader, PgIngestBatchReader::Open(conninfo));
//   IngestFeed feed(*engine, std::move(reader), {.clock = &clock});
//   // elected(term):
//   engine->Lead(term);
//   feed.Start();        // waits for the Lead's reload, then reads from its saved position
//   feed.Wake();          // read now rather than at the next poll (tests; provd polls)
//   // deposed:
//   feed.Stop();
//   engine->Follow();
//
// The feed's thread: engine.WaitLeadPosition (the position the Lead loaded; the zero position
// when none was saved), then Read from the position (at most `limit` batches), decode each
// batch's record (DecodeLoggedRecord; a record that does not decode is counted, logged and
// skipped: the position still moves past it), SubmitLogged(observations, events, read.position)
// once per
// read that returned batches, and, once caught up, wait for Wake() or `poll`. A failed Read is
// counted, logged (rate limited) and retried after `poll`. Start after each Lead (a feed
// restarted without a new Lead would read again from that Lead's position). Start and Stop from
// one thread; Stop is idempotent and joins; Start after Stop starts again (elected twice).
// Wake and counters from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "server/analysis/analysis_engine.h"
#include "server/store/repo/ingest_batches.h"

namespace prov::server {

struct IngestFeedOptions {
  absl::Duration poll = absl::Milliseconds(250);  // read this often when nothing wakes it
  int limit = 500;                                // batches per read
  const Clock* clock = nullptr;                   // null: RealClock::Get() (lag only)
};

struct IngestFeedCounters {
  uint64_t batches = 0;        // batches read (decoded or not)
  uint64_t reports = 0;        // observations handed to the engine
  uint64_t node_events = 0;    // node events handed to the engine
  uint64_t decode_errors = 0;  // batches whose record did not decode (skipped)
  uint64_t read_errors = 0;    // failed reads (retried after poll)
  uint64_t seen = 0;           // len(position.seen): batches held above the horizon
  // Now minus the received time of the oldest batch the last read returned when that read was
  // not caught up; 0 when caught up.
  double lag_seconds = 0;
};

class IngestFeed {
 public:
  IngestFeed(AnalysisEngine& engine, std::unique_ptr<IngestBatchSource> source,
             IngestFeedOptions options = {});
  ~IngestFeed();  // Stop()
  IngestFeed(const IngestFeed&) = delete;
  IngestFeed& operator=(const IngestFeed&) = delete;

  void Start();  // no-op while running
  void Stop();
  void Wake();
  IngestFeedCounters counters() const;
  bool running() const;

 private:
  void Run();
  // Waits for Wake, Stop or `poll`; false when stopping.
  bool Wait();
  bool stopping() const;

  AnalysisEngine& engine_;
  const std::unique_ptr<IngestBatchSource> source_;  // the feed thread only
  const IngestFeedOptions options_;

  mutable absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool woken_ ABSL_GUARDED_BY(mu_) = false;
  IngestFeedCounters counters_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;  // Start/Stop's thread
};

}  // namespace prov::server
