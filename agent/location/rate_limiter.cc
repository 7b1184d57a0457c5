#include "agent/location/rate_limiter.h"

#include <algorithm>
#include <chrono>

namespace prov::agent {

absl::Time SteadyClock::Now() const {
  return absl::UnixEpoch() + absl::FromChrono(std::chrono::steady_clock::now().time_since_epoch());
}

const Clock& SteadyClock::Get() {
  static const SteadyClock* clock = new SteadyClock();
  return *clock;
}

bool TokenBucket::Take(absl::Time now) {
  if (now > last_) {
    tokens_ = std::min(burst_, tokens_ + absl::ToDoubleSeconds(now - last_) * rate_);
  }
  // Time went backwards (a stepped clock): re-anchor, so refills go on from here rather than
  // waiting until the clock is back where it was.
  last_ = now;
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

bool TokenBucket::Full(absl::Time now) const {
  const double refilled = tokens_ + std::max(0.0, absl::ToDoubleSeconds(now - last_)) * rate_;
  return refilled >= burst_;
}

RateLimiter::RateLimiter(RateLimits limits, const Clock& clock)
    : limits_(limits),
      clock_(clock),
      global_(limits.global_rate, limits.global_burst, clock.Now()),
      verify_(limits.verify_rate, limits.verify_burst, clock.Now()) {}

bool RateLimiter::AdmitSource(const std::string& source) {
  const absl::Time now = clock_.Now();
  auto it = sources_.find(source);
  if (it == sources_.end()) {
    if (sources_.size() >= limits_.max_sources) MakeRoom(now);
    it = sources_
             .emplace(source, TokenBucket(limits_.per_source_rate, limits_.per_source_burst, now))
             .first;
  }
  return it->second.Take(now);
}

void RateLimiter::MakeRoom(absl::Time now) {
  absl::erase_if(sources_, [&](const auto& entry) { return entry.second.Full(now); });
  if (sources_.size() < limits_.max_sources) return;
  auto oldest = std::min_element(
      sources_.begin(), sources_.end(),
      [](const auto& a, const auto& b) { return a.second.last() < b.second.last(); });
  sources_.erase(oldest);
}

}  // namespace prov::agent
