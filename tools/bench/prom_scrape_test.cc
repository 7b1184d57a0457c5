#include "tools/bench/prom_scrape.h"

#include "gtest/gtest.h"

namespace prov::bench {
namespace {

constexpr char kPage[] =
    "# HELP prov_leader 1 when leading\n"
    "# TYPE prov_leader gauge\n"
    "prov_leader 1\n"
    "prov_leader_term 7\n"
    "prov_analysis_reloads_total{result=\"ok\"} 2\n"
    "prov_analysis_reloads_total{result=\"failed\"} 3\n"
    "prov_analysis_busy_seconds_total 1.5e-03 1700000000000\n";

TEST(PromScrapeTest, PlainSampleWithoutMatchingLongerNames) {
  absl::StatusOr<double> v = MetricValue(kPage, "prov_leader");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(*v, 1);
  EXPECT_EQ(*MetricValue(kPage, "prov_leader_term"), 7);
}

TEST(PromScrapeTest, LabelledSamplesAreSummed) {
  EXPECT_EQ(*MetricValue(kPage, "prov_analysis_reloads_total"), 5);
}

TEST(PromScrapeTest, ExponentAndTimestamp) {
  EXPECT_DOUBLE_EQ(*MetricValue(kPage, "prov_analysis_busy_seconds_total"), 0.0015);
}

TEST(PromScrapeTest, MissingMetricIsNotFoundAndGarbageIsAnError) {
  EXPECT_EQ(MetricValue(kPage, "prov_nosuch").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(MetricValue(kPage, "prov_lead").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(MetricValue("prov_x abc\n", "prov_x").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(PromScrapeTest, NothingListeningIsUnavailable) {
  // Port 1 on loopback: nothing of ours listens there.
  EXPECT_EQ(ScrapeMetrics("127.0.0.1", 1).status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace prov::bench
