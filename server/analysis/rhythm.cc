#include "server/analysis/rhythm.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace prov::server {
namespace {

constexpr double kMicrosPerHour = 3600.0 * 1e6;

std::vector<int64_t> InSpan(const std::deque<int64_t>& events, int64_t from, int64_t to) {
  std::vector<int64_t> out;
  for (int64_t t : events) {
    if (t >= from && t <= to) out.push_back(t);
  }
  return out;
}

// Chance that two independent intervals of A and B agree within tau (both are counted in whole
// report intervals, so a shared interval seen by two agents differs by less than one): A's and
// B's intervals paired across different cycles (their ends more than tau apart),
// Laplace-smoothed.
double IntervalAgreement(const std::vector<int64_t>& a, const std::vector<int64_t>& b,
                         int64_t tau) {
  int64_t agree = 0, total = 0;
  for (size_t j = 1; j < a.size(); ++j) {
    const int64_t x = a[j] - a[j - 1];
    for (size_t k = 1; k < b.size(); ++k) {
      if (std::llabs(a[j] - b[k]) <= tau) continue;  // the same cycle
      ++total;
      if (std::llabs(x - (b[k] - b[k - 1])) <= tau) ++agree;
    }
  }
  return (static_cast<double>(agree) + 1) / (static_cast<double>(total) + 2);
}

struct Direction {
  int matched = 0, aligned = 0;
  double p = 1;
  std::vector<int64_t> shared_intervals;
};

// A's events as trials, B as the series that may match them.
Direction Score(const std::vector<int64_t>& a, const std::vector<int64_t>& b,
                const std::deque<int64_t>& b_all, int64_t span, double agreement, int64_t tau,
                FleetChance fleet) {
  Direction d;
  const double lambda_b = static_cast<double>(b.size()) / static_cast<double>(span);
  // Events are quantised to report times: "within tau" (closed) spans three report slots when
  // tau is one report interval, so the window counts as 3 tau wide, not 2 tau.
  const double width = 3.0 * static_cast<double>(tau);
  const double q_global = 1 - std::exp(-width * lambda_b);
  const double local_len = static_cast<double>(2 * (kLocalWindowUs - tau));
  std::vector<double> q(a.size());
  bool previous = false;
  for (size_t i = 0; i < a.size(); ++i) {
    bool match = false;
    int local = 0;
    auto lo = std::lower_bound(b_all.begin(), b_all.end(), a[i] - kLocalWindowUs);
    for (auto it = lo; it != b_all.end() && *it <= a[i] + kLocalWindowUs; ++it) {
      if (std::llabs(*it - a[i]) <= tau) {
        match = true;
      } else {
        ++local;
      }
    }
    const double q_local = 1 - std::exp(-width * local / local_len);
    const double busier = std::max(1.0, fleet(a[i]));
    const double q_fleet = 1 - std::exp(-width * lambda_b * busier);
    double qi = std::max({q_global, q_local, q_fleet});
    if (match) {
      ++d.matched;
      if (previous) {
        ++d.aligned;
        d.shared_intervals.push_back(a[i] - a[i - 1]);
        qi = std::max(qi, agreement);
      }
    }
    q[i] = std::min(qi, 1.0);
    previous = match;
  }
  d.p = PoissonBinomialTail(q.data(), static_cast<int>(q.size()), d.matched);
  return d;
}

}  // namespace

bool ActivitySeries::Change(int64_t t, int64_t merge_us) {
  const bool merged = last_change_us != 0 && std::llabs(t - last_change_us) <= merge_us &&
                      !events.empty() && std::llabs(t - events.back()) <= 2 * merge_us;
  last_change_us = std::max(last_change_us, t);
  if (merged) return false;
  events.insert(std::upper_bound(events.begin(), events.end(), t), t);
  while (events.size() > kMaxRhythmEvents) events.pop_front();
  return true;
}

double PoissonBinomialTail(const double* q, int n, int k) {
  if (k <= 0) return 1;
  if (k > n) return 0;
  // dist[j] = P(exactly j successes); the upper tail is summed directly so that tiny
  // probabilities keep their precision.
  std::vector<double> dist(static_cast<size_t>(n) + 1, 0.0);
  dist[0] = 1;
  for (int i = 0; i < n; ++i) {
    for (int j = i + 1; j >= 0; --j) {
      dist[j] = dist[j] * (1 - q[i]) + (j > 0 ? dist[j - 1] * q[i] : 0);
    }
  }
  double sum = 0;
  for (int j = k; j <= n; ++j) sum += dist[j];
  return std::min(sum, 1.0);
}

RhythmEvidence ScoreRhythm(const ActivitySeries& a, const ActivitySeries& b, int64_t now,
                           const RhythmParams& params, FleetChance fleet) {
  RhythmEvidence e;
  const int64_t tau = std::max<int64_t>(params.tolerance_us, 1);
  const int64_t start = std::max(a.first_us, b.first_us);
  const int64_t span = std::max(now - start, 2 * tau);
  const std::vector<int64_t> ea = InSpan(a.events, start, now);
  const std::vector<int64_t> eb = InSpan(b.events, start, now);
  e.events_a = static_cast<int>(ea.size());
  e.events_b = static_cast<int>(eb.size());
  e.span_us = span;
  e.rate_a_per_h = static_cast<double>(ea.size()) * kMicrosPerHour / static_cast<double>(span);
  e.rate_b_per_h = static_cast<double>(eb.size()) * kMicrosPerHour / static_cast<double>(span);
  if (ea.empty() || eb.empty()) return e;
  e.interval_agreement = IntervalAgreement(ea, eb, tau);
  const Direction ab = Score(ea, eb, b.events, span, e.interval_agreement, tau, fleet);
  const Direction ba = Score(eb, ea, a.events, span, e.interval_agreement, tau, fleet);
  const Direction& d = ab.p >= ba.p ? ab : ba;  // the less surprising direction
  e.matched = d.matched;
  e.aligned_cycles = d.aligned;
  e.p = d.p;
  e.surprise = d.p > 0 ? -std::log10(d.p) : 300;
  if (!d.shared_intervals.empty()) {
    std::vector<int64_t> v = d.shared_intervals;
    std::nth_element(v.begin(), v.begin() + static_cast<long>(v.size() / 2), v.end());
    e.period_s = static_cast<double>(v[v.size() / 2]) / 1e6;
  }
  return e;
}

}  // namespace prov::server
