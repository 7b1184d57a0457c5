// AlertNotifier: posts flags at or above a severity to Alertmanager (API v2), keeps them firing
// while their case is open, resolves them when it is closed, and never loses a resolution.
//
//   AlertNotifierOptions o;
//   o.alertmanager_urls = {"http://am-1:9093", "http://am-2:9093"};   // HA pair: post to each
//   o.min_severity = provenance::v1::SEVERITY_HIGH;
//   o.content = {.dashboard_url = "http://provd.example:8080", .runbook_url = "..."};
//   o.clock = &clock;  o.registry = registry.get();
//   PROV_ASSIGN_OR_RETURN(auto deliveries, SqliteAlertDeliveryRepository::Open(db_path));
//   PROV_ASSIGN_OR_RETURN(auto notifier, AlertNotifier::Create(
//       o, NewEngineFlagSource(engine, o.min_severity), std::make_unique<HttpAlertPoster>(),
//       std::move(deliveries)));
//   notifier->Start();     // its own thread
//   notifier->Stop();      // before the engine shuts down; idempotent
//
// What is posted (labels and annotations: alert_builder.h). Every round that is due for an
// Alertmanager posts, in batches of at most max_alerts_per_post:
//  - every firing flag (open, acknowledged, escalated; severity >= min) with endsAt = now +
//    ends_at_resends x resend_interval, so Alertmanager keeps it firing between rounds and
//    resolves it by itself if provd goes silent for that long;
//  - every pending resolution (endsAt = the time the flag stopped firing): a flag whose case was
//    resolved, whose severity fell below the minimum, or that vanished; and the old label set of
//    a flag whose labels changed (more accounts, a higher tier).
// With nothing to post, a round posts an empty array: a health check of the path to each
// Alertmanager (prov_alertmanager_up).
// When: at once for the first round, then every resend_interval; at once when a change matters
// (a flag starts or stops firing, its labels or case status change) -- evidence-only updates
// wait for the next round, and so does a flag whose severity fell below the minimum (the
// engine's watch only reports flags at or above it).
// Never lost: a failed POST (unreachable, timeout, 5xx) is retried with exponential backoff
// (initial_backoff doubling up to max_backoff) per Alertmanager; firing alerts are re-derived
// from the flags each round, and the resolutions still owed are derived from the
// alert_deliveries table (an AlertDeliveryRepository, server/store/repo/alert_deliveries.h), so a
// case closed while Alertmanager or provd was down is still resolved after either comes back. A
// resolution counts as delivered once every Alertmanager accepted it. HTTP 4xx is logged with the
// body, counted as rejected and not retried (Alertmanager keeps the valid alerts of a batch;
// resending cannot fix the others). Threads: Start() runs one thread that waits for flag changes
// (<= 250 ms at a time, so Stop() returns within that plus one HTTP timeout) and posts. Without
// Start(), tests drive Poll() with a fake clock. The state below is the thread's own; stats() may
// be read from any thread.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "nlohmann/json.hpp"
#include "prometheus/registry.h"
#include "server/alerting/alert_builder.h"
#include "server/alerting/alert_metrics.h"
#include "server/alerting/alert_poster.h"
#include "server/alerting/flag_source.h"
#include "server/store/repo/alert_deliveries.h"

namespace prov::server {

struct AlertNotifierOptions {
  std::vector<std::string>
      alertmanager_urls;  // at least one; each must pass ValidateAlertmanagerUrl
  provenance::v1::Severity min_severity = provenance::v1::SEVERITY_HIGH;
  absl::Duration resend_interval = absl::Minutes(1);
  int ends_at_resends = 4;
  absl::Duration initial_backoff = absl::Seconds(1);
  absl::Duration max_backoff = absl::ZeroDuration();  // zero: resend_interval
  size_t max_alerts_per_post = 500;
  AlertContent content;
  const Clock* clock = nullptr;              // required
  prometheus::Registry* registry = nullptr;  // null: metrics on a private registry
};

// INVALID_ARGUMENT naming the option.
absl::Status ValidateAlertNotifierOptions(const AlertNotifierOptions& options);

struct AlertNotifierStats {
  size_t firing = 0;               // flags Alertmanager was last told are firing
  size_t resolutions_pending = 0;  // not yet accepted by every Alertmanager
  uint64_t posts_ok = 0, posts_failed = 0, posts_rejected = 0;
  uint64_t rounds = 0;
};

class AlertNotifier {
 public:
  static absl::StatusOr<std::unique_ptr<AlertNotifier>> Create(
      AlertNotifierOptions options, std::unique_ptr<FlagSource> source,
      std::unique_ptr<AlertPoster> poster, std::unique_ptr<AlertDeliveryRepository> deliveries);
  ~AlertNotifier();  // Stop()

  void Start();
  void Stop();
  // Takes the changes already seen (no waiting) and posts to every Alertmanager that is due.
  void Poll();
  AlertNotifierStats stats() const;

 private:
  struct Tracked {  // a flag Alertmanager may hold as firing (alert_deliveries state kFiring)
    AlertLabels labels;
    int64_t starts_us = 0;
    uint64_t revision = 0;
    provenance::v1::FlagStatus case_status = provenance::v1::FLAG_STATUS_UNSPECIFIED;
    bool resolving = false;
    nlohmann::json resolution;  // when resolving
    std::set<size_t> owed;      // receivers that have not accepted the resolution yet
  };
  // An old label set of a still-firing flag, to resolve. Memory only, and dropped once moot:
  // the last endsAt posted for it is at most ends_at_resends x resend_interval after it was
  // superseded, and Alertmanager resolves it by itself then.
  struct Superseded {
    AlertLabels labels;
    nlohmann::json resolution;
    std::set<size_t> owed;
    absl::Time moot_at;
  };
  struct Receiver {
    std::string url;
    int failures = 0;
    absl::Time due = absl::InfinitePast();
  };

  AlertNotifier(AlertNotifierOptions options, std::unique_ptr<FlagSource> source,
                std::unique_ptr<AlertPoster> poster, std::unique_ptr<AlertDeliveryRepository> log,
                std::shared_ptr<prometheus::Registry> own_registry);
  absl::Status LoadTracked();
  void Run();
  void Absorb(const std::vector<provenance::v1::Flag>& changed, absl::Time now);
  void RunDue(absl::Time now);
  std::vector<nlohmann::json> Reconcile(absl::Time now);
  void PostTo(size_t index, const std::vector<nlohmann::json>& firing, absl::Time now);
  void SaveRows();
  void UpdateGauges();
  std::set<size_t> AllReceivers() const;
  absl::Time NextDue() const;

  const AlertNotifierOptions options_;
  std::unique_ptr<FlagSource> source_;
  std::unique_ptr<AlertPoster> poster_;
  std::unique_ptr<AlertDeliveryRepository> log_;
  std::shared_ptr<prometheus::Registry> own_registry_;  // when none was given
  AlertMetrics metrics_;

  // Notifier thread only (or the Poll() caller when not started).
  std::map<std::string, Tracked> tracked_;
  std::vector<Superseded> superseded_;
  std::vector<Receiver> receivers_;
  std::vector<AlertDelivery> unsaved_;

  mutable absl::Mutex mu_;
  AlertNotifierStats stats_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace prov::server
