// Token buckets for the location responder: one per source address and one global, so neither a
// single flooding sender nor many senders together can make the node sign without bound.
//
//   RateLimiter limiter({.per_source_rate = 100, .per_source_burst = 32,
//                        .global_rate = 1000, .global_burst = 200}, clock);
//   switch (limiter.Admit("10.0.0.5"))   // the source host, not its port { case
//   Admission::kAdmitted: ... }
//
// Time comes from the injected Clock (tests advance a FakeClock). At most max_sources buckets are
// kept; when full, buckets that have refilled completely are dropped first, then the oldest-used
// (a sender spraying source addresses can reset its own bucket that way, which is why the global
// bucket exists).
// Not thread-safe: the responder's one thread owns it.
#pragma once

#include <cstddef>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace prov::agent {

struct RateLimits {
  double per_source_rate = 100;  // tokens (answers) per second per source address
  double per_source_burst = 32;  // bucket size: two 16-probe bursts
  double global_rate = 1000;     // all sources together
  double global_burst = 200;
  size_t max_sources = 4096;
};

enum class Admission { kAdmitted, kSourceLimited, kGlobalLimited };

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
  Admission Admit(const std::string& source);
  size_t tracked_sources() const { return sources_.size(); }

 private:
  void MakeRoom(absl::Time now);
  RateLimits limits_;
  const Clock& clock_;
  TokenBucket global_;
  absl::flat_hash_map<std::string, TokenBucket> sources_;
};

}  // namespace prov::agent
