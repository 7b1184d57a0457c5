// ProvdMetrics and StoreCollector: the names, labels and values an on-call engineer reads, over a
// real SQLite store and a fake clock (silent nodes follow the clock, not wall time).
#include "server/metrics/provd_metrics.h"

#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/testing/fake_clock.h"
#include "common/version.h"
#include "gtest/gtest.h"
#include "prometheus/text_serializer.h"
#include "server/ledger/usage.h"
#include "server/store/store.h"
#include "server/store/store_reader.h"
#include "tests/server/temp_dir.h"
#include "tests/server/test_reports.h"

namespace prov::server {
namespace {

using provenance::v1::NodeReport;
using testing::MakeReport;

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

// "name{l1="v1",l2="v2"}" -> value, for every sample of every family; fails on a repeated series.
std::map<std::string, double> Samples(const std::vector<prometheus::MetricFamily>& families) {
  std::map<std::string, double> out;
  for (const auto& f : families) {
    for (const auto& m : f.metric) {
      std::string key = f.name;
      if (!m.label.empty()) {
        key += "{";
        for (size_t i = 0; i < m.label.size(); ++i) {
          absl::StrAppend(&key, i ? "," : "", m.label[i].name, "=\"", m.label[i].value, "\"");
        }
        key += "}";
      }
      const double value =
          f.type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value;
      EXPECT_TRUE(out.emplace(key, value).second) << "duplicate series " << key;
    }
  }
  return out;
}

class StoreCollectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = Store::Open(dir_.path() + "/provd.db");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    auto reader = StoreReader::Open(dir_.path() + "/provd.db");
    ASSERT_TRUE(reader.ok()) << reader.status();
    reader_ = std::move(*reader);
  }
  void Commit(const NodeReport& r) {
    ReportToCommit item;
    item.report = &r;
    item.size_bytes = r.ByteSizeLong();
    item.usage = ComputeUsage(r, AcceleratorCatalog::Builtin(), {});
    std::vector<ReportToCommit> batch{std::move(item)};
    ASSERT_TRUE(store_->Commit(batch, clock_.Now()).ok());
  }

  testing::TempDir dir_;
  FakeClock clock_{kT0};
  std::unique_ptr<Store> store_;
  std::unique_ptr<StoreReader> reader_;
};

TEST_F(StoreCollectorTest, NodesReportingAndSilentPerDatacenterFollowTheClock) {
  Commit(MakeReport("fra-1", "b", 1, kT0 - absl::Seconds(10), "fra1"));
  Commit(MakeReport("fra-2", "b", 1, kT0 - absl::Seconds(90), "fra1"));  // silent at kT0
  Commit(MakeReport("ams-1", "b", 1, kT0 - absl::Seconds(30), "ams2"));
  Commit(MakeReport("nodc-1", "b", 1, kT0 - absl::Seconds(5), ""));
  Commit(MakeReport("literal-unknown", "b", 1, kT0 - absl::Seconds(600), "unknown"));
  StoreCollector collector(*reader_, clock_, absl::Seconds(60));

  auto now = Samples(collector.Collect());
  EXPECT_EQ(now["prov_nodes"], 5);
  EXPECT_EQ(now[R"(prov_nodes_reporting{datacenter="fra1"})"], 1);
  EXPECT_EQ(now[R"(prov_nodes_silent{datacenter="fra1"})"], 1);
  EXPECT_EQ(now[R"(prov_nodes_reporting{datacenter="ams2"})"], 1);
  EXPECT_EQ(now[R"(prov_nodes_silent{datacenter="ams2"})"], 0) << "zero is exported, not absent";
  EXPECT_EQ(now[R"(prov_nodes_reporting{datacenter="unknown"})"], 1) << "empty datacenter";
  EXPECT_EQ(now[R"(prov_nodes_silent{datacenter="unknown"})"], 1) << "merged with \"unknown\"";
  EXPECT_EQ(now["prov_silent_after_seconds"], 60);
  EXPECT_EQ(now[R"(prov_accelerators{model="H100 SXM5 80GB",vendor="nvidia"})"], 10);
  EXPECT_EQ(now["prov_store_read_errors_total"], 0);

  clock_.Advance(absl::Seconds(45));  // ams-1 is now 75 s old, fra-1 55 s, nodc-1 50 s
  auto later = Samples(collector.Collect());
  EXPECT_EQ(later[R"(prov_nodes_reporting{datacenter="fra1"})"], 1);
  EXPECT_EQ(later[R"(prov_nodes_silent{datacenter="fra1"})"], 1);
  EXPECT_EQ(later[R"(prov_nodes_reporting{datacenter="ams2"})"], 0);
  EXPECT_EQ(later[R"(prov_nodes_silent{datacenter="ams2"})"], 1);

  // A new report brings a node back.
  Commit(MakeReport("ams-1", "b", 2, clock_.Now(), "ams2"));
  auto back = Samples(collector.Collect());
  EXPECT_EQ(back[R"(prov_nodes_reporting{datacenter="ams2"})"], 1);
  EXPECT_EQ(back[R"(prov_nodes_silent{datacenter="ams2"})"], 0);
}

TEST_F(StoreCollectorTest, EmptyStoreExportsZeroNodesAndEveryFamilyHasHelp) {
  StoreCollector collector(*reader_, clock_, absl::Seconds(60));
  auto families = collector.Collect();
  for (const auto& f : families) EXPECT_FALSE(f.help.empty()) << f.name;
  auto samples = Samples(families);
  EXPECT_EQ(samples["prov_nodes"], 0);
  EXPECT_EQ(samples.count(R"(prov_nodes_silent{datacenter="unknown"})"), 0u);
}

TEST(ProvdMetricsTest, BuildInfoCapacityAndStartTimeAreExported) {
  ProvdMetrics metrics(std::make_shared<prometheus::Registry>());
  metrics.queue_capacity.Set(1024);
  metrics.start_time_seconds.Set(1.7e9);
  metrics.Rejected("node.datacenter");
  const std::string text = prometheus::TextSerializer().Serialize(metrics.registry()->Collect());
  for (const std::string& expected :
       {absl::StrCat("prov_build_info{version=\"", kVersion, "\"} 1"),
        std::string("prov_ingest_queue_capacity 1024"),
        std::string("prov_start_time_seconds 1700000000"),
        std::string("prov_reports_rejected_total{field=\"node.datacenter\"} 1"),
        std::string("# HELP prov_ingest_queue_capacity ")}) {
    EXPECT_NE(text.find(expected), std::string::npos) << "missing: " << expected << "\n" << text;
  }
}

// PostgreSQL's day partitions (provd_server.cc's ReportDayPartitions feeds these).
TEST(ProvdMetricsTest, DayPartitionAttemptsAndDefaultPartitionRows) {
  ProvdMetrics metrics(std::make_shared<prometheus::Registry>());
  auto text = [&] { return prometheus::TextSerializer().Serialize(metrics.registry()->Collect()); };
  metrics.DayPartitionsMade(true, 8);
  metrics.DayPartitionsMade(false, 0);
  metrics.DayPartitionsMade(true, 2);
  metrics.DefaultPartitionRows("reports", 3);
  metrics.DefaultPartitionRows("account_usage_hourly", 0);
  metrics.DefaultPartitionRows("reports", -1);  // not counted this time: keeps 3
  const std::string after = text();
  for (const char* expected :
       {"prov_pg_day_partitions_created_total 10", "prov_pg_day_partition_failures_total 1",
        "prov_pg_default_partition_rows{table=\"reports\"} 3",
        "prov_pg_default_partition_rows{table=\"account_usage_hourly\"} 0"}) {
    EXPECT_NE(after.find(expected), std::string::npos) << "missing: " << expected << "\n" << after;
  }
}

TEST(ProvdMetricsTest, CommitFailuresAreCountedByReason) {
  ProvdMetrics metrics(std::make_shared<prometheus::Registry>());
  auto text = [&] { return prometheus::TextSerializer().Serialize(metrics.registry()->Collect()); };
  EXPECT_NE(text().find("prov_commit_failures_total{reason=\"disk_full\"} 0"), std::string::npos)
      << "every reason is exported at 0 before any failure\n"
      << text();
  EXPECT_STREQ(metrics.CommitFailed(absl::ResourceExhaustedError("sqlite: disk is full")),
               "disk_full");
  EXPECT_STREQ(metrics.CommitFailed(absl::ResourceExhaustedError("again")), "disk_full");
  EXPECT_STREQ(metrics.CommitFailed(absl::UnavailableError("database is locked")), "busy");
  EXPECT_STREQ(metrics.CommitFailed(absl::InternalError("disk I/O error")), "other");
  const std::string after = text();
  for (const char* expected : {"prov_commit_failures_total{reason=\"disk_full\"} 2",
                               "prov_commit_failures_total{reason=\"busy\"} 1",
                               "prov_commit_failures_total{reason=\"other\"} 1"}) {
    EXPECT_NE(after.find(expected), std::string::npos) << "missing: " << expected << "\n" << after;
  }
}

}  // namespace
}  // namespace prov::server
