// AlertNotifier: posting one round to one Alertmanager, and saving delivery rows.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/log/log.h"
#include "server/alerting/alert_notifier.h"

namespace prov::server {

void AlertNotifier::PostTo(size_t index, const std::vector<nlohmann::json>& firing,
                           absl::Time now) {
  Receiver& r = receivers_[index];
  AlertMetrics::Receiver& m = metrics_.receivers[index];
  std::vector<const nlohmann::json*> alerts;
  for (const nlohmann::json& a : firing) alerts.push_back(&a);
  for (const auto& [id, t] : tracked_) {
    if (t.resolving && t.owed.contains(index)) alerts.push_back(&t.resolution);
  }
  for (const Superseded& s : superseded_) {
    if (s.owed.contains(index)) alerts.push_back(&s.resolution);
  }
  bool failed = false;
  // Nothing to say still posts "[]" (Alertmanager answers 200): prov_alertmanager_up then tells
  // whether alerts could be delivered, before the first flag needs it.
  for (size_t begin = 0; (begin < alerts.size() || begin == 0) && !failed;
       begin += options_.max_alerts_per_post) {
    const size_t end = std::min(alerts.size(), begin + options_.max_alerts_per_post);
    nlohmann::json batch = nlohmann::json::array();
    for (size_t i = begin; i < end; ++i) batch.push_back(*alerts[i]);
    absl::Status s =
        poster_->Post(r.url, batch.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    if (s.ok()) {
      m.posts_ok.Increment();
      absl::MutexLock lock(&mu_);
      ++stats_.posts_ok;
    } else if (absl::IsInvalidArgument(s)) {
      // Alertmanager stored the valid alerts of the batch; resending cannot fix the others.
      PROV_LOG_WARN("alerts", "Alertmanager rejected alerts", {"url", r.url}, {"error", s});
      m.posts_rejected.Increment();
      absl::MutexLock lock(&mu_);
      ++stats_.posts_rejected;
    } else {
      failed = true;
      m.posts_error.Increment();
      m.up.Set(0);
      ++r.failures;
      const absl::Duration cap = options_.max_backoff > absl::ZeroDuration()
                                     ? options_.max_backoff
                                     : options_.resend_interval;
      absl::Duration backoff = options_.initial_backoff;
      for (int k = 1; k < r.failures && backoff < cap; ++k) backoff *= 2;
      backoff = std::min(backoff, cap);
      r.due = now + backoff;
      // First failure and then every 10th: an Alertmanager down for hours must not flood logs.
      if (r.failures == 1 || r.failures % 10 == 0) {
        PROV_LOG_WARN("alerts", "posting to Alertmanager failed", {"url", r.url},
                      {"failures_in_a_row", r.failures}, {"retry_in", backoff}, {"error", s});
      }
      absl::MutexLock lock(&mu_);
      ++stats_.posts_failed;
    }
  }
  if (failed) return;
  if (r.failures > 0) {
    PROV_LOG_INFO("alerts", "Alertmanager reachable again", {"url", r.url},
                  {"failed_posts", r.failures});
  }
  r.failures = 0;
  r.due = now + options_.resend_interval;
  m.up.Set(1);
  m.last_success.Set(absl::ToDoubleSeconds(now - absl::UnixEpoch()));
  for (auto it = tracked_.begin(); it != tracked_.end();) {
    Tracked& t = it->second;
    if (t.resolving) t.owed.erase(index);
    if (t.resolving && t.owed.empty()) {
      unsaved_.push_back({it->first, AlertDelivery::kResolved, t.labels, t.starts_us, t.revision,
                          absl::ToUnixMicros(now)});
      it = tracked_.erase(it);
    } else {
      ++it;
    }
  }
  for (Superseded& s : superseded_) s.owed.erase(index);
  std::erase_if(superseded_, [](const Superseded& s) { return s.owed.empty(); });
}

void AlertNotifier::SaveRows() {
  if (unsaved_.empty()) return;
  // Rows for one flag may repeat (fired, then resolved): the last one wins within a transaction.
  absl::Status s = log_->Put(unsaved_);
  if (!s.ok()) {
    metrics_.log_failures.Increment();
    PROV_LOG_ERROR("alerts", "saving alert_deliveries failed (retried)", {"error", s});
    return;
  }
  unsaved_.clear();
}

}  // namespace prov::server
