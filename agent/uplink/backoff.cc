#include "agent/uplink/backoff.h"

#include <algorithm>
#include <memory>
#include <random>

namespace prov::agent {

Backoff::Backoff(absl::Duration initial, absl::Duration max, std::function<double()> random)
    : initial_(std::max(initial, absl::Milliseconds(1))),
      max_(std::max(max, initial_)),
      random_(random ? std::move(random) : MakeDefaultRandom()) {}

absl::Duration Backoff::Next() {
  absl::Duration cap = initial_;
  for (int i = 0; i < attempt_ && cap < max_; ++i) cap *= 2;
  cap = std::min(cap, max_);
  if (attempt_ < 64) ++attempt_;
  double u = std::clamp(random_(), 0.0, 1.0);
  return cap / 2 + (cap / 2) * u;
}

std::function<double()> MakeDefaultRandom() {
  auto engine = std::make_shared<std::mt19937_64>(std::random_device{}());
  return [engine] { return std::uniform_real_distribution<double>(0.0, 1.0)(*engine); };
}

}  // namespace prov::agent
