#include "common/clock.h"

#include "absl/time/clock.h"

namespace prov {

absl::Time RealClock::Now() const { return absl::Now(); }

Clock& RealClock::Get() {
  static RealClock* clock = new RealClock();
  return *clock;
}

}  // namespace prov
