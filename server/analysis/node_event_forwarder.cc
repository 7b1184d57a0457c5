#include "server/analysis/node_event_forwarder.h"

#include <string>
#include <utility>

#include "common/log/log.h"
#include "server/analysis/observation_record.h"

namespace prov::server {
namespace {

prometheus::Counter& MakeCounter(prometheus::Registry& registry, const char* name,
                                 const char* help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry).Add({});
}

}  // namespace

NodeEventForwarder::NodeEventForwarder(std::unique_ptr<IngestBatchAppender> appender,
                                       const Clock& clock, prometheus::Registry& registry,
                                       size_t max_pending)
    : appender_(std::move(appender)),
      clock_(clock),
      max_pending_(max_pending < 1 ? 1 : max_pending),
      forwarded_(MakeCounter(registry, "prov_node_events_forwarded_total",
                             "Node events (rejection and refusal rounds) this replica appended "
                             "to the ingest batch log for the leader's analysis engine.")),
      failures_(MakeCounter(registry, "prov_node_events_forward_failures_total",
                            "Failed appends of node events to the ingest batch log (held and "
                            "retried).")),
      dropped_(MakeCounter(registry, "prov_node_events_forward_dropped_total",
                           "Node events dropped: more were held back by failed appends than the "
                           "replica keeps.")),
      pending_gauge_(prometheus::BuildGauge()
                         .Name("prov_node_events_forward_pending")
                         .Help("Node events held back by failed appends, waiting for a retry.")
                         .Register(registry)
                         .Add({})) {}

void NodeEventForwarder::Forward(std::vector<NodeEvent> events) {
  if (events.empty()) return;
  absl::MutexLock lock(&mu_);
  for (NodeEvent& e : events) pending_.push_back(std::move(e));
  size_t dropped = 0;
  while (pending_.size() > max_pending_) {
    pending_.pop_front();
    ++dropped;
  }
  if (dropped > 0) {
    dropped_.Increment(static_cast<double>(dropped));
    PROV_LOG_ERROR("node-events", "node events dropped: too many held back by failed appends",
                   {"dropped", dropped}, {"kept", pending_.size()});
  }
  AppendPendingLocked();
}

void NodeEventForwarder::Retry() {
  absl::MutexLock lock(&mu_);
  if (!pending_.empty()) AppendPendingLocked();
}

size_t NodeEventForwarder::pending() const {
  absl::MutexLock lock(&mu_);
  return pending_.size();
}

void NodeEventForwarder::AppendPendingLocked() {
  const std::vector<NodeEvent> events(pending_.begin(), pending_.end());
  const absl::Time now = clock_.Now();
  absl::Status appended = appender_->Append(absl::ToUnixMicros(now), EncodeNodeEvents(events));
  if (appended.ok()) {
    forwarded_.Increment(static_cast<double>(events.size()));
    pending_.clear();
    if (last_failure_log_ != absl::InfinitePast()) {
      PROV_LOG_INFO("node-events", "node events reach the ingest batch log again",
                    {"events", events.size()});
      last_failure_log_ = absl::InfinitePast();
    }
  } else {
    failures_.Increment();
    if (now - last_failure_log_ >= absl::Minutes(1)) {
      PROV_LOG_WARN("node-events",
                    "appending node events to the ingest batch log failed (held, retried)",
                    {"events", events.size()}, {"error", appended});
      last_failure_log_ = now;
    }
  }
  pending_gauge_.Set(static_cast<double>(pending_.size()));
}

}  // namespace prov::server
