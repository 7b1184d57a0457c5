// Rhythm, not coincidence (issue 9): synchronised_activity links weighed by surprise, with
// simulated time (one report a minute, every workload on its own node).
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/analysis/analyzer.h"
#include "tests/analysis/analysis_test_util.h"

namespace prov::server {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using namespace testing;  // NOLINT: test builders

struct Series {
  std::string account;
  std::vector<bool> paused;  // per minute
};

// Replays `series` (one training workload each, one report a minute, reports 20 s apart per
// workload) through an Analyzer.
void Replay(Analyzer& a, const std::vector<Series>& series, int minutes) {
  for (int m = 0; m < minutes; ++m) {
    for (size_t i = 0; i < series.size(); ++i) {
      const absl::Time t = kT0 + absl::Minutes(m) + absl::Seconds(i % 3 * 20);
      ReportObservation r =
          WithAddress(Node("n" + std::to_string(i), "dc" + std::to_string(i % 4),
                           "r" + std::to_string(i % 4), t),
                      "10.9." + std::to_string(i / 200) + "." + std::to_string(i % 200));
      WorkloadObservation w = Training("job", series[i].account, 1e12);
      w.activity_pct = series[i].paused[m] ? 3 : 96;
      r.workloads.push_back(w);
      a.Observe(r);
    }
    a.Evaluate(kT0 + absl::Minutes(m));
  }
}

// A background of `n` unrelated bursty jobs: each minute starts a burst or stall with
// probability rate_per_hour / 60, lasting 1 to 4 minutes.
std::vector<Series> Background(std::mt19937& rng, int n, int minutes, double rate_per_hour) {
  std::vector<Series> out;
  std::bernoulli_distribution start(rate_per_hour / 60);
  std::uniform_int_distribution<int> len(1, 4);
  for (int i = 0; i < n; ++i) {
    Series s{"bg-" + std::to_string(i), std::vector<bool>(minutes, false)};
    for (int m = 1; m < minutes; ++m) {
      if (!start(rng)) continue;
      for (int k = len(rng); k > 0 && m < minutes; --k, ++m) s.paused[m] = true;
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<provenance::v1::Link> SyncLinks(const Analyzer& a, const std::string& account) {
  const std::string bundle = a.BundleOf(account);
  if (bundle.empty()) return {};
  return OfKind(a.BundleLinks(bundle, 100), "synchronised_activity");
}

// (a) Two islands exchanging weights every ~40 minutes (+-8 min jitter) over 6 hours, among 40
// unrelated bursty jobs, link; none of the background does.
TEST(AnalyzerRhythmTest, IslandsExchangingEveryFortyMinutesLink) {
  constexpr int kMinutes = 360;
  std::mt19937 rng(9);
  std::vector<Series> series = Background(rng, 40, kMinutes, 4);
  Series a{"island-a", std::vector<bool>(kMinutes, false)}, b = a;
  b.account = "island-b";
  std::uniform_int_distribution<int> jitter(-8, 8);
  int exchanges = 0;
  for (int m = 17; m < kMinutes; m += 40 + jitter(rng), ++exchanges) {
    a.paused[m] = b.paused[m] = true;  // both stall in the exchange's report
  }
  series.push_back(a);
  series.push_back(b);
  Analyzer an(TestPolicy());
  Replay(an, series, kMinutes);
  ASSERT_FALSE(an.BundleOf("island-a").empty());
  EXPECT_EQ(an.BundleOf("island-a"), an.BundleOf("island-b"));
  auto links = SyncLinks(an, "island-a");
  ASSERT_THAT(links, SizeIs(1));
  EXPECT_THAT(links[0].sentence(), HasSubstr("aligned cycles, shared period about"));
  EXPECT_THAT(links[0].sentence(), HasSubstr("by coincidence p="));
  EXPECT_THAT(links[0].sentence(), HasSubstr("own rates"));
  EXPECT_GE(links[0].weight(), 0.6);  // full weight in this policy: surprise >= full_surprise
  for (int i = 0; i < 40; ++i) {
    EXPECT_THAT(SyncLinks(an, "bg-" + std::to_string(i)), IsEmpty()) << "bg-" << i;
  }
  std::printf("%d exchanges: %s\n", exchanges, links[0].sentence().c_str());
}

// (b) A job pausing for a checkpoint every 30 minutes and an unrelated bursty job with a high
// change rate (a burst or stall every ~3 minutes) share many changes and do not link; the old
// rule (three shared changes in a 5-minute window) linked them.
TEST(AnalyzerRhythmTest, CheckpointerAndBurstyJobDoNotLink) {
  constexpr int kMinutes = 360;
  std::mt19937 rng(5);
  std::vector<Series> series = Background(rng, 1, kMinutes, 20);
  series[0].account = "bursty";
  Series ckpt{"checkpointer", std::vector<bool>(kMinutes, false)};
  for (int m = 11; m < kMinutes; m += 30) ckpt.paused[m] = true;
  series.push_back(ckpt);
  Analyzer an(TestPolicy());
  Replay(an, series, kMinutes);
  EXPECT_THAT(SyncLinks(an, "checkpointer"), IsEmpty());
  EXPECT_NE(an.BundleOf("checkpointer"), an.BundleOf("bursty"));
}

// Two unrelated jobs checkpointing every 10 minutes in phase: every change coincides, yet a
// shared strict period is what any two such jobs would show: no link.
TEST(AnalyzerRhythmTest, InPhaseCheckpointersDoNotLink) {
  constexpr int kMinutes = 360;
  Series a{"ckpt-a", std::vector<bool>(kMinutes, false)}, b = a;
  b.account = "ckpt-b";
  for (int m = 4; m < kMinutes; m += 10) a.paused[m] = b.paused[m] = true;
  Analyzer an(TestPolicy());
  Replay(an, {a, b}, kMinutes);
  EXPECT_THAT(SyncLinks(an, "ckpt-a"), IsEmpty());
  EXPECT_NE(an.BundleOf("ckpt-a"), an.BundleOf("ckpt-b"));
}

}  // namespace
}  // namespace prov::server
