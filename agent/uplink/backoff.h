// Backoff: jittered exponential reconnect delays for the uplink.
//
//   Backoff backoff(absl::Seconds(1), absl::Seconds(60), random);   // random(): uniform in [0, 1)
//   absl::Duration wait = backoff.Next();   // attempt n: uniform in [cap_n / 2, cap_n),
//                                           // cap_n = min(max, initial * 2^n)
//   backoff.Reset();                        // after a successful ack
//
// "Equal jitter": half the delay is fixed so a flapping server is never hammered, half is random
// so ten thousand agents that lost the same server do not reconnect in lock step.
// Thread-safety: not thread-safe (the uplink calls it under its mutex).
#pragma once

#include <functional>

#include "absl/time/time.h"

namespace prov::agent {

class Backoff {
 public:
  Backoff(absl::Duration initial, absl::Duration max, std::function<double()> random);
  absl::Duration Next();
  void Reset() { attempt_ = 0; }
  int attempt() const { return attempt_; }

 private:
  absl::Duration initial_;
  absl::Duration max_;
  std::function<double()> random_;
  int attempt_ = 0;
};

// A seeded uniform [0, 1) source for production use (seeded from std::random_device).
std::function<double()> MakeDefaultRandom();

}  // namespace prov::agent
