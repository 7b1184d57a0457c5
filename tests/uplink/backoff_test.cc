#include "agent/uplink/backoff.h"

#include "gtest/gtest.h"

namespace prov::agent {
namespace {

TEST(BackoffTest, LowestJitterDoublesFromHalfInitialUpToHalfMax) {
  Backoff backoff(absl::Seconds(1), absl::Seconds(8), [] { return 0.0; });
  EXPECT_EQ(backoff.Next(), absl::Milliseconds(500));
  EXPECT_EQ(backoff.Next(), absl::Seconds(1));
  EXPECT_EQ(backoff.Next(), absl::Seconds(2));
  EXPECT_EQ(backoff.Next(), absl::Seconds(4));
  EXPECT_EQ(backoff.Next(), absl::Seconds(4));  // capped at max/2 .. max
}

TEST(BackoffTest, HighestJitterReachesTheCap) {
  Backoff backoff(absl::Seconds(1), absl::Seconds(60), [] { return 1.0; });
  EXPECT_EQ(backoff.Next(), absl::Seconds(1));
  EXPECT_EQ(backoff.Next(), absl::Seconds(2));
  for (int i = 0; i < 20; ++i) backoff.Next();
  EXPECT_EQ(backoff.Next(), absl::Seconds(60));
}

TEST(BackoffTest, JitterSpreadsDelaysWithinTheWindowAndResetRestarts) {
  double u = 0.25;
  Backoff backoff(absl::Seconds(2), absl::Seconds(60), [&u] { return u; });
  EXPECT_EQ(backoff.Next(), absl::Milliseconds(1250));  // 1 s + 0.25 * 1 s
  u = 0.75;
  EXPECT_EQ(backoff.Next(), absl::Milliseconds(3500));  // 2 s + 0.75 * 2 s
  backoff.Reset();
  EXPECT_EQ(backoff.attempt(), 0);
  EXPECT_EQ(backoff.Next(), absl::Milliseconds(1750));
}

TEST(BackoffTest, DefaultRandomStaysInRange) {
  Backoff backoff(absl::Seconds(1), absl::Seconds(1), MakeDefaultRandom());
  for (int i = 0; i < 100; ++i) {
    absl::Duration d = backoff.Next();
    EXPECT_GE(d, absl::Milliseconds(500));
    EXPECT_LE(d, absl::Seconds(1));
  }
}

}  // namespace
}  // namespace prov::agent
