// EventStream: one browser's live feed (GET /api/events), as server-sent events. Flags come from
// AnalysisService.WatchFlags called through the gateway's in-process channel with the viewer's
// own token (so a revoked token ends the feed); every `overview_interval` the fleet overview is
// sent too. Events (one line of JSON each):
//   event: hello      {"actor":..,"role":..}      once, first
//   event: overview   GetFleetOverviewResponse    at once, then periodically
//   event: flag       Flag                        each new or changed flag
//   event: resync     {}                          events were dropped (slow reader): re-fetch
//   event: end        {"code":..,"message":..}    the watch ended (provd stopping, token revoked)
// plus a ": keepalive" comment after `keepalive` of silence.
//
//   EventStreamHub hub({.max_streams = 16});
//   std::shared_ptr<EventStream> s = hub.Open(gateway, authorization, principal);  // null: full
//   while (!s->finished()) sink(s->Next(absl::Milliseconds(500)));  // "" when nothing to send
//   hub.Close(s);
//   hub.Stop();   // provd shutting down: every stream finishes within one Next() wait
//
// Threads: Next() is called by one HTTP worker thread per stream; gRPC's callback threads feed
// the flag queue; Stop()/Cancel() may come from any thread. A stream's queue is bounded
// (kMaxQueued events); past that it is cleared and a resync event is sent instead.
#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "provenance/v1/analysis.grpc.pb.h"
#include "provenance/v1/compliance.pb.h"
#include "server/web/api_gateway.h"

namespace prov::server::web {

struct EventStreamOptions {
  size_t max_streams = 16;
  absl::Duration overview_interval = absl::Seconds(5);
  absl::Duration keepalive = absl::Seconds(15);
  const Clock* clock = nullptr;  // null: RealClock (overview and keepalive timing)
};

class EventStream {
 public:
  static constexpr size_t kMaxQueued = 1000;

  EventStream(const ApiGateway& gateway, std::string authorization,
              const provenance::v1::Principal& who, const EventStreamOptions& options);
  ~EventStream();  // cancels the watch and waits for gRPC to let go of it
  EventStream(const EventStream&) = delete;
  EventStream& operator=(const EventStream&) = delete;

  // Waits up to `wait` for something to send and returns it as SSE text ("" if nothing yet).
  std::string Next(absl::Duration wait);
  bool finished() const { return finished_; }  // the end event was returned by Next()
  // Ends the stream: the next Next() returns the end event with this reason. Any thread.
  void Cancel(const std::string& reason);

 private:
  class Watch;
  std::string Overview(bool* ended);

  const ApiGateway& gateway_;
  const std::string authorization_;
  const EventStreamOptions options_;
  const Clock& clock_;
  std::unique_ptr<provenance::v1::AnalysisService::Stub> stub_;
  std::unique_ptr<Watch> watch_;
  // Only the Next() thread touches these.
  std::string pending_;  // hello, sent by the first Next()
  absl::Time next_overview_ = absl::InfinitePast();
  absl::Time last_sent_ = absl::InfinitePast();
  bool finished_ = false;
};

class EventStreamHub {
 public:
  explicit EventStreamHub(EventStreamOptions options) : options_(options) {}
  // Null when max_streams are open or the hub is stopped.
  std::shared_ptr<EventStream> Open(const ApiGateway& gateway, const std::string& authorization,
                                    const provenance::v1::Principal& who);
  void Close(const std::shared_ptr<EventStream>& stream);
  void Stop();
  bool stopped() const;
  size_t open_streams() const;
  const EventStreamOptions& options() const { return options_; }

 private:
  const EventStreamOptions options_;
  mutable absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_set<std::shared_ptr<EventStream>> open_ ABSL_GUARDED_BY(mu_);
};

}  // namespace prov::server::web
