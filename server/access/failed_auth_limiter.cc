#include "server/access/failed_auth_limiter.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/strip.h"

namespace prov::server {

FailedAuthLimiter::FailedAuthLimiter(FailedAuthLimits limits, const Clock& clock)
    : limits_(limits), clock_(clock) {}

void FailedAuthLimiter::Refill(Bucket& b, absl::Time now) const {
  const double elapsed = std::max(0.0, absl::ToDoubleSeconds(now - b.updated));
  b.tokens = std::min(limits_.burst, b.tokens + elapsed * limits_.per_second);
  b.updated = now;
}

std::optional<absl::Duration> FailedAuthLimiter::Blocked(const std::string& peer) {
  absl::MutexLock lock(&mu_);
  auto it = buckets_.find(peer);
  if (it == buckets_.end()) return std::nullopt;
  Bucket& b = it->second;
  Refill(b, clock_.Now());
  if (b.tokens >= 1) return std::nullopt;
  ++limited_;
  return absl::Seconds((1 - b.tokens) / limits_.per_second);
}

void FailedAuthLimiter::RecordFailure(const std::string& peer) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_.Now();
  auto it = buckets_.find(peer);
  if (it == buckets_.end()) {
    while (buckets_.size() >= std::max<size_t>(1, limits_.max_peers)) {
      buckets_.erase(lru_.front());
      lru_.pop_front();
    }
    lru_.push_back(peer);
    it = buckets_.emplace(peer, Bucket{limits_.burst, now, std::prev(lru_.end())}).first;
  } else {
    lru_.splice(lru_.end(), lru_, it->second.lru);
  }
  Bucket& b = it->second;
  Refill(b, now);
  b.tokens = std::max(0.0, b.tokens - 1);
}

uint64_t FailedAuthLimiter::limited() const {
  absl::MutexLock lock(&mu_);
  return limited_;
}

size_t FailedAuthLimiter::tracked() const {
  absl::MutexLock lock(&mu_);
  return buckets_.size();
}

namespace {
std::string Unmapped(absl::string_view address) {
  if (absl::StartsWithIgnoreCase(address, "::ffff:") && address.find('.') != address.npos) {
    address.remove_prefix(7);
  }
  return std::string(address);
}
}  // namespace

std::string PeerAddress(absl::string_view peer) {
  if (absl::ConsumePrefix(&peer, "ipv4:")) {
    const size_t colon = peer.rfind(':');
    return std::string(colon == absl::string_view::npos ? peer : peer.substr(0, colon));
  }
  if (absl::ConsumePrefix(&peer, "ipv6:")) {
    if (absl::ConsumePrefix(&peer, "[")) {
      const size_t close = peer.find(']');
      return Unmapped(close == absl::string_view::npos ? peer : peer.substr(0, close));
    }
    return std::string(peer);
  }
  return std::string(peer);
}

}  // namespace prov::server
