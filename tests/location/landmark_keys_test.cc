#include "agent/location/landmark_keys.h"

#include <gtest/gtest.h>

#include "agent/location/rate_limiter.h"
#include "common/testing/fake_clock.h"

namespace prov::agent {
namespace {

const std::string kHex(64, 'a');

TEST(LandmarkKeysTest, ParsesLinesCommentsAndBlanks) {
  auto keys = ParseLandmarkKeys("# landmarks\n\nlm-fra-1 ed25519-public " + kHex +
                                "\n  lm-ams-2   ed25519-public " + std::string(64, 'B') + "  \n");
  ASSERT_TRUE(keys.ok()) << keys.status();
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ(keys->at("lm-fra-1"), std::string(32, '\xaa'));
  EXPECT_EQ(keys->at("lm-ams-2"), std::string(32, '\xbb'));
}

TEST(LandmarkKeysTest, ErrorsNameTheLine) {
  auto expect_error = [](const std::string& text, const std::string& want) {
    auto keys = ParseLandmarkKeys(text);
    ASSERT_FALSE(keys.ok()) << text;
    EXPECT_NE(keys.status().message().find(want), std::string::npos) << keys.status();
  };
  expect_error("# c\nlm-1 ed25519-public " + kHex + "\nlm-2\n", "line 3: expected");
  expect_error("lm-1 ed25519-seed " + kHex, "line 1: key must be \"ed25519-public");
  expect_error("lm-1 ed25519-public abc", "line 1: key has 3 hex digits");
  expect_error("lm-1 ed25519-public " + std::string(64, 'z'), "line 1: key is not hexadecimal");
  expect_error("lm/1 ed25519-public " + kHex, "line 1: landmark id 'lm/1'");
  expect_error("lm-1 ed25519-public " + kHex + "\nlm-1 ed25519-public " + kHex,
               "line 2: landmark 'lm-1' listed twice");
}

TEST(LandmarkKeysTest, LoadNamesTheFile) {
  auto keys = LoadLandmarkKeys("/nonexistent/landmarks.txt");
  ASSERT_FALSE(keys.ok());
  EXPECT_NE(keys.status().message().find("/nonexistent/landmarks.txt"), std::string::npos);
}

TEST(RateLimiterTest, PerSourceBucketRefillsWithTheClock) {
  FakeClock clock;
  RateLimiter limiter({.per_source_rate = 10, .per_source_burst = 3}, clock);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.AdmitSource("a"));
  EXPECT_FALSE(limiter.AdmitSource("a"));
  EXPECT_TRUE(limiter.AdmitSource("b"));   // another source has its own bucket
  clock.Advance(absl::Milliseconds(100));  // one token at 10/s
  EXPECT_TRUE(limiter.AdmitSource("a"));
  EXPECT_FALSE(limiter.AdmitSource("a"));
}

TEST(RateLimiterTest, AnswerAndVerifyBucketsAreGlobalAndSeparate) {
  FakeClock clock;
  RateLimiter limiter({.global_rate = 1, .global_burst = 2, .verify_rate = 1, .verify_burst = 3},
                      clock);
  EXPECT_TRUE(limiter.AdmitAnswer());
  EXPECT_TRUE(limiter.AdmitAnswer());
  EXPECT_FALSE(limiter.AdmitAnswer());
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.AdmitVerify()) << i;
  EXPECT_FALSE(limiter.AdmitVerify());
  clock.Advance(absl::Seconds(1));
  EXPECT_TRUE(limiter.AdmitAnswer());
  EXPECT_TRUE(limiter.AdmitVerify());
}

// Finding 7: a wall clock stepped back (NTP, an admin) must not stop refills until it is back
// where it was. The buckets re-anchor at the earlier time, and production uses SteadyClock.
TEST(RateLimiterTest, AClockSteppedBackDoesNotStopRefills) {
  FakeClock clock;
  RateLimiter limiter(
      {.per_source_rate = 10, .per_source_burst = 1, .global_rate = 10, .global_burst = 1}, clock);
  EXPECT_TRUE(limiter.AdmitSource("a"));
  EXPECT_TRUE(limiter.AdmitAnswer());
  EXPECT_FALSE(limiter.AdmitSource("a"));
  EXPECT_FALSE(limiter.AdmitAnswer());
  clock.Advance(-absl::Hours(1));  // the step back
  EXPECT_FALSE(limiter.AdmitSource("a"));
  EXPECT_FALSE(limiter.AdmitAnswer());
  clock.Advance(absl::Milliseconds(100));  // one token at 10/s, an hour before the old reading
  EXPECT_TRUE(limiter.AdmitSource("a"));
  EXPECT_TRUE(limiter.AdmitAnswer());
}

TEST(SteadyClockTest, NeverGoesBackwards) {
  const Clock& clock = SteadyClock::Get();
  absl::Time last = clock.Now();
  for (int i = 0; i < 1000; ++i) {
    const absl::Time now = clock.Now();
    EXPECT_GE(now, last);
    last = now;
  }
}

TEST(RateLimiterTest, SourceTableStaysBounded) {
  FakeClock clock;
  RateLimiter limiter({.per_source_rate = 1,
                       .per_source_burst = 1,
                       .global_rate = 1e9,
                       .global_burst = 1e9,
                       .max_sources = 8},
                      clock);
  for (int i = 0; i < 100; ++i) limiter.AdmitSource("s" + std::to_string(i));
  EXPECT_LE(limiter.tracked_sources(), 8u);
}

}  // namespace
}  // namespace prov::agent
