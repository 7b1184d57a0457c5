// Clock: the only way project code reads the time, so tests can drive it.
//
//   RealClock clock;                 // production
//   FakeClock fake(absl::FromUnixSeconds(1700000000));  // tests (common/testing/fake_clock.h)
//   fake.Advance(absl::Seconds(10));
//
// Thread-safety: implementations are safe to call from any thread.
#pragma once

#include "absl/time/time.h"

namespace prov {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

class RealClock final : public Clock {
 public:
  absl::Time Now() const override;
  // A process-wide instance for code that has nothing injected (main() wiring only).
  static Clock& Get();
};

}  // namespace prov
