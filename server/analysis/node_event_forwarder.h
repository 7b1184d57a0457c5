// NodeEventForwarder: one replica's node events (its ingest writer's rejection and refusal rounds)
// on their way to the elected leader's analysis engine through the PostgreSQL ingest batch log.
// Agents are refused on whichever replica they reach; only the leader's engine judges them (a
// standby's engine would drop them as not leading).
//
//   NodeEventForwarder forwarder(std::move(appender), clock, registry);
//   writer_options.on_node_events = [&](std::vector<NodeEvent> events) {
//     forwarder.Forward(std::move(events));
//   };
//   forwarder.Retry();   // every few seconds (the replica's sync thread)
//   // the leader: IngestFeed reads the row, engine.SubmitLogged(observations, events, position)
//
// Forward appends the events, with any an earlier failure held back, as one batch-log row
// (EncodeNodeEvents; the time is this replica's clock). A failed append holds them for the next
// Forward or Retry, at most `max_pending` (beyond, the oldest are dropped and counted): an
// outage of PostgreSQL long enough to fill it loses only the newest word of the node rules, since
// every rejection event carries the node's totals as stored. At least once: an append whose
// COMMIT answer was lost may land twice (a rule sees the same round again).
// Metrics (registry): prov_node_events_forwarded_total, prov_node_events_forward_failures_total,
// prov_node_events_forward_dropped_total, prov_node_events_forward_pending. Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "server/analysis/node_event.h"
#include "server/store/repo/ingest_batches.h"

namespace prov::server {

class NodeEventForwarder {
 public:
  NodeEventForwarder(std::unique_ptr<IngestBatchAppender> appender, const Clock& clock,
                     prometheus::Registry& registry, size_t max_pending = 10000);

  void Forward(std::vector<NodeEvent> events);
  // Appends what an earlier failure held back (nothing to do: returns at once).
  void Retry();
  size_t pending() const;

 private:
  void AppendPendingLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::unique_ptr<IngestBatchAppender> appender_;
  const Clock& clock_;
  const size_t max_pending_;
  prometheus::Counter& forwarded_;
  prometheus::Counter& failures_;
  prometheus::Counter& dropped_;
  prometheus::Gauge& pending_gauge_;
  mutable absl::Mutex mu_;
  std::deque<NodeEvent> pending_ ABSL_GUARDED_BY(mu_);
  absl::Time last_failure_log_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace prov::server
