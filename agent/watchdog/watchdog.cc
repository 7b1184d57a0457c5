#include "agent/watchdog/watchdog.h"

#include <algorithm>

#include "agent/collect/self_usage.h"

namespace prov::agent {

WatchdogStatus Watchdog::Check() {
  const SelfUsage usage = ReadSelfUsage(options_.self_dir);
  const absl::Time now = clock_.Now();
  WatchdogStatus status;
  status.rss_bytes = usage.rss_bytes;
  if (has_last_ && now > last_time_) {
    const double wall = absl::ToDoubleSeconds(now - last_time_);
    status.cpu_percent = std::max(0.0, (usage.cpu_seconds - last_cpu_seconds_) / wall * 100);
  }
  const bool measured = has_last_;
  has_last_ = true;
  last_cpu_seconds_ = usage.cpu_seconds;
  last_time_ = now;

  if (options_.memory_bytes > 0 && usage.rss_bytes > options_.memory_bytes) {
    status.change = WatchdogChange::kOverMemory;
  } else if (measured && options_.cpu_percent > 0) {
    if (status.cpu_percent > options_.cpu_percent) {
      under_ = 0;
      if (++over_ >= options_.sustained_checks && level_ < options_.max_level) {
        ++level_;
        over_ = 0;
        status.change = WatchdogChange::kBackedOff;
      }
    } else if (status.cpu_percent < options_.cpu_percent / 2) {
      over_ = 0;
      if (++under_ >= options_.sustained_checks && level_ > 0) {
        --level_;
        under_ = 0;
        status.change = WatchdogChange::kRecovered;
      }
    } else {
      over_ = 0;
      under_ = 0;
    }
  }
  status.level = level_;
  return status;
}

absl::Duration Watchdog::Interval(absl::Duration base) const {
  const absl::Duration longer = base * (int64_t{1} << level_);
  return std::min(longer, std::max(base, options_.max_interval));
}

}  // namespace prov::agent
