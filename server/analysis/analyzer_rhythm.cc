// Analyzer, rhythm: synchronised_activity links weighted by how unlikely the shared activity
// changes are by chance (issue 9; the model is in rhythm.h, the argument in
// docs/design/correlation.md "Rhythm").
#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/analysis/analyzer_internal.h"
#include "server/analysis/analyzer_state.h"

namespace prov::server {
namespace {

// More series than this changing within tolerance of one moment is a fleet-wide event (a
// storage or network outage): it links nothing, and bounds the work of one event.
constexpr size_t kMaxRhythmCandidates = 1024;
// Activity buckets and events older than this before the latest are dropped.
constexpr int64_t kRhythmHorizonUs = int64_t{48} * 3600 * 1000000;

bool IsTraining(const provenance::v1::WorkloadFacts& f) {
  return f.workload_class() == provenance::v1::WORKLOAD_CLASS_TRAINING;
}

std::string Minutes(double seconds) {
  return absl::FormatDuration(absl::Seconds(std::round(seconds / 60) * 60));
}

// How many times busier than usual the fleet was within tau of `t`: events of series other than
// `a` and `b` there, over the number the fleet's mean rate (over the index) predicts, plus one.
double FleetBusier(const Analyzer::State& s, int64_t window, int64_t tau, int64_t t,
                   const std::string& a, const std::string& b) {
  if (s.activity_events.empty() || s.activity_event_count == 0) return 1;
  const int64_t w = t / window;
  size_t others = 0;
  for (int64_t d = -1; d <= 1; ++d) {
    auto it = s.activity_events.find(w + d);
    if (it == s.activity_events.end()) continue;
    const auto& ev = it->second.events;
    auto lo = std::lower_bound(ev.begin(), ev.end(), std::make_pair(t - tau, std::string()));
    for (; lo != ev.end() && lo->first <= t + tau; ++lo) {
      if (lo->second != a && lo->second != b) ++others;
    }
  }
  const double covered = static_cast<double>(s.activity_events.rbegin()->first -
                                             s.activity_events.begin()->first + 1) *
                         static_cast<double>(window);
  const double expected =
      static_cast<double>(s.activity_event_count) / covered * 3.0 * static_cast<double>(tau);
  return static_cast<double>(others) / (expected + 1);
}

std::string Sentence(const Analyzer::State& s, const std::string& a, const std::string& b,
                     const RhythmEvidence& e) {
  std::string period = e.aligned_cycles > 0
                           ? absl::StrCat(e.aligned_cycles, " aligned cycles, shared period about ",
                                          Minutes(e.period_s))
                           : "no aligned cycle";
  return absl::StrFormat(
      "%s and %s paused or resumed together %d times in %s (%s); own rates %.1f/h and %.1f/h; "
      "chance of this by coincidence p=%.1e (surprise %.1f; two of their intervals agree by "
      "chance %.0f%%)",
      DescribeWorkload(s, a), DescribeWorkload(s, b), e.matched,
      absl::FormatDuration(absl::Minutes(e.span_us / 60000000)), period, e.rate_a_per_h,
      e.rate_b_per_h, e.p, e.surprise, 100 * e.interval_agreement);
}

void ScorePairRhythm(Analyzer::State& s, const policy::Policy& p, const std::string& key,
                     const std::string& other, int64_t t) {
  const auto& c = p.correlation;
  const int64_t tau = Micros(c.activity_tolerance);
  const int64_t window = std::max<int64_t>(Micros(c.activity_window), 1);
  const RhythmEvidence e =
      ScoreRhythm(s.activity.at(key), s.activity.at(other), t, RhythmParams{tau},
                  [&](int64_t at) { return FleetBusier(s, window, tau, at, key, other); });
  if (e.matched < c.min_shared_transitions || e.aligned_cycles < c.min_aligned_cycles ||
      e.surprise < c.min_surprise) {
    return;
  }
  // Weighted by surprise: the kind's full weight at full_surprise, proportionally less below.
  const double discount = 1 - std::min(1.0, e.surprise / std::max(c.full_surprise, 1e-9));
  const std::string pk =
      key < other ? absl::StrCat(key, "|", other) : absl::StrCat(other, "|", key);
  const std::string link_key = AddAccountLink(
      s, p, "synchronised_activity", s.workloads.at(key).account(), s.workloads.at(other).account(),
      key, other, pk, [&] { return Sentence(s, key, other, e); }, t, 0, discount);
  if (link_key.empty()) return;
  // Existing link: stronger evidence re-weighs it (a link is never weakened: evidence is judged
  // as of its own time).
  provenance::v1::Link& link = s.links.at(link_key);
  if (discount < link.discount() - 0.01) {
    link.set_discount(std::max(discount, 0.0));
    link.set_weight(LinkWeight(p, link));
    link.set_sentence(Sentence(s, key, other, e));
    s.changed_links.insert(link_key);
    UpdatePair(s, p, MakePair(link.account_a(), link.account_b()), t);
  }
}

}  // namespace

void ObserveActivity(Analyzer::State& s, const policy::Policy& p,
                     const provenance::v1::WorkloadFacts& f, bool changed, int64_t t) {
  if (!IsTraining(f)) return;
  const std::string& key = f.key();
  auto [it, inserted] = s.activity.try_emplace(key);
  ActivitySeries& series = it->second;
  if (inserted) series.first_us = t;
  if (t < series.first_us) series.first_us = t;
  if (!changed) return;
  const int64_t tau = Micros(p.correlation.activity_tolerance);
  if (!series.Change(t, 2 * tau)) return;

  const int64_t window = std::max<int64_t>(Micros(p.correlation.activity_window), 1);
  const int64_t w = t / window;
  ActivityBucket& bucket = s.activity_events[w];
  const auto entry = std::make_pair(t, key);
  bucket.events.insert(std::upper_bound(bucket.events.begin(), bucket.events.end(), entry), entry);
  ++s.activity_event_count;

  // Candidates: training workloads of other accounts with an event within tolerance.
  std::vector<std::string> candidates;
  bool fleet_event = false;
  for (int64_t d = -1; d <= 1 && !fleet_event; ++d) {
    auto b = s.activity_events.find(w + d);
    if (b == s.activity_events.end()) continue;
    const auto& ev = b->second.events;
    auto lo = std::lower_bound(ev.begin(), ev.end(), std::make_pair(t - tau, std::string()));
    for (; lo != ev.end() && lo->first <= t + tau; ++lo) {
      if (lo->second == key) continue;
      if (candidates.size() >= kMaxRhythmCandidates) {
        fleet_event = true;
        break;
      }
      candidates.push_back(lo->second);
    }
  }
  if (!fleet_event) {
    std::sort(candidates.begin(), candidates.end());
    candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
    for (const std::string& other : candidates) {
      auto v = s.workloads.find(other);
      if (v == s.workloads.end() || v->second.account() == f.account() || !IsTraining(v->second)) {
        continue;
      }
      ScorePairRhythm(s, p, key, other, t);
    }
  }
  const int64_t keep = kRhythmHorizonUs / window + 2;
  while (!s.activity_events.empty() && s.activity_events.begin()->first < w - keep) {
    s.activity_event_count -= s.activity_events.begin()->second.events.size();
    s.activity_events.erase(s.activity_events.begin());
  }
}

}  // namespace prov::server
