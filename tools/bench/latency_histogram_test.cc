#include "tools/bench/latency_histogram.h"

#include "gtest/gtest.h"

namespace prov::bench {
namespace {

TEST(LatencyHistogramTest, EmptyGivesZero) {
  LatencyHistogram h;
  EXPECT_EQ(h.Count(), 0u);
  EXPECT_EQ(h.Percentile(99), absl::ZeroDuration());
  EXPECT_EQ(h.Max(), absl::ZeroDuration());
}

TEST(LatencyHistogramTest, PercentilesAreNeverLowAndAtMostFivePercentHigh) {
  LatencyHistogram h;
  for (int ms = 1; ms <= 1000; ++ms) h.Record(absl::Milliseconds(ms));
  EXPECT_EQ(h.Count(), 1000u);
  const double p50 = absl::ToDoubleMilliseconds(h.Percentile(50));
  const double p99 = absl::ToDoubleMilliseconds(h.Percentile(99));
  EXPECT_GE(p50, 500);
  EXPECT_LE(p50, 525);
  EXPECT_GE(p99, 990);
  EXPECT_LE(p99, 1000);  // capped by the exact maximum
  EXPECT_EQ(h.Max(), absl::Milliseconds(1000));
}

TEST(LatencyHistogramTest, HugeAndNegativeValuesStayInRange) {
  LatencyHistogram h;
  h.Record(absl::Seconds(-1));
  h.Record(absl::Hours(2));
  EXPECT_EQ(h.Count(), 2u);
  EXPECT_LE(h.Percentile(50), absl::Microseconds(1));  // negative counts as 0
  EXPECT_EQ(h.Max(), absl::Hours(2));
  EXPECT_EQ(h.Percentile(100), absl::Hours(2));
}

}  // namespace
}  // namespace prov::bench
