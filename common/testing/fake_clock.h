// FakeClock: a Clock tests advance by hand. No sleeps in tests.
//
//   FakeClock clock(absl::FromUnixSeconds(1'700'000'000));
//   clock.Advance(absl::Seconds(10));
#pragma once

#include "absl/synchronization/mutex.h"
#include "common/clock.h"

namespace prov {

class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1'700'000'000)) : now_(start) {}
  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }
  void Set(absl::Time t) {
    absl::MutexLock lock(&mu_);
    now_ = t;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace prov
