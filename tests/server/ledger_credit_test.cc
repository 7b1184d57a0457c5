// The elapsed-time ledger (issue 14): CreditReport's rule, and Store::Commit crediting what
// elapsed between a node's reports rather than interval_seconds, against a real SQLite file.
#include <vector>

#include "common/accelerator_catalog.h"
#include "gtest/gtest.h"
#include "server/ledger/credit.h"
#include "server/store/sqlite.h"
#include "server/store/store.h"
#include "tests/server/commit_batch.h"
#include "tests/server/temp_dir.h"
#include "tests/server/test_reports.h"

namespace prov::server {
namespace {

using provenance::v1::NodeReport;
using testing::MakeReport;

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);
constexpr int64_t kS = 1'000'000;  // microseconds per second

int64_t Us(absl::Time t) { return absl::ToUnixMicros(t); }

// ---- CreditReport, pure ----

TEST(CreditReportTest, LiveReportsAreCreditedTheirSpacing) {
  StreamCredit stream{.credited_until_us = Us(kT0), .last_collected_us = Us(kT0)};
  CreditInput in{.collected_us = Us(kT0) + 10 * kS,
                 .received_us = Us(kT0) + 10 * kS + 200'000,
                 .interval_seconds = 10,
                 .node_credited_until_us = Us(kT0)};
  Credit c = CreditReport(stream, in, {});
  EXPECT_DOUBLE_EQ(c.elapsed_seconds, 10);
  EXPECT_DOUBLE_EQ(c.gap_seconds, 0);
  EXPECT_FALSE(c.clock_bound);
  EXPECT_EQ(c.next.credited_until_us, Us(kT0) + 10 * kS);
}

TEST(CreditReportTest, NeverMoreThanProvdsClockSawPass) {
  StreamCredit stream{.credited_until_us = Us(kT0), .last_collected_us = Us(kT0)};
  CreditInput in{.collected_us = Us(kT0) + 3600 * kS,
                 .received_us = Us(kT0) + 2 * kS,
                 .interval_seconds = 3600,
                 .node_credited_until_us = Us(kT0)};
  Credit c = CreditReport(stream, in, {});
  EXPECT_DOUBLE_EQ(c.elapsed_seconds, 2);
  EXPECT_TRUE(c.clock_bound);
}

TEST(CreditReportTest, TimestampsTrailingTooFarAreMovedUpToProvdsClock) {
  // Claims 1 s and timestamps 1 s apart, but provd sees reports two hours apart.
  StreamCredit stream{.credited_until_us = Us(kT0), .last_collected_us = Us(kT0)};
  CreditInput in{.collected_us = Us(kT0) + kS,
                 .received_us = Us(kT0) + 7200 * kS,
                 .interval_seconds = 1,
                 .node_credited_until_us = Us(kT0)};
  Credit c = CreditReport(stream, in, {.max_report_lag = absl::Hours(1)});
  EXPECT_TRUE(c.lag_floor);
  EXPECT_DOUBLE_EQ(c.elapsed_seconds, 3600);  // the last hour stays the report's to explain
  EXPECT_DOUBLE_EQ(c.observed_seconds, 1);
  EXPECT_DOUBLE_EQ(c.gap_seconds, 3599);
}

TEST(CreditReportTest, ANewBootStartsAtTheNodesHorizon) {
  CreditInput in{.collected_us = Us(kT0) + 5 * kS,
                 .received_us = Us(kT0) + 5 * kS,
                 .interval_seconds = 3600,
                 .node_credited_until_us = Us(kT0)};
  Credit c = CreditReport({}, in, {});
  EXPECT_DOUBLE_EQ(c.elapsed_seconds, 5) << "a fresh boot id earns no already-credited time";
}

TEST(CreditReportTest, AnOlderBootReplayingItsSpoolKeepsItsOwnTimestamps) {
  // Boot a was credited to kT0; boot b (live) is credited to kT0 + 1 h. Boot a's spooled report
  // from kT0 + 10 s arrives now: its own spacing, no lag floor (it is not the live boot).
  StreamCredit stream{.credited_until_us = Us(kT0),
                      .last_collected_us = Us(kT0),
                      .first_credit_us = Us(kT0) - 10 * kS};
  CreditInput in{.collected_us = Us(kT0) + 10 * kS,
                 .received_us = Us(kT0) + 7200 * kS,
                 .interval_seconds = 10,
                 .node_credited_until_us = Us(kT0) + 3600 * kS,
                 .node_newest_boot_us = Us(kT0) + 1800 * kS};
  Credit c = CreditReport(stream, in, {});
  EXPECT_DOUBLE_EQ(c.elapsed_seconds, 10);
  EXPECT_FALSE(c.lag_floor);
  // ... but never past the newest boot's start.
  in.collected_us = Us(kT0) + 3000 * kS;
  c = CreditReport(stream, in, {});
  EXPECT_DOUBLE_EQ(c.elapsed_seconds, 1800);
}

TEST(CreditReportTest, ProvdsClockGoingBackCreditsNothing) {
  StreamCredit stream{.credited_until_us = Us(kT0), .last_collected_us = Us(kT0)};
  CreditInput in{.collected_us = Us(kT0) + 10 * kS,
                 .received_us = Us(kT0) - 60 * kS,
                 .interval_seconds = 10,
                 .node_credited_until_us = Us(kT0)};
  Credit c = CreditReport(stream, in, {});
  EXPECT_DOUBLE_EQ(c.elapsed_seconds, 0);
  EXPECT_EQ(c.next.credited_until_us, Us(kT0));
}

TEST(ApplyCreditTest, AGapWidensTheRangeAndCountsContinuedWorkloads) {
  NodeReport r = MakeReport("n", "b", 2, kT0);
  std::vector<WorkloadUsage> claimed = ComputeUsage(r, AcceleratorCatalog::Builtin(), {});
  ASSERT_EQ(claimed.size(), 1u);
  Credit gap;
  gap.elapsed_seconds = 100;
  gap.observed_seconds = 10;
  gap.gap_seconds = 90;

  WorkloadUsage continued = claimed[0];
  ApplyCredit(gap, 10, /*continued=*/true, &continued);
  EXPECT_DOUBLE_EQ(continued.accelerator_seconds, 200);  // 2 accelerators x 100 s
  EXPECT_DOUBLE_EQ(continued.gap_seconds, 180);
  EXPECT_DOUBLE_EQ(continued.flop_low, claimed[0].flop_low * 10);
  EXPECT_DOUBLE_EQ(continued.flop_high, claimed[0].flop_high * 10);
  EXPECT_NE(continued.method.find(kMethodEvidenceGap), std::string::npos) << continued.method;

  WorkloadUsage fresh = claimed[0];
  ApplyCredit(gap, 10, /*continued=*/false, &fresh);
  EXPECT_DOUBLE_EQ(fresh.accelerator_seconds, 20) << "only what was observed";
  EXPECT_DOUBLE_EQ(fresh.gap_seconds, 0);
  EXPECT_DOUBLE_EQ(fresh.flop_low, claimed[0].flop_low);
  EXPECT_DOUBLE_EQ(fresh.flop_high, claimed[0].flop_high * 10) << "the high bound covers the gap";
}

// ---- Store::Commit ----

class LedgerStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { OpenStore("provd.db"); }
  void OpenStore(const std::string& name) {
    store_.reset();
    auto store = Store::Open(dir_.path() + "/" + name);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    auto db = SqliteDb::Open(dir_.path() + "/" + name, SqliteDb::kReadOnly);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
  }

  // Commits `reports` as one batch received at `received`; returns the credited usage.
  std::vector<ReportToCommit> Commit(const std::vector<const NodeReport*>& reports,
                                     absl::Time received) {
    std::vector<ReportToCommit> batch = testing::CommitBatch(reports);
    auto result = store_->Commit(batch, received);
    EXPECT_TRUE(result.ok()) << result.status();
    if (result.ok()) last_ = *result;
    return batch;
  }

  double Query(const std::string& sql) {
    auto st = db_->Prepare(sql);
    EXPECT_TRUE(st.ok()) << st.status();
    if (!st.ok()) return -1;
    auto row = (*st)->Step();
    EXPECT_TRUE(row.ok() && *row) << sql;
    return row.ok() && *row ? (*st)->ColumnDouble(0) : -1;
  }
  double WorkloadSeconds() {
    return Query("SELECT COALESCE(SUM(accelerator_seconds), 0) FROM workloads");
  }
  double HourlySeconds() {
    return Query("SELECT COALESCE(SUM(accelerator_seconds), 0) FROM account_usage_hourly");
  }
  double Gaps() { return Query("SELECT COUNT(*) FROM evidence_gaps"); }

  // A report of node "n" claiming `interval` seconds, collected at `at`.
  NodeReport Report(const std::string& boot, uint64_t seq, absl::Time at, uint32_t interval) {
    NodeReport r = MakeReport("n", boot, seq, at);
    r.set_interval_seconds(interval);
    return r;
  }

  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<SqliteDb> db_;
  CommitResult last_;
};

// Issue 14, inflate: 120 reports claiming 3,600 s each (432,000 s), sent within 0.4 s. With all
// timestamps "now", the first report's claimed interval plus the 0.4 s provd's clock saw pass is
// credited. With timestamps spaced by the claim into the past, a never-seen node's reports may
// also fill the max_report_lag (1 h) before its first contact (its spool from before then), once.
TEST_F(LedgerStoreTest, InflatedIntervalsSentQuicklyGetOnlyTheElapsedTime) {
  for (bool spaced : {true, false}) {
    SCOPED_TRACE(spaced ? "timestamps spaced by the claim" : "timestamps all now");
    OpenStore(spaced ? "spaced.db" : "now.db");
    absl::Time received = kT0;
    for (int i = 0; i < 120; ++i) {
      const absl::Time at = spaced ? kT0 - absl::Hours(119) + absl::Hours(i) : kT0;
      NodeReport r = Report("b", i + 1, at, 3600);
      received = kT0 + absl::Milliseconds(i * 400 / 119);
      Commit({&r}, received);
    }
    // 2 accelerators: the first report's 3,600 s claim plus the 0.4 s that passed.
    EXPECT_LE(WorkloadSeconds(), 2 * (3600 + (spaced ? 3600 : 0) + 0.41));
    EXPECT_GE(WorkloadSeconds(), 2 * 3600);
    EXPECT_NEAR(HourlySeconds(), WorkloadSeconds(), 1e-6);
    const WorkloadUsage claimed =
        ComputeUsage(Report("b", 1, kT0, 3600), AcceleratorCatalog::Builtin(), {})[0];
    EXPECT_NEAR(Query("SELECT flop_high FROM workloads"),
                WorkloadSeconds() * claimed.flop_high / claimed.accelerator_seconds, 1e9)
        << "the FLOP range follows the credited seconds";
  }
}

// Issue 14, shrink: claiming 1 s while reporting every hour. Every hour is credited (as an
// evidence gap: one second of samples per hour), the workload ran through it, so both the
// accelerator-hours and the low FLOP bound (compute tiers) cover the whole run.
TEST_F(LedgerStoreTest, ShrunkIntervalsReportedHourlyGetTheWholeHour) {
  std::vector<WorkloadUsage> claimed =
      ComputeUsage(Report("b", 1, kT0, 1), AcceleratorCatalog::Builtin(), {});
  for (int i = 0; i < 24; ++i) {
    NodeReport r = Report("b", i + 1, kT0 + absl::Hours(i), 1);
    Commit({&r}, kT0 + absl::Hours(i) + absl::Milliseconds(300));
  }
  const double expected = 2 * (1 + 23 * 3600.0);  // the first report: its 1 s claim
  EXPECT_NEAR(WorkloadSeconds(), expected, 1);
  EXPECT_NEAR(HourlySeconds(), expected, 1);
  EXPECT_NEAR(Query("SELECT flop_low FROM workloads"), claimed[0].flop_low * (1 + 23 * 3600.0),
              claimed[0].flop_low * 2);
  EXPECT_EQ(Gaps(), 23);
  EXPECT_NEAR(Query("SELECT SUM(gap_seconds) FROM evidence_gaps"), 23 * 3599.0, 1);
  EXPECT_NEAR(Query("SELECT gap_seconds FROM workloads"), 2 * 23 * 3599.0, 1);
}

// The same hiding with timestamps that trail (1 s apart, sent hourly): provd's clock takes over
// once they trail by more than max_report_lag (1 h), so at most an hour stays uncredited.
TEST_F(LedgerStoreTest, TrailingTimestampsCannotHideMoreThanTheMaximumLag) {
  for (int i = 0; i < 24; ++i) {
    NodeReport r = Report("b", i + 1, kT0 + absl::Seconds(i), 1);
    Commit({&r}, kT0 + absl::Hours(i));
  }
  EXPECT_GE(WorkloadSeconds(), 2 * (23 * 3600.0 - 3600));
  EXPECT_LE(WorkloadSeconds(), 2 * (23 * 3600.0 + 1));
}

// The agent spools while provd is down and sends everything at once on reconnect: the replayed
// reports carry their own timestamps 10 s apart and are credited 10 s each, in their own hours.
TEST_F(LedgerStoreTest, SpoolReplayAfterAnOutageIsCreditedByItsTimestamps) {
  const absl::Time start = absl::FromUnixSeconds(1'700'002'400);  // 22:53:20 UTC
  uint64_t seq = 0;
  for (int i = 0; i < 30; ++i) {  // live for 5 minutes
    NodeReport r = Report("b", ++seq, start + absl::Seconds(10 * i), 10);
    Commit({&r}, start + absl::Seconds(10 * i) + absl::Milliseconds(50));
  }
  const double live = WorkloadSeconds();
  // provd down for 40 minutes (crossing an hour): 240 spooled reports arrive in two batches.
  std::vector<NodeReport> spooled;
  const absl::Time outage = start + absl::Seconds(290);
  for (int i = 1; i <= 240; ++i) {
    spooled.push_back(Report("b", ++seq, outage + absl::Seconds(10 * i), 10));
  }
  const absl::Time reconnect = outage + absl::Seconds(2400) + absl::Milliseconds(700);
  std::vector<const NodeReport*> first, second;
  for (size_t i = 0; i < spooled.size(); ++i) (i < 200 ? first : second).push_back(&spooled[i]);
  std::vector<ReportToCommit> credited = Commit(first, reconnect);
  for (const ReportToCommit& item : credited) {
    EXPECT_DOUBLE_EQ(item.credited_seconds, 10);
    EXPECT_DOUBLE_EQ(item.usage[0].accelerator_seconds, 20) << "the usage the engine observes";
  }
  Commit(second, reconnect + absl::Milliseconds(5));
  EXPECT_NEAR(WorkloadSeconds() - live, 2 * 2400.0, 1e-6);
  EXPECT_EQ(Gaps(), 0);
  // Each hour holds its own share: the outage (22:58:10 to 23:38:10) crossed 23:00.
  EXPECT_EQ(Query("SELECT COUNT(*) FROM account_usage_hourly"), 2);
  EXPECT_NEAR(HourlySeconds(), WorkloadSeconds(), 1e-6);
}

// A burst of fabricated timestamps (hours apart, running ahead of provd's clock) after a live
// period gets no more than provd's clock saw pass since the stream's last credit.
TEST_F(LedgerStoreTest, FabricatedBurstGetsNoMoreThanProvdsClockAllows) {
  uint64_t seq = 0;
  for (int i = 0; i < 6; ++i) {
    NodeReport r = Report("b", ++seq, kT0 + absl::Seconds(10 * i), 10);
    Commit({&r}, kT0 + absl::Seconds(10 * i));
  }
  const double before = WorkloadSeconds();
  std::vector<NodeReport> burst;
  for (int i = 1; i <= 100; ++i) {
    burst.push_back(Report("b", ++seq, kT0 + absl::Seconds(50) + absl::Hours(i), 10));
  }
  std::vector<const NodeReport*> pointers;
  for (const NodeReport& r : burst) pointers.push_back(&r);
  Commit(pointers, kT0 + absl::Seconds(70));
  EXPECT_NEAR(WorkloadSeconds() - before, 2 * 20.0, 1e-6) << "20 s passed on provd's clock";
  EXPECT_EQ(last_.clock_bound, 100u);
}

// A node silent for ten minutes: an evidence gap is stored, the workload that was there on both
// sides is credited the whole time, and a workload new after the gap widens only the high bound.
TEST_F(LedgerStoreTest, AGapIsRecordedAndEstimatedWithAWidenedRange) {
  NodeReport r1 = Report("b", 1, kT0, 10);
  Commit({&r1}, kT0);
  NodeReport r2 = Report("b", 2, kT0 + absl::Seconds(10), 10);
  Commit({&r2}, kT0 + absl::Seconds(10));
  NodeReport r3 = Report("b", 3, kT0 + absl::Seconds(610), 10);
  auto* fresh = r3.add_workloads();
  *fresh = r3.workloads(0);
  fresh->set_workload_id("k8s:pod-2");
  fresh->mutable_attribution()->set_account("other");
  std::vector<WorkloadUsage> claimed =
      ComputeUsage(r3, AcceleratorCatalog::Builtin(), LedgerOptions{});
  std::vector<ReportToCommit> credited = Commit({&r3}, kT0 + absl::Seconds(611));

  EXPECT_EQ(last_.evidence_gaps, 1u);
  EXPECT_NEAR(last_.gap_seconds, 590, 1e-6);
  EXPECT_EQ(Gaps(), 1);
  EXPECT_EQ(Query("SELECT start_us FROM evidence_gaps"), Us(kT0 + absl::Seconds(10)));
  EXPECT_EQ(Query("SELECT end_us FROM evidence_gaps"), Us(kT0 + absl::Seconds(610)));
  EXPECT_NEAR(Query("SELECT gap_seconds FROM evidence_gaps"), 590, 1e-6);
  EXPECT_NEAR(Query("SELECT accelerator_seconds FROM evidence_gaps"), 2 * 590, 1e-6);

  const WorkloadUsage& ran = credited[0].usage[0];  // k8s:pod-1, on both sides of the gap
  EXPECT_NEAR(ran.accelerator_seconds, 2 * 600, 1e-6);
  EXPECT_NEAR(ran.flop_low, claimed[0].flop_low * 60, 1);
  EXPECT_NEAR(ran.flop_high, claimed[0].flop_high * 60, 1);
  EXPECT_NE(ran.method.find(kMethodEvidenceGap), std::string::npos);
  const WorkloadUsage& new_one = credited[0].usage[1];  // k8s:pod-2, only after it
  EXPECT_NEAR(new_one.accelerator_seconds, 2 * 10, 1e-6);
  EXPECT_NEAR(new_one.flop_low, claimed[1].flop_low, 1);
  EXPECT_NEAR(new_one.flop_high, claimed[1].flop_high * 60, 1);
  EXPECT_NEAR(Query("SELECT gap_seconds FROM account_usage_hourly WHERE account = 'acme'"), 2 * 590,
              1e-6);
  EXPECT_NEAR(Query("SELECT gap_seconds FROM account_usage_hourly WHERE account = 'other'"), 0,
              1e-6);
}

// Minting boot ids does not re-earn time: a new boot of a known node starts at its horizon.
TEST_F(LedgerStoreTest, NewBootIdsDoNotReEarnTheFirstInterval) {
  for (int i = 0; i < 50; ++i) {
    NodeReport r = Report("boot-" + std::to_string(i), 1, kT0, 3600);
    Commit({&r}, kT0 + absl::Milliseconds(i));
  }
  EXPECT_LE(WorkloadSeconds(), 2 * (3600 + 0.05));
}

// Two boot ids of one node reporting in turn (a parallel second agent, or a replay out of order)
// never get the same time twice: the older boot stops at the newer one's start.
TEST_F(LedgerStoreTest, InterleavedBootsNeverShareTime) {
  uint64_t seq_a = 0, seq_b = 0;
  for (int i = 0; i < 60; ++i) {
    const absl::Time at = kT0 + absl::Seconds(10 * i);
    NodeReport a = Report("a", ++seq_a, at, 10);
    Commit({&a}, at);
    if (i < 6) continue;  // boot b starts a minute later
    NodeReport b = Report("b", ++seq_b, at + absl::Seconds(5), 10);
    Commit({&b}, at + absl::Seconds(5));
  }
  // provd's clock saw 595 s pass after the first report's 10 s: 2 accelerators.
  EXPECT_LE(WorkloadSeconds(), 2 * (10 + 595.0) + 1e-6);
  EXPECT_GE(WorkloadSeconds(), 2 * (10 + 590.0) - 1e-6);
}

// A report of a boot provd never heard of, older than what the node was credited, is stored but
// credited nothing, and does not displace the live boot as the node's newest.
TEST_F(LedgerStoreTest, AStaleBootDoesNotFreezeTheLiveOne) {
  uint64_t seq = 0;
  for (int i = 0; i < 3; ++i) {
    NodeReport r = Report("live", ++seq, kT0 + absl::Seconds(10 * i), 10);
    Commit({&r}, kT0 + absl::Seconds(10 * i));
  }
  NodeReport stale = Report("old", 9, kT0 - absl::Seconds(100), 10);
  std::vector<ReportToCommit> credited = Commit({&stale}, kT0 + absl::Seconds(25));
  EXPECT_DOUBLE_EQ(credited[0].credited_seconds, 0);
  NodeReport next = Report("live", ++seq, kT0 + absl::Seconds(30), 10);
  credited = Commit({&next}, kT0 + absl::Seconds(30));
  EXPECT_DOUBLE_EQ(credited[0].credited_seconds, 10);
  EXPECT_NEAR(WorkloadSeconds(), 2 * 40.0, 1e-6);
}

// The credit state is stored: a reopened store goes on from where the last commit left off.
TEST_F(LedgerStoreTest, CreditStateSurvivesAReopen) {
  NodeReport r1 = Report("b", 1, kT0, 10);
  Commit({&r1}, kT0);
  OpenStore("provd.db");
  NodeReport r2 = Report("b", 2, kT0 + absl::Hours(5), 3600);
  Commit({&r2}, kT0 + absl::Seconds(1));
  EXPECT_NEAR(WorkloadSeconds(), 2 * 11.0, 1e-6);
}

}  // namespace
}  // namespace prov::server
