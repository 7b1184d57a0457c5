// The rhythm model (server/analysis/rhythm.h): coincidence probabilities of two activity series.
#include "server/analysis/rhythm.h"

#include <cmath>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace prov::server {
namespace {

constexpr int64_t kMin = int64_t{60} * 1000000;
constexpr int64_t kT0 = int64_t{1764000000} * 1000000;
const RhythmParams kParams{kMin};  // 1-minute tolerance, 1-minute reports

double NoFleet(int64_t) { return 1; }

ActivitySeries Series(const std::vector<int64_t>& minutes) {
  ActivitySeries s;
  s.first_us = kT0;
  for (int64_t m : minutes) s.Change(kT0 + m * kMin, 2 * kMin);
  return s;
}

// Exchanges every `period` minutes +-`jitter` from `phase`, for `hours`.
std::vector<int64_t> Exchanges(std::mt19937& rng, int period, int jitter, int phase, int hours) {
  std::uniform_int_distribution<int> j(-jitter, jitter);
  std::vector<int64_t> out;
  for (int64_t m = phase; m < hours * 60; m += period + j(rng)) out.push_back(m);
  return out;
}

// A Poisson series on a 1-minute report grid: each minute changes with probability rate/60.
std::vector<int64_t> Poisson(std::mt19937& rng, double per_hour, int hours) {
  std::bernoulli_distribution change(per_hour / 60);
  std::vector<int64_t> out;
  for (int64_t m = 1; m < hours * 60; ++m) {
    if (change(rng)) out.push_back(m);
  }
  return out;
}

TEST(RhythmTest, PoissonBinomialTailMatchesTheBinomial) {
  const std::vector<double> q(10, 0.1);
  EXPECT_DOUBLE_EQ(PoissonBinomialTail(q.data(), 10, 0), 1);
  EXPECT_NEAR(PoissonBinomialTail(q.data(), 10, 10), 1e-10, 1e-20);
  EXPECT_NEAR(PoissonBinomialTail(q.data(), 10, 1), 1 - std::pow(0.9, 10), 1e-12);
  EXPECT_EQ(PoissonBinomialTail(q.data(), 10, 11), 0);
}

TEST(RhythmTest, AOneReportStallIsOneEvent) {
  ActivitySeries s;
  s.first_us = kT0;
  EXPECT_TRUE(s.Change(kT0 + 10 * kMin, 2 * kMin));   // pause
  EXPECT_FALSE(s.Change(kT0 + 11 * kMin, 2 * kMin));  // resume one report later
  EXPECT_TRUE(s.Change(kT0 + 40 * kMin, 2 * kMin));
  EXPECT_EQ(s.events.size(), 2u);
}

TEST(RhythmTest, IslandsSharingAJitteredExchangeOverSixHoursAreSurprising) {
  std::mt19937 rng(7);
  const std::vector<int64_t> x = Exchanges(rng, 40, 8, 13, 6);
  ActivitySeries a = Series(x), b;
  b.first_us = kT0;
  for (int64_t m : x) b.Change(kT0 + m * kMin + 20 * 1000000, 2 * kMin);  // 20 s later
  const RhythmEvidence e = ScoreRhythm(a, b, kT0 + 6 * 60 * kMin, kParams, NoFleet);
  EXPECT_EQ(e.matched, static_cast<int>(x.size()));
  EXPECT_EQ(e.aligned_cycles, static_cast<int>(x.size()) - 1);
  EXPECT_NEAR(e.period_s, 40 * 60, 8 * 60);
  EXPECT_GE(e.surprise, 9) << "p=" << e.p << " agreement " << e.interval_agreement;
  std::printf("%zu exchanges: surprise %.2f, agreement %.2f\n", x.size(), e.surprise,
              e.interval_agreement);
  EXPECT_NEAR(e.rate_a_per_h, x.size() / 6.0, 1e-9);
}

TEST(RhythmTest, ThreeCoincidencesInNinetyMinutesAreNotEnough) {
  // The old rule linked on three shared changes; at these rates three are quite likely.
  ActivitySeries a = Series({20, 55, 85}), b = Series({20, 55, 85});
  const RhythmEvidence e = ScoreRhythm(a, b, kT0 + 90 * kMin, kParams, NoFleet);
  EXPECT_EQ(e.matched, 3);
  EXPECT_LT(e.surprise, 6);
}

TEST(RhythmTest, TwoStrictlyPeriodicCheckpointersInPhaseEarnOnlyTheirFirstCoincidences) {
  // Checkpoint every 10 minutes, same phase: every change coincides, but once aligned they stay
  // aligned for free.
  std::vector<int64_t> x;
  for (int64_t m = 3; m < 360; m += 10) x.push_back(m);
  ActivitySeries a = Series(x), b = Series(x);
  const RhythmEvidence e = ScoreRhythm(a, b, kT0 + 360 * kMin, kParams, NoFleet);
  EXPECT_EQ(e.matched, static_cast<int>(x.size()));
  EXPECT_GT(e.interval_agreement, 0.9);
  EXPECT_LT(e.surprise, 3) << "p=" << e.p;
}

TEST(RhythmTest, ACheckpointerAndABurstyJobAreNotSurprising) {
  std::mt19937 rng(11);
  std::vector<int64_t> ckpt;
  for (int64_t m = 7; m < 360; m += 30) ckpt.push_back(m);
  ActivitySeries a = Series(ckpt), b = Series(Poisson(rng, 40, 6));
  const RhythmEvidence e = ScoreRhythm(a, b, kT0 + 360 * kMin, kParams, NoFleet);
  EXPECT_LT(e.surprise, 2) << "matched " << e.matched << " p=" << e.p;
}

TEST(RhythmTest, AFleetWidePauseExplainsEveryonesPause) {
  std::mt19937 rng(3);
  const std::vector<int64_t> x = Exchanges(rng, 40, 8, 13, 6);
  ActivitySeries a = Series(x), b = Series(x);
  const RhythmEvidence e =
      ScoreRhythm(a, b, kT0 + 360 * kMin, kParams, [](int64_t) { return 30.0; });
  EXPECT_LT(e.surprise, 6);
}

// (c) Two independent Poisson series at realistic rates (1 to 12 changes an hour, 6 hours):
// the surprise is a valid p-value (P(surprise >= s) <= 10^-s) and nothing reaches the link
// threshold. Fixed seed, 2,000 trials.
TEST(RhythmTest, IndependentPoissonSeriesDoNotLinkAndSurpriseIsCalibrated) {
  std::mt19937 rng(2026);
  std::uniform_real_distribution<double> rate(1, 12);
  constexpr int kTrials = 2000;
  int above1 = 0, above2 = 0, links = 0;
  double max_surprise = 0;
  for (int i = 0; i < kTrials; ++i) {
    ActivitySeries a = Series(Poisson(rng, rate(rng), 6)), b = Series(Poisson(rng, rate(rng), 6));
    const RhythmEvidence e = ScoreRhythm(a, b, kT0 + 360 * kMin, kParams, NoFleet);
    above1 += e.surprise >= 1;
    above2 += e.surprise >= 2;
    links += e.surprise >= 6 && e.aligned_cycles >= 2 && e.matched >= 3;
    max_surprise = std::max(max_surprise, e.surprise);
  }
  EXPECT_LE(above1, kTrials / 10);  // <= 10 %
  EXPECT_LE(above2, kTrials / 100 + 5);
  EXPECT_EQ(links, 0) << "max surprise " << max_surprise;
  RecordProperty("above1", above1);
  RecordProperty("above2", above2);
  std::printf("poisson trials: %d; surprise >= 1: %d, >= 2: %d, max %.2f\n", kTrials, above1,
              above2, max_surprise);
}

}  // namespace
}  // namespace prov::server
