// Day partitions on PostgreSQL (pg_partitions.h, schema version 10) against a real PostgreSQL 15:
// created ahead by ingest, a resend on another day stored once, a report for a day without a
// partition stored in the DEFAULT one (and moved out when its day is created), retention dropping
// whole old days and deleting the partial day row by row, and a v9 database migrating with its
// rows.
#include "server/store/pg/pg_partitions.h"

#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/store/pg/pg_ingest.h"
#include "server/store/pg/pg_retention.h"
#include "server/store/pg/pg_schema.h"
#include "tests/server/commit_batch.h"
#include "tests/server/test_reports.h"
#include "tests/store/pg_server.h"

namespace prov::server {
namespace {

using testing::CommitBatch;
using ::testing::ElementsAre;
using testing::MakeReport;

// 2026-05-28T20:26:40Z: day 20601 (2026-05-28).
const absl::Time kT0 = absl::FromUnixSeconds(1'780'000'000);
constexpr int64_t kDay0 = 20601;
constexpr int64_t kHour = int64_t{3600} * 1000000;

class PgPartitionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PROV_PG_SERVER_OR_SKIP(pg);
    auto conninfo = pg->FreshDatabase();
    ASSERT_TRUE(conninfo.ok()) << conninfo.status();
    conninfo_ = *conninfo;
    conn_ = Connect();
    ASSERT_NE(conn_, nullptr);
  }
  std::unique_ptr<PgConn> Connect() {
    auto conn = PgConn::Connect(conninfo_, {.search_path = kPgSchema});
    EXPECT_TRUE(conn.ok()) << conn.status();
    return conn.ok() ? *std::move(conn) : nullptr;
  }
  // The partitions of `table` per pg_inherits, in name order.
  std::vector<std::string> Children(const std::string& table) {
    std::vector<std::string> out;
    auto r = conn_->Query(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE "
        "i.inhparent = to_regclass($1) ORDER BY 1",
        {table});
    EXPECT_TRUE(r.ok()) << r.status();
    for (int i = 0; r.ok() && i < r->rows(); ++i) out.push_back(r->Text(i, 0));
    return out;
  }
  int64_t Count(const std::string& sql) {
    auto r = conn_->Query(sql);
    EXPECT_TRUE(r.ok()) << sql << ": " << r.status();
    return r.ok() ? *r->Int64(0, 0) : -1;
  }
  std::unique_ptr<PgIngestRepository> Ingest(const PgIngestOptions& options = {}) {
    auto repo = PgIngestRepository::Open(conninfo_, options);
    EXPECT_TRUE(repo.ok()) << repo.status();
    return repo.ok() ? *std::move(repo) : nullptr;
  }
  void InsertNode() {
    ASSERT_TRUE(conn_
                    ->Exec("INSERT INTO nodes (node_id, first_seen_us, last_seen_us, "
                           "last_received_us) VALUES ('n1', 1, 1, 1)")
                    .ok());
  }
  // A reports row of node 1 (InsertNode) with seq `seq`, collected and received at `us`.
  void InsertReport(int64_t seq, int64_t us) {
    auto s = conn_->Exec(absl::StrCat(
        "INSERT INTO reports (node, boot_id, seq, collected_at_us, received_at_us, "
        "interval_seconds, size_bytes, accelerator_count, sample_count, workload_count) SELECT "
        "id, 'b', ",
        seq, ", ", us, ", ", us, ", 10, 100, 1, 1, 1 FROM nodes WHERE node_id = 'n1'"));
    ASSERT_TRUE(s.ok()) << s;
  }
  void InsertHour(const std::string& account, int64_t hour_us) {
    auto s = conn_->Exec(
        absl::StrCat("INSERT INTO account_usage_hourly (account, hour_us, accelerator_seconds, "
                     "training_seconds, inference_seconds, flop_low, flop_high, method) VALUES ('",
                     account, "', ", hour_us, ", 1, 0, 0, 0, 0, 'x')"));
    ASSERT_TRUE(s.ok()) << s;
  }

  std::string conninfo_;
  std::unique_ptr<PgConn> conn_;
};

TEST_F(PgPartitionsTest, DaysAreUtcAndFloored) {
  EXPECT_EQ(PgDayOf(absl::ToUnixMicros(kT0)), kDay0);
  EXPECT_EQ(PgDayOf(0), 0);
  EXPECT_EQ(PgDayOf(kUsPerDay - 1), 0);
  EXPECT_EQ(PgDayOf(-1), -1);
}

TEST_F(PgPartitionsTest, AFreshDatabaseHasOnlyTheDefaultPartitionsAndEnsureCreatesAhead) {
  ASSERT_TRUE(MigratePgSchema(*conn_).ok());
  EXPECT_THAT(Children("reports"), ElementsAre("reports_default"));
  EXPECT_THAT(Children("account_usage_hourly"), ElementsAre("account_usage_hourly_default"));
  EXPECT_EQ(Count("SELECT count(*) FROM pg_class WHERE relname = 'reports' AND relkind = 'p'"), 1);

  auto created = EnsurePgDayPartitions(*conn_, kT0);  // yesterday, today and 2 days ahead
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(*created, 8);
  EXPECT_THAT(Children("reports"),
              ElementsAre("reports_default", "reports_p20260527", "reports_p20260528",
                          "reports_p20260529", "reports_p20260530"));
  EXPECT_THAT(Children("account_usage_hourly"),
              ElementsAre("account_usage_hourly_default", "account_usage_hourly_p20260527",
                          "account_usage_hourly_p20260528", "account_usage_hourly_p20260529",
                          "account_usage_hourly_p20260530"));
  auto listed = ListPgDayPartitions(*conn_, "reports");
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 4u);
  EXPECT_EQ((*listed)[1].name, "reports_p20260528");
  EXPECT_EQ((*listed)[1].from_us, kDay0 * kUsPerDay);
  EXPECT_EQ((*listed)[1].to_us, (kDay0 + 1) * kUsPerDay);
  // The bounds PostgreSQL holds are the same day.
  auto bound = conn_->Query(
      "SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE relname = 'reports_p20260528'");
  ASSERT_TRUE(bound.ok());
  EXPECT_EQ(bound->Text(0, 0), absl::StrCat("FOR VALUES FROM ('", kDay0 * kUsPerDay, "') TO ('",
                                            (kDay0 + 1) * kUsPerDay, "')"));
  // The usage partitions keep fillfactor 70 (the DEFAULT one's).
  EXPECT_EQ(Count("SELECT count(*) FROM pg_class WHERE relname = "
                  "'account_usage_hourly_p20260529' AND reloptions = '{fillfactor=70}'"),
            1);
  // Again: nothing to do. The next day adds one per table.
  EXPECT_EQ(*EnsurePgDayPartitions(*conn_, kT0), 0);
  EXPECT_EQ(*EnsurePgDayPartitions(*conn_, kT0 + absl::Hours(24)), 2);
  EXPECT_TRUE(absl::IsInvalidArgument(ListPgDayPartitions(*conn_, "nodes").status()));
  EXPECT_TRUE(
      absl::IsInvalidArgument(EnsurePgDayPartitions(*conn_, kT0, {.days_ahead = -1}).status()));
}

// Replicas entering a new day together: each creates what is missing under lock 8, none fails
// on a partition the other just created, and each day is created once.
TEST_F(PgPartitionsTest, ReplicasCreatingTheSameDaysAtOnceEachSucceed) {
  ASSERT_TRUE(MigratePgSchema(*conn_).ok());
  constexpr int kReplicas = 4;
  std::vector<std::unique_ptr<PgConn>> conns;
  for (int i = 0; i < kReplicas; ++i) {
    conns.push_back(Connect());
    ASSERT_NE(conns.back(), nullptr);
  }
  std::vector<absl::StatusOr<int>> results(kReplicas, 0);
  std::vector<std::thread> threads;
  for (int i = 0; i < kReplicas; ++i) {
    threads.emplace_back([&, i] {
      results[i] = EnsurePgDayPartitions(*conns[i], kT0, {.lock_wait = absl::Seconds(30)});
    });
  }
  for (std::thread& t : threads) t.join();
  int created = 0;
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status();
    created += *r;
  }
  EXPECT_EQ(created, 8);
  EXPECT_EQ(Children("reports").size(), 5u);
  EXPECT_EQ(Children("account_usage_hourly").size(), 5u);
}

TEST_F(PgPartitionsTest, IngestCreatesTheDaysAheadAndStoresInTheReportsDay) {
  auto repo = Ingest();
  ASSERT_NE(repo, nullptr);
  EXPECT_THAT(Children("reports"), ElementsAre("reports_default"));
  auto r = MakeReport("node-1", "boot-a", 1, kT0);
  auto result = repo->Commit(CommitBatch({&r}), kT0 + absl::Seconds(1));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->stored, 1u);
  EXPECT_TRUE(repo->partitions_status().ok()) << repo->partitions_status();
  EXPECT_THAT(Children("reports"),
              ElementsAre("reports_default", "reports_p20260527", "reports_p20260528",
                          "reports_p20260529", "reports_p20260530"));
  auto where = conn_->Query("SELECT tableoid::regclass::text FROM reports");
  ASSERT_TRUE(where.ok());
  ASSERT_EQ(where->rows(), 1);
  EXPECT_EQ(where->Text(0, 0), "reports_p20260528");
  EXPECT_EQ(Count("SELECT count(*) FROM account_usage_hourly_p20260528"),
            Count("SELECT count(*) FROM account_usage_hourly"));
  EXPECT_GT(Count("SELECT count(*) FROM account_usage_hourly"), 0);
}

// Exactly-once across days: the resend carries the same collected_at, so it maps to the same
// partition, and node_streams' high-water mark (unpartitioned) refuses it anyway.
TEST_F(PgPartitionsTest, AResendOnAnotherDayIsStoredOnce) {
  auto repo = Ingest();
  ASSERT_NE(repo, nullptr);
  auto r1 = MakeReport("node-1", "boot-a", 1, kT0);
  auto r2 = MakeReport("node-1", "boot-a", 2, kT0 + absl::Seconds(10));
  ASSERT_TRUE(repo->Commit(CommitBatch({&r1}), kT0 + absl::Seconds(1)).ok());
  // The agent's spool resends 1 (and sends 2) after midnight, to a second replica.
  auto other = Ingest();
  ASSERT_NE(other, nullptr);
  auto resent = other->Commit(CommitBatch({&r1, &r2}), kT0 + absl::Hours(24));
  ASSERT_TRUE(resent.ok()) << resent.status();
  EXPECT_EQ(resent->stored, 1u);
  EXPECT_EQ(resent->duplicates, 1u);
  EXPECT_EQ(Count("SELECT count(*) FROM reports WHERE seq = 1"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM reports"), 2);
  EXPECT_EQ(Count("SELECT count(*) FROM reports_p20260528"), 2);
  // The second replica's new day: the 31st made ahead.
  EXPECT_EQ(Count("SELECT count(*) FROM pg_class WHERE relname = 'reports_p20260531'"), 1);
}

// A spooled report collected on a day that has no partition lands in the DEFAULT partition, and
// moves to its day's partition when that is created.
TEST_F(PgPartitionsTest, AReportForADayWithoutPartitionGoesToTheDefaultAndMovesLater) {
  auto repo = Ingest();
  ASSERT_NE(repo, nullptr);
  const absl::Time late = kT0 - absl::Hours(24 * 5);  // 2026-05-23
  auto r = MakeReport("node-1", "boot-a", 1, late);
  auto result = repo->Commit(CommitBatch({&r}), kT0);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->stored, 1u);
  EXPECT_EQ(Count("SELECT count(*) FROM reports_default"), 1);
  const int64_t default_hours = Count("SELECT count(*) FROM account_usage_hourly_default");
  EXPECT_GT(default_hours, 0);

  auto created = EnsurePgDayPartitions(*conn_, late, {.days_before = 0, .days_ahead = 0});
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(*created, 2);
  EXPECT_EQ(Count("SELECT count(*) FROM reports_default"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM reports_p20260523 WHERE seq = 1"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM account_usage_hourly_default"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM account_usage_hourly_p20260523"), default_hours);
}

// The ingest repository tells its owner (provd's metrics and log) how each attempt went and
// what the DEFAULT partitions hold then: a report of a day five days back lands in DEFAULT, and
// the next day's attempt counts it.
TEST_F(PgPartitionsTest, EachAttemptReportsWhatItCreatedAndTheDefaultPartitionsRows) {
  std::vector<PgPartitionsReport> reports;
  PgIngestOptions options;
  options.on_partitions = [&](const PgPartitionsReport& r) { reports.push_back(r); };
  auto repo = Ingest(options);
  ASSERT_NE(repo, nullptr);
  auto r1 = MakeReport("node-1", "boot-a", 1, kT0);
  ASSERT_TRUE(repo->Commit(CommitBatch({&r1}), kT0).ok());
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_TRUE(reports[0].status.ok()) << reports[0].status;
  EXPECT_EQ(reports[0].created, 8);  // 4 days x 2 tables
  EXPECT_THAT(reports[0].default_rows,
              ElementsAre(std::pair<std::string, int64_t>("reports", 0),
                          std::pair<std::string, int64_t>("account_usage_hourly", 0)));
  // The same day: no attempt, no report.
  auto late = MakeReport("node-1", "boot-a", 2, kT0 - absl::Hours(24 * 5));
  ASSERT_TRUE(repo->Commit(CommitBatch({&late}), kT0 + absl::Seconds(5)).ok());
  EXPECT_EQ(reports.size(), 1u);
  ASSERT_EQ(Count("SELECT count(*) FROM reports_default"), 1);
  // The next day: one new day ahead per table, and the late report counted in DEFAULT.
  auto r3 = MakeReport("node-1", "boot-a", 3, kT0 + absl::Hours(24));
  ASSERT_TRUE(repo->Commit(CommitBatch({&r3}), kT0 + absl::Hours(24)).ok());
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_TRUE(reports[1].status.ok()) << reports[1].status;
  EXPECT_EQ(reports[1].created, 2);
  ASSERT_EQ(reports[1].default_rows.size(), 2u);
  EXPECT_EQ(reports[1].default_rows[0], (std::pair<std::string, int64_t>("reports", 1)));
  EXPECT_GT(reports[1].default_rows[1].second, 0);  // its usage hours
  EXPECT_EQ(*CountPgDefaultRows(*conn_, "reports"), 1);
  EXPECT_EQ(*CountPgDefaultRows(*conn_, "reports", /*cap=*/0), 0);  // the cap bounds the scan
  EXPECT_TRUE(absl::IsInvalidArgument(CountPgDefaultRows(*conn_, "nodes").status()));
}

// Partitions that cannot be created (their parent locked by another session) never fail ingest.
TEST_F(PgPartitionsTest, IngestGoesOnWhenThePartitionsCannotBeCreated) {
  std::vector<PgPartitionsReport> reports;
  PgIngestOptions options;
  options.partitions.lock_wait = absl::Milliseconds(100);
  options.on_partitions = [&](const PgPartitionsReport& r) { reports.push_back(r); };
  auto repo = Ingest(options);
  ASSERT_NE(repo, nullptr);
  auto blocker = Connect();
  ASSERT_NE(blocker, nullptr);
  ASSERT_TRUE(blocker->Exec("BEGIN; LOCK TABLE reports IN ACCESS SHARE MODE").ok());
  auto r = MakeReport("node-1", "boot-a", 1, kT0);
  auto result = repo->Commit(CommitBatch({&r}), kT0);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->stored, 1u);
  EXPECT_TRUE(absl::IsUnavailable(repo->partitions_status())) << repo->partitions_status();
  EXPECT_THAT(repo->partitions_status().message(), ::testing::HasSubstr("reports"));
  ASSERT_EQ(reports.size(), 1u);  // told, with the reason
  EXPECT_TRUE(absl::IsUnavailable(reports[0].status)) << reports[0].status;
  EXPECT_EQ(Count("SELECT count(*) FROM reports_default"), 1);
  ASSERT_TRUE(blocker->Exec("COMMIT").ok());
  // Retried a minute later, not at once.
  auto r2 = MakeReport("node-1", "boot-a", 2, kT0 + absl::Seconds(10));
  ASSERT_TRUE(repo->Commit(CommitBatch({&r2}), kT0 + absl::Seconds(30)).ok());
  EXPECT_FALSE(repo->partitions_status().ok());
  auto r3 = MakeReport("node-1", "boot-a", 3, kT0 + absl::Seconds(20));
  ASSERT_TRUE(repo->Commit(CommitBatch({&r3}), kT0 + absl::Seconds(61)).ok());
  EXPECT_TRUE(repo->partitions_status().ok()) << repo->partitions_status();
  ASSERT_EQ(reports.size(), 2u);  // the minute's wait told nothing; the retry did
  EXPECT_TRUE(reports[1].status.ok()) << reports[1].status;
  EXPECT_EQ(reports[1].default_rows[0], (std::pair<std::string, int64_t>("reports", 0)));
  // The day's partition took the DEFAULT partition's rows with it.
  EXPECT_EQ(Count("SELECT count(*) FROM reports_default"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM reports_p20260528"), 3);
}

TEST_F(PgPartitionsTest, RetentionDropsWholeOldDaysAndDeletesThePartialDayByRow) {
  ASSERT_TRUE(MigratePgSchema(*conn_).ok());
  InsertNode();
  const int64_t day0 = kDay0 * kUsPerDay;
  // One report and one hour of an older day without a partition sit in the DEFAULT partitions
  // (the report arrived first: the walk in id order reaches it); days 0..3 have partitions (3
  // reports and 3 usage hours each).
  InsertReport(100, day0 - 3 * kUsPerDay);
  InsertHour("a", day0 - 3 * kUsPerDay);
  for (int d = 0; d < 4; ++d) {
    ASSERT_TRUE(EnsurePgDayPartitions(*conn_, absl::FromUnixMicros(day0 + d * kUsPerDay),
                                      {.days_before = 0, .days_ahead = 0})
                    .ok());
    for (int i = 0; i < 3; ++i) {
      InsertReport(d * 10 + i + 1, day0 + d * kUsPerDay + i * 8 * kHour);  // 00:00, 08:00, 16:00
      InsertHour("a", day0 + d * kUsPerDay + i * 8 * kHour);
    }
  }
  EXPECT_EQ(Count("SELECT count(*) FROM reports_default"), 1);

  auto repo = PgRetentionRepository::Open(conninfo_);
  ASSERT_TRUE(repo.ok()) << repo.status();
  // The cutoff at 12:00 on day 2: days 0 and 1 go whole, day 2's 00:00 and 08:00 rows by row,
  // the DEFAULT's old row by row.
  const int64_t cut = day0 + 2 * kUsPerDay + 12 * kHour;
  auto reports = (*repo)->DeleteReports(cut, 2);
  ASSERT_TRUE(reports.ok()) << reports.status();
  EXPECT_EQ(*reports, 3u + 3u + 2u + 1u);
  EXPECT_THAT(Children("reports"),
              ElementsAre("reports_default", "reports_p20260530", "reports_p20260531"));
  EXPECT_EQ(Count("SELECT count(*) FROM reports"), 4);  // day 2's 16:00 and day 3's three
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM reports WHERE collected_at_us < ", cut)), 0);

  // Usage: hours that ended by the cutoff (hour_us <= cut - 1 h): days 0 and 1 whole, day 2's
  // 00:00 and 08:00 (ended 09:00), the DEFAULT's; day 2's 16:00 stays.
  auto hours = (*repo)->DeleteUsageHours(cut, 2);
  ASSERT_TRUE(hours.ok()) << hours.status();
  EXPECT_EQ(*hours, 3u + 3u + 2u + 1u);
  EXPECT_THAT(Children("account_usage_hourly"),
              ElementsAre("account_usage_hourly_default", "account_usage_hourly_p20260530",
                          "account_usage_hourly_p20260531"));
  EXPECT_EQ(Count("SELECT count(*) FROM account_usage_hourly"), 4);

  // A day whose last hour ends after the cutoff keeps its partition: cut = day 3 00:30.
  const int64_t cut2 = day0 + 3 * kUsPerDay + 30 * 60 * 1000000LL;
  auto more = (*repo)->DeleteUsageHours(cut2, 2);
  ASSERT_TRUE(more.ok()) << more.status();
  EXPECT_EQ(*more, 1u);  // day 2's 16:00 hour, by row: day 2 ends 00:00 + its last hour 01:00
  EXPECT_EQ(Count("SELECT count(*) FROM account_usage_hourly_p20260530"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM pg_class WHERE relname = "
                  "'account_usage_hourly_p20260530'"),
            1);
  // Nothing left to do: a second pass drops and deletes nothing.
  EXPECT_EQ(*(*repo)->DeleteReports(cut, 2), 0u);
}

TEST_F(PgPartitionsTest, AVersion9DatabaseMigratesKeepingItsRows) {
  ASSERT_TRUE(MigratePgSchema(*conn_, {.up_to = 9}).ok());
  EXPECT_EQ(*ReadPgSchemaVersion(*conn_), 9);
  EXPECT_EQ(Count("SELECT count(*) FROM pg_class WHERE relname = 'reports' AND relkind = 'r'"), 1);
  InsertNode();
  const int64_t day0 = kDay0 * kUsPerDay;
  for (int i = 0; i < 5; ++i) {
    InsertReport(i + 1, day0 + i * 12 * kHour);  // days 0, 0, 1, 1, 2
    InsertHour(i % 2 ? "b" : "a", day0 + i * 12 * kHour);
  }
  ASSERT_TRUE(conn_->Exec("DELETE FROM reports WHERE seq = 5").ok());  // the identity is at 5
  const int64_t rows_before = Count("SELECT count(*) FROM reports");
  auto sum_before = conn_->Query(
      "SELECT string_agg(id || ':' || seq || ':' || collected_at_us, ',' ORDER BY id) FROM "
      "reports");
  ASSERT_TRUE(sum_before.ok());

  auto migrated = MigratePgSchema(*conn_);
  ASSERT_TRUE(migrated.ok()) << migrated;
  EXPECT_EQ(*ReadPgSchemaVersion(*conn_), LatestPgSchemaVersion());
  EXPECT_EQ(Count("SELECT count(*) FROM pg_class WHERE relname = 'reports' AND relkind = 'p'"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM reports"), rows_before);
  auto sum_after = conn_->Query(
      "SELECT string_agg(id || ':' || seq || ':' || collected_at_us, ',' ORDER BY id) FROM "
      "reports");
  ASSERT_TRUE(sum_after.ok());
  EXPECT_EQ(sum_after->Text(0, 0), sum_before->Text(0, 0));
  // One partition per day the rows covered, nothing in the DEFAULT partitions.
  EXPECT_THAT(Children("reports"),
              ElementsAre("reports_default", "reports_p20260528", "reports_p20260529"));
  EXPECT_THAT(Children("account_usage_hourly"),
              ElementsAre("account_usage_hourly_default", "account_usage_hourly_p20260528",
                          "account_usage_hourly_p20260529", "account_usage_hourly_p20260530"));
  EXPECT_EQ(Count("SELECT count(*) FROM account_usage_hourly"), 5);
  EXPECT_EQ(Count("SELECT count(*) FROM reports_default"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM account_usage_hourly_default"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM pg_class WHERE relname LIKE '%_v9%'"), 0);
  // The identity goes on after the old one's position (5, deleted), not from 1.
  InsertReport(6, day0);
  EXPECT_EQ(Count("SELECT id FROM reports WHERE seq = 6"), 6);
  // The unique key still refuses a second (node, boot, seq) of the same collected_at.
  EXPECT_FALSE(
      conn_
          ->Exec(absl::StrCat("INSERT INTO reports (node, boot_id, seq, collected_at_us, "
                              "received_at_us, interval_seconds, size_bytes, accelerator_count, "
                              "sample_count, workload_count) SELECT id, 'b', 1, ",
                              day0, ", 1, 10, 100, 1, 1, 1 FROM nodes"))
          .ok());
  // Migrating again changes nothing.
  ASSERT_TRUE(MigratePgSchema(*conn_).ok());
  EXPECT_EQ(Count("SELECT count(*) FROM reports"), rows_before + 1);
}

}  // namespace
}  // namespace prov::server
