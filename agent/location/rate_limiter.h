// Token buckets for the location responder: one per source address, one for the landmark
// signature checks and one for the answers signed, so neither a single flooding sender nor many
// senders together can make the node verify or sign without bound, and junk cannot use up the
// answers that real landmarks' probes need.
//
//   RateLimiter limiter({.per_source_rate = 100, .per_source_burst = 32,
//                        .global_rate = 1000, .global_burst = 200}, SteadyClock::Get());
//   if (!limiter.AdmitSource("10.0.0.5")) ...   // first, per datagram (the host, not its port)
//   ... parse, known landmark, own target id (cheap) ...
//   if (!limiter.AdmitVerify()) ...             // before the Ed25519 check of the probe
//   ... the landmark's signature verified ...
//   if (!limiter.AdmitAnswer()) ...             // only now: the global answer bucket
//
// Time comes from the injected Clock; production passes SteadyClock::Get() (monotonic: an NTP or
// admin step of the wall clock does not stop refills), tests a FakeClock. A bucket that sees time
// go backwards re-anchors there instead of waiting for the clock to catch up. At most max_sources
// buckets are kept; when full, buckets that have refilled completely are dropped first, then the
// oldest-used (a sender spraying source addresses can reset its own bucket that way, which is
// why the verify and answer buckets exist).
// Not thread-safe: the responder's one thread owns it.
#pragma once

#include <cstddef>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace prov::agent {

struct RateLimits {
  double per_source_rate = 100;  // datagrams per second per source address
  double per_source_burst = 32;  // bucket size: two 16-probe bursts
  double global_rate = 1000;     // answers signed, all sources together
  double global_burst = 200;
  double verify_rate = 2000;  // landmark signature checks, all sources together
  double verify_burst = 400;
  size_t max_sources = 4096;
};

// A monotonic Clock (std::chrono::steady_clock mapped onto absl::Time): only differences between
// its readings mean anything. For rate limiting, never for timestamps that leave the process.
class SteadyClock final : public Clock {
 public:
  absl::Time Now() const override;
  static const Clock& Get();
};

class TokenBucket {
 public:
  TokenBucket(double rate, double burst, absl::Time now)
      : rate_(rate), burst_(burst), tokens_(burst), last_(now) {}
  bool Take(absl::Time now);  // refills for the time since the last call, then takes one token
  bool Full(absl::Time now) const;
  absl::Time last() const { return last_; }

 private:
  double rate_, burst_, tokens_;
  absl::Time last_;
};

class RateLimiter {
 public:
  RateLimiter(RateLimits limits, const Clock& clock);
  bool AdmitSource(const std::string& source);
  bool AdmitVerify() { return verify_.Take(clock_.Now()); }
  bool AdmitAnswer() { return global_.Take(clock_.Now()); }
  size_t tracked_sources() const { return sources_.size(); }

 private:
  void MakeRoom(absl::Time now);
  RateLimits limits_;
  const Clock& clock_;
  TokenBucket global_;
  TokenBucket verify_;
  absl::flat_hash_map<std::string, TokenBucket> sources_;
};

}  // namespace prov::agent
