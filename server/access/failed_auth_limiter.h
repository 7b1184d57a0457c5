// FailedAuthLimiter: a token bucket per peer address that only FAILED authentications drain
// (issue 14: 1,000 guesses took 0.3 s). Shared by the gRPC Authenticator and the web dashboard,
// so guesses over either count together.
//
//   FailedAuthLimiter limiter({.burst = 20, .per_second = 1}, clock);
//   if (auto wait = limiter.Blocked(peer)) return RESOURCE_EXHAUSTED / HTTP 429, Retry-After *wait
//   ... authenticate; on failure: limiter.RecordFailure(peer);
//
// A peer may fail `burst` times at once, then one more time every 1/per_second; while its bucket
// is empty every attempt from it is refused without looking at the credentials, so a valid token
// from that address waits too, and one from any other address is unaffected. At most `max_peers`
// addresses are tracked (the least recently failed is forgotten first), so memory is bounded.
// Keys are addresses without the port (PeerAddress()).
//
// Thread-safe.
#pragma once

#include <cstdint>
#include <list>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace prov::server {

struct FailedAuthLimits {
  double burst = 20;         // failures allowed at once (>= 1)
  double per_second = 1;     // failures allowed per second after that (> 0)
  size_t max_peers = 10000;  // addresses tracked
};

class FailedAuthLimiter {
 public:
  FailedAuthLimiter(FailedAuthLimits limits, const Clock& clock);

  // How long until `peer` may try again; nullopt when it may now. A refusal is counted.
  std::optional<absl::Duration> Blocked(const std::string& peer);
  void RecordFailure(const std::string& peer);

  uint64_t limited() const;  // attempts refused so far
  size_t tracked() const;    // addresses with a bucket

 private:
  struct Bucket {
    double tokens;
    absl::Time updated;
    std::list<std::string>::iterator lru;
  };
  void Refill(Bucket& b, absl::Time now) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const FailedAuthLimits limits_;
  const Clock& clock_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
  std::list<std::string> lru_ ABSL_GUARDED_BY(mu_);  // least recently failed first
  uint64_t limited_ ABSL_GUARDED_BY(mu_) = 0;
};

// gRPC peer ("ipv4:10.0.0.7:51234", "ipv6:[::1]:51234") -> address ("10.0.0.7", "::1"); an
// IPv4-mapped IPv6 address becomes the IPv4 one (as HTTP's remote address); other forms
// (unix:..., inproc) are returned whole.
std::string PeerAddress(absl::string_view grpc_peer);

}  // namespace prov::server
