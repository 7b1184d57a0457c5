// The scheduler and the retention pass with a FakeClock (no sleeps): exports when the last
// scheduled one is older than the interval, across a restart without skipping or doubling; the
// pruner deletes only what is older than the retention and records each pass.
#include "server/export/export_scheduler.h"
#include "server/export/export_setup.h"
#include "server/export/retention.h"
#include "tests/export/export_fixture.h"

namespace prov::server::testing {
namespace {

class SchedulerTest : public ExportFixture {
 protected:
  std::unique_ptr<RetentionPruner> Pruner(absl::Duration retention = absl::Hours(24 * 1826)) {
    auto p = RetentionPruner::Open(db_path(), clock_, retention);
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? *std::move(p) : nullptr;
  }
  int64_t Count(const std::string& sql) {
    auto st = db_->Prepare(sql);
    EXPECT_TRUE(st.ok()) << sql;
    auto row = (*st)->Step();
    EXPECT_TRUE(row.ok() && *row) << sql;
    return (*st)->ColumnInt64(0);
  }
};

TEST_F(SchedulerTest, ExportsDailyAndARestartNeitherSkipsNorDoubles) {
  auto pruner = Pruner();
  ExportScheduler::Options o;
  o.export_interval = absl::Hours(24);
  {
    ExportScheduler s(exporter_.get(), pruner.get(), clock_, o);
    ExportScheduler::TickResult r = s.Tick();  // first start: at once
    EXPECT_TRUE(r.status.ok()) << r.status;
    EXPECT_TRUE(r.exported);
    EXPECT_TRUE(r.pruned);
    r = s.Tick();
    EXPECT_FALSE(r.exported);
    EXPECT_FALSE(r.pruned);
    clock_.Advance(absl::Hours(23));
    EXPECT_FALSE(s.Tick().exported);
  }
  // A restart an hour before the next one is due: nothing yet; then it comes on time.
  ExportScheduler restarted(exporter_.get(), pruner.get(), clock_, o);
  EXPECT_FALSE(restarted.Tick().exported);
  clock_.Advance(absl::Hours(1));
  ExportScheduler::TickResult r = restarted.Tick();
  EXPECT_TRUE(r.exported);
  EXPECT_TRUE(r.pruned);
  EXPECT_FALSE(restarted.Tick().exported);

  auto list = exporter_->List();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].trigger(), "schedule");
  EXPECT_EQ((*list)[1].previous_manifest_sha256(), (*list)[0].manifest_sha256());
  EXPECT_EQ(Count("SELECT COUNT(*) FROM audit_log WHERE action = 'export' AND actor = 'provd'"), 2);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM audit_log WHERE action = 'retention.prune'"), 2);
}

TEST_F(SchedulerTest, ARequestedExportDoesNotMoveTheSchedule) {
  ExportScheduler::Options o;
  ExportScheduler s(exporter_.get(), nullptr, clock_, o);
  EXPECT_TRUE(s.Tick().exported);
  clock_.Advance(absl::Hours(20));
  Export("request");
  clock_.Advance(absl::Hours(4));
  EXPECT_TRUE(s.Tick().exported);  // 24 h after the last scheduled one
}

TEST_F(SchedulerTest, ZeroIntervalDisablesScheduledExports) {
  ExportScheduler::Options o;
  o.export_interval = absl::ZeroDuration();
  ExportScheduler s(exporter_.get(), nullptr, clock_, o);
  EXPECT_FALSE(s.Tick().exported);
  clock_.Advance(absl::Hours(24 * 30));
  EXPECT_FALSE(s.Tick().exported);
}

TEST_F(SchedulerTest, TheThreadStartsAndStopsPromptly) {
  ExportScheduler::Options o;
  o.poll = absl::Hours(1);  // Stop must not wait for the next poll
  ExportScheduler s(exporter_.get(), nullptr, clock_, o);
  s.Start();  // the thread checks once at start (and exports: none yet), then every hour
  const absl::Time before = absl::Now();
  s.Stop();  // joins after that first check, without waiting for the next poll
  EXPECT_LT(absl::Now() - before, absl::Seconds(5));
  auto list = exporter_->List();
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 1u);
}

TEST_F(SchedulerTest, RetentionDeletesOnlyWhatIsOlderThanTheCutoff) {
  const absl::Duration retention = absl::Hours(24 * 1826);
  const int64_t now = NowUs();
  const int64_t cutoff = absl::ToUnixMicros(clock_.Now() - retention);
  const int64_t old_us = cutoff - kHourUs * 2;
  const int64_t young_us = cutoff + 1;  // one microsecond inside the retention
  Sql(
      absl::StrCat("INSERT INTO nodes (id, node_id, first_seen_us, last_seen_us, "
                   "last_received_us) VALUES (1, 'n-1', ",
                   old_us, ", ", now, ", ", now, ")"));
  // Four old reports, three young ones, and one collected before the cutoff that arrived after
  // it (a long-spooled report): that one waits for a later pass.
  for (int i = 0; i < 8; ++i) {
    const int64_t collected = i < 4 ? old_us - i : i < 7 ? young_us + i : old_us;
    const int64_t received = i < 4 ? old_us - i : young_us + i;
    Sql(
        absl::StrCat("INSERT INTO reports (node, boot_id, seq, collected_at_us, received_at_us, "
                     "interval_seconds, size_bytes, accelerator_count, sample_count, "
                     "workload_count) VALUES (1, 'b', ",
                     i + 1, ", ", collected, ", ", received, ", 10, 1, 0, 0, 0)"));
  }
  // Hours: one that ended before the cutoff, one that straddles it (kept), one young.
  const int64_t straddling = (cutoff / kHourUs) * kHourUs;
  for (const char* account : {"acme", "zeta"}) {
    for (int64_t hour : {straddling - kHourUs, straddling, straddling + kHourUs}) {
      Sql(absl::StrCat("INSERT INTO account_usage_hourly VALUES ('", account, "', ", hour,
                       ", 1, 1, 0, 1, 1, 'x', 0)"));
    }
  }
  for (auto [id, last] : {std::pair{"old", old_us}, std::pair{"young", young_us}}) {
    Sql(
        absl::StrCat("INSERT INTO workloads (node, workload_id, kind, account, attribution_source, "
                     "workload_class, class_confidence, launcher, accelerator_count, "
                     "accelerator_model, first_seen_us, last_seen_us, accelerator_seconds, "
                     "flop_low, flop_high, method) VALUES (1, '",
                     id, "', 1, 'acme', 1, 1, 1, '', 1, 'H100', ", old_us - kHourUs, ", ", last,
                     ", 1, 1, 1, 'x')"));
    Sql(absl::StrCat("INSERT INTO workload_details VALUES (1, '", id, "', ", last, ", x'00')"));
  }
  // Case actions: a case resolved before the cutoff (its old actions go), a case resolved after
  // it (kept: resolved recently), an open case with old actions (kept: not resolved).
  Sql(absl::StrCat("INSERT INTO cases VALUES ('F-1', 4, 2, '', '', 2, ", old_us, ")"));
  Sql(absl::StrCat("INSERT INTO cases VALUES ('F-2', 4, 2, '', '', 2, ", young_us, ")"));
  Sql(absl::StrCat("INSERT INTO cases VALUES ('F-3', 1, 0, '', '', 2, ", old_us, ")"));
  for (const char* flag : {"F-1", "F-2", "F-3"}) {
    for (int seq = 1; seq <= 2; ++seq) {
      Sql(absl::StrCat("INSERT INTO case_actions VALUES ('", flag, "', ", seq, ", ", old_us - seq,
                       ", 'a', x'00')"));
    }
  }
  Audit("token:admin", "kyc.import");

  auto pruner = Pruner(retention);
  auto n = pruner->Prune("provd");
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(n->reports, 4u);
  EXPECT_EQ(n->usage_hours, 2u);  // one per account
  EXPECT_EQ(n->workloads, 1u);
  EXPECT_EQ(n->workload_details, 1u);
  EXPECT_EQ(n->case_actions, 2u);
  EXPECT_EQ(Count(absl::StrCat("SELECT COUNT(*) FROM reports WHERE collected_at_us >= ", cutoff)),
            3);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM reports"), 4);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM account_usage_hourly"), 4);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM workloads WHERE workload_id = 'young'"), 1);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM workloads"), 1);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM workload_details"), 1);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM case_actions WHERE flag_id = 'F-1'"), 0);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM case_actions"), 4);
  // Kept forever: nodes, cases, the audit log (plus the pass's own entry).
  EXPECT_EQ(Count("SELECT COUNT(*) FROM nodes"), 1);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM cases"), 3);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM audit_log"), 2);
  auto reader = AuditLogReader::Open(db_path());
  ASSERT_TRUE(reader.ok());
  auto entries = (*reader)->List(0, 10, "retention.");
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ((*entries)[0].actor, "provd");
  EXPECT_NE((*entries)[0].payload.find("\"reports\":\"4\""), std::string::npos);
  EXPECT_NE((*entries)[0].payload.find("\"retention_days\":\"1826\""), std::string::npos);

  // A second pass finds nothing more, and a year later only what has aged out since.
  auto again = pruner->Prune("provd");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->reports + again->usage_hours + again->workloads + again->case_actions, 0u);
  clock_.Advance(absl::Hours(24 * 366));
  auto later = pruner->Prune("provd");
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(later->reports, 4u);
  EXPECT_EQ(later->case_actions, 2u);  // F-2's, resolved more than the retention ago now
  EXPECT_EQ(Count("SELECT COUNT(*) FROM case_actions WHERE flag_id = 'F-3'"), 2);
}

TEST_F(SchedulerTest, RetentionDeletesInBatches) {
  const int64_t old_us = absl::ToUnixMicros(clock_.Now() - absl::Hours(48));
  Sql("INSERT INTO nodes (id, node_id, first_seen_us, last_seen_us, last_received_us) VALUES "
      "(1, 'n-1', 0, 0, 0)");
  const int rows = RetentionPruner::kBatchRows * 2 + 17;
  Sql("BEGIN");
  for (int i = 0; i < rows; ++i) {
    Sql(
        absl::StrCat("INSERT INTO reports (node, boot_id, seq, collected_at_us, received_at_us, "
                     "interval_seconds, size_bytes, accelerator_count, sample_count, "
                     "workload_count) VALUES (1, 'b', ",
                     i + 1, ", ", old_us, ", ", old_us, ", 10, 1, 0, 0, 0)"));
  }
  Sql("COMMIT");
  auto n = Pruner(absl::Hours(24))->Prune("provd");
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(n->reports, static_cast<uint64_t>(rows));
  EXPECT_EQ(Count("SELECT COUNT(*) FROM reports"), 0);
}

TEST(DurationWithDaysTest, ParsesDaysAndDurations) {
  EXPECT_EQ(*ParseDurationWithDays("1826d"), absl::Hours(24 * 1826));
  EXPECT_EQ(*ParseDurationWithDays("24h"), absl::Hours(24));
  EXPECT_EQ(*ParseDurationWithDays("0"), absl::ZeroDuration());
  EXPECT_FALSE(ParseDurationWithDays("-1h").ok());
  EXPECT_FALSE(ParseDurationWithDays("xd").ok());
  EXPECT_FALSE(ParseDurationWithDays("five years").ok());
}

}  // namespace
}  // namespace prov::server::testing
