#include "server/alerting/alert_notifier.h"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace prov::server {
namespace {

using provenance::v1::Flag;

constexpr absl::Duration kMaxWait = absl::Milliseconds(250);

int64_t RaisedUs(const Flag& f, absl::Time now) {
  if (!f.has_raised_at()) return absl::ToUnixMicros(now);
  return f.raised_at().seconds() * 1000000 + f.raised_at().nanos() / 1000;
}

}  // namespace

absl::Status ValidateAlertNotifierOptions(const AlertNotifierOptions& o) {
  if (o.alertmanager_urls.empty()) {
    return absl::InvalidArgumentError("alertmanager_urls: at least one is required");
  }
  for (const std::string& url : o.alertmanager_urls) {
    if (absl::Status s = ValidateAlertmanagerUrl(url); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("alertmanager_urls: ", s.message()));
    }
  }
  if (o.resend_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("resend_interval: must be positive");
  }
  if (o.ends_at_resends < 2) {
    return absl::InvalidArgumentError("ends_at_resends: must be >= 2");
  }
  if (o.initial_backoff <= absl::ZeroDuration() || o.max_backoff < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("initial_backoff/max_backoff: must be positive");
  }
  if (o.max_alerts_per_post < 1) {
    return absl::InvalidArgumentError("max_alerts_per_post: must be >= 1");
  }
  if (o.min_severity == provenance::v1::SEVERITY_UNSPECIFIED) {
    return absl::InvalidArgumentError("min_severity: is required");
  }
  if (o.clock == nullptr) return absl::InvalidArgumentError("clock: is required");
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<AlertNotifier>> AlertNotifier::Create(
    AlertNotifierOptions options, std::unique_ptr<FlagSource> source,
    std::unique_ptr<AlertPoster> poster, std::unique_ptr<AlertDeliveryRepository> log) {
  PROV_RETURN_IF_ERROR(ValidateAlertNotifierOptions(options));
  if (source == nullptr || poster == nullptr || log == nullptr) {
    return absl::InvalidArgumentError(
        "alert notifier: source, poster and delivery repository are required");
  }
  std::shared_ptr<prometheus::Registry> own;
  if (options.registry == nullptr) {
    own = std::make_shared<prometheus::Registry>();
    options.registry = own.get();
  }
  std::unique_ptr<AlertNotifier> n(new AlertNotifier(
      std::move(options), std::move(source), std::move(poster), std::move(log), std::move(own)));
  PROV_RETURN_IF_ERROR(n->LoadTracked());
  return n;
}

AlertNotifier::AlertNotifier(AlertNotifierOptions options, std::unique_ptr<FlagSource> source,
                             std::unique_ptr<AlertPoster> poster,
                             std::unique_ptr<AlertDeliveryRepository> log,
                             std::shared_ptr<prometheus::Registry> own_registry)
    : options_(std::move(options)),
      source_(std::move(source)),
      poster_(std::move(poster)),
      log_(std::move(log)),
      own_registry_(std::move(own_registry)),
      metrics_(*options_.registry, options_.alertmanager_urls) {
  for (const std::string& url : options_.alertmanager_urls) receivers_.push_back({.url = url});
}

AlertNotifier::~AlertNotifier() { Stop(); }

absl::Status AlertNotifier::LoadTracked() {
  PROV_ASSIGN_OR_RETURN(std::vector<AlertDelivery> rows, log_->LoadFiring());
  for (AlertDelivery& row : rows) {
    Tracked t;
    t.labels = std::move(row.labels);
    t.starts_us = row.starts_us;
    t.revision = row.revision;
    tracked_.emplace(row.flag_id, std::move(t));
  }
  UpdateGauges();
  return absl::OkStatus();
}

void AlertNotifier::Start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { Run(); });
}

void AlertNotifier::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void AlertNotifier::Run() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    const absl::Time now = options_.clock->Now();
    const absl::Duration wait = std::clamp(NextDue() - now, absl::ZeroDuration(), kMaxWait);
    std::vector<Flag> changed = source_->WaitForChanges(wait);
    Absorb(changed, options_.clock->Now());
    RunDue(options_.clock->Now());
  }
}

void AlertNotifier::Poll() {
  const absl::Time now = options_.clock->Now();
  Absorb(source_->WaitForChanges(absl::ZeroDuration()), now);
  RunDue(now);
}

AlertNotifierStats AlertNotifier::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

absl::Time AlertNotifier::NextDue() const {
  absl::Time next = absl::InfiniteFuture();
  for (const Receiver& r : receivers_) next = std::min(next, r.due);
  return next;
}

std::set<size_t> AlertNotifier::AllReceivers() const {
  std::set<size_t> all;
  for (size_t i = 0; i < receivers_.size(); ++i) all.insert(i);
  return all;
}

// A change matters when Alertmanager's view would differ: a flag starts or stops firing, or its
// labels or case status change. Healthy receivers are then due at once; failing ones keep their
// backoff (they get everything when it expires).
void AlertNotifier::Absorb(const std::vector<Flag>& changed, absl::Time now) {
  bool matters = false;
  for (const Flag& f : changed) {
    const bool fires = FlagFires(f, options_.min_severity);
    auto it = tracked_.find(f.flag_id());
    if (it == tracked_.end() || it->second.resolving) {
      matters |= fires;
    } else {
      matters |=
          !fires || it->second.case_status != f.status() || FlagAlertLabels(f) != it->second.labels;
    }
    if (matters) break;
  }
  if (!matters) return;
  for (Receiver& r : receivers_) {
    if (r.failures == 0) r.due = std::min(r.due, now);
  }
}

void AlertNotifier::RunDue(absl::Time now) {
  std::vector<size_t> due;
  for (size_t i = 0; i < receivers_.size(); ++i) {
    if (receivers_[i].due <= now) due.push_back(i);
  }
  if (due.empty()) return;
  std::vector<nlohmann::json> firing = Reconcile(now);
  SaveRows();  // new firing label sets are recorded before they are posted
  for (size_t i : due) PostTo(i, firing, now);
  SaveRows();  // resolutions every receiver accepted
  UpdateGauges();
  absl::MutexLock lock(&mu_);
  ++stats_.rounds;
}

// Brings tracked_ in line with the flags and returns the firing alerts to post.
std::vector<nlohmann::json> AlertNotifier::Reconcile(absl::Time now) {
  const absl::Time ends = now + options_.ends_at_resends * options_.resend_interval;
  std::vector<nlohmann::json> firing;
  std::set<std::string> firing_ids;
  for (const Flag& f : source_->FiringFlags()) {
    if (!FlagFires(f, options_.min_severity)) continue;
    AlertLabels labels = FlagAlertLabels(f);
    auto [it, inserted] = tracked_.try_emplace(f.flag_id());
    Tracked& t = it->second;
    if (inserted || t.resolving || t.labels != labels) {
      if (!inserted && !t.resolving) {
        auto same = std::find_if(superseded_.begin(), superseded_.end(),
                                 [&](const Superseded& x) { return x.labels == t.labels; });
        if (same != superseded_.end()) superseded_.erase(same);
        superseded_.push_back({t.labels,
                               LabelsOnlyAlert(t.labels, absl::FromUnixMicros(t.starts_us), now),
                               AllReceivers(), ends});
      }
      t.labels = labels;
      t.starts_us = std::min(RaisedUs(f, now), absl::ToUnixMicros(now));
      t.resolving = false;
      t.owed.clear();
      unsaved_.push_back({f.flag_id(), AlertDelivery::kFiring, labels, t.starts_us, f.revision(),
                          absl::ToUnixMicros(now)});
    }
    t.revision = f.revision();
    t.case_status = f.status();
    firing_ids.insert(f.flag_id());
    firing.push_back(FlagAlert(f, labels, options_.content, ends));
  }
  std::erase_if(superseded_, [&](const Superseded& x) { return x.moot_at < now; });
  for (auto& [id, t] : tracked_) {
    if (t.resolving || firing_ids.contains(id)) continue;
    t.resolving = true;
    t.owed = AllReceivers();
    std::optional<Flag> f = source_->GetFlag(id);
    if (f.has_value()) {
      t.revision = f->revision();
      t.case_status = f->status();
      t.resolution = FlagAlert(*f, t.labels, options_.content, now);
      // The alert keeps the startsAt Alertmanager already has.
      t.resolution["startsAt"] = Rfc3339(absl::FromUnixMicros(t.starts_us));
    } else {
      t.resolution = LabelsOnlyAlert(t.labels, absl::FromUnixMicros(t.starts_us), now);
    }
  }
  return firing;
}

void AlertNotifier::UpdateGauges() {
  size_t firing = 0, pending = superseded_.size();
  for (const auto& [id, t] : tracked_) (t.resolving ? pending : firing) += 1;
  metrics_.firing.Set(static_cast<double>(firing));
  metrics_.resolutions_pending.Set(static_cast<double>(pending));
  absl::MutexLock lock(&mu_);
  stats_.firing = firing;
  stats_.resolutions_pending = pending;
}

}  // namespace prov::server
