// Rhythm: how unlikely it is that two workloads' activity changes coincide by chance (issue 9,
// docs/design/correlation.md "Rhythm"). Pure functions over bounded event series; the Analyzer
// (analyzer_rhythm.cc) keeps one ActivitySeries per training workload and scores a pair when a
// new event of one lands within `tolerance` of an event of the other.
//
//   ActivitySeries a, b;            // a.first_us / b.first_us: first activity observation
//   a.Add(t1); b.Add(t1 + 20s); ...
//   RhythmEvidence e = ScoreRhythm(a, b, now, params, fleet);
//   if (e.surprise >= policy.min_surprise && e.aligned_cycles >= policy.min_aligned_cycles) link
//
// The model, per direction (A's events as trials, B as the series that may match them):
//  - each event a_i of A in the shared span is matched when B has an event within tolerance;
//  - the chance q_i that an independent B matches a_i is the largest of: B's own rate over the
//    span (Poisson, 1 - exp(-3 tau lambda_B): times are quantised to reports, so the closed
//    +-tau window spans three report slots when tau is one interval), B's local rate within
//    kLocalWindow of a_i (a bursty series is likely to have an event near anything), and B's rate
//    times how much busier than usual the fleet was within tolerance of a_i (a fleet-wide pause
//    explains everyone's pause: a proportional-hazards background);
//  - an aligned cycle (a_i and a_{i-1} both matched) is only as unlikely as two independent
//    intervals agreeing: the share of A's and B's own intervals, paired across different cycles,
//    that agree within tau. Two strictly periodic jobs with one period agree every time and
//    earn nothing past their first coincidences; a jittered exchange shared by both earns its
//    surprise cycle after cycle;
//  - p = P(X >= matched) for X a sum of independent Bernoulli(q_i) (Poisson-binomial tail);
//    surprise = -log10 p. The pair's surprise is the smaller of the two directions.
//
// Cost: O(n log n + n_A * n_B) per score with n <= kMaxRhythmEvents. Thread-compatible.
#pragma once

#include <cstdint>
#include <deque>

#include "absl/functional/function_ref.h"

namespace prov::server {

// Events kept per series (the most recent); older ones are dropped.
inline constexpr size_t kMaxRhythmEvents = 64;
// A series' local rate around an event is measured over +-this.
inline constexpr int64_t kLocalWindowUs = int64_t{30} * 60 * 1000000;

// One workload's activity changes (pause or resume), merged so that a change following the
// previous one within `merge_us` (a one-report stall or burst) is one event.
struct ActivitySeries {
  int64_t first_us = 0;        // first activity observation (start of the observed span)
  int64_t last_change_us = 0;  // latest raw change, merged or not
  std::deque<int64_t> events;  // ascending, at most kMaxRhythmEvents

  // Records a raw change at `t` (any order). Returns true when it is a new event.
  bool Change(int64_t t, int64_t merge_us);
};

struct RhythmParams {
  int64_t tolerance_us = 60 * 1000000;  // events this close coincide
};

struct RhythmEvidence {
  int events_a = 0, events_b = 0;  // events in the shared span
  int matched = 0;                 // coincidences (the direction that gave the pair's surprise)
  int aligned_cycles = 0;          // consecutive coincidences: a shared interval
  double period_s = 0;             // median shared interval (0 when none)
  double rate_a_per_h = 0, rate_b_per_h = 0;  // each series' own rate over the shared span
  double interval_agreement = 0;              // chance two independent intervals of theirs agree
  double p = 1;         // probability of at least this many coincidences by chance
  double surprise = 0;  // -log10 p
  int64_t span_us = 0;
};

// How many times busier than usual the fleet is within tolerance of time t: the other series'
// events there over the number expected from the fleet's mean rate (1 when unknown or quiet).
using FleetChance = absl::FunctionRef<double(int64_t)>;

RhythmEvidence ScoreRhythm(const ActivitySeries& a, const ActivitySeries& b, int64_t now,
                           const RhythmParams& params, FleetChance fleet);

// P(X >= k) for X the number of successes of independent Bernoulli(q[i]) trials.
double PoissonBinomialTail(const double* q, int n, int k);

}  // namespace prov::server
