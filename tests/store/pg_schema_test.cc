// PostgreSQL migrations (pg_schema.h) against a real PostgreSQL 15: a fresh database migrates, a
// second start changes nothing, two migrators starting together migrate once, and a database
// provd did not create or a newer schema is refused.
#include "server/store/pg/pg_schema.h"

#include <atomic>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/store/pg_server.h"

namespace prov::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class PgSchemaTest : public ::testing::Test {
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
  std::vector<int64_t> Versions(PgConn& conn) {
    std::vector<int64_t> out;
    auto r = conn.Query("SELECT version FROM provd.schema_version ORDER BY version");
    EXPECT_TRUE(r.ok()) << r.status();
    for (int i = 0; r.ok() && i < r->rows(); ++i) out.push_back(*r->Int64(i, 0));
    return out;
  }

  std::string conninfo_;
  std::unique_ptr<PgConn> conn_;
};

TEST_F(PgSchemaTest, AFreshDatabaseMigratesToTheLatestVersion) {
  EXPECT_EQ(*ReadPgSchemaVersion(*conn_), 0);
  ASSERT_TRUE(MigratePgSchema(*conn_).ok());
  EXPECT_EQ(*ReadPgSchemaVersion(*conn_), LatestPgSchemaVersion());
  EXPECT_THAT(Versions(*conn_), ElementsAre(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11));
  auto app = conn_->Query("SELECT value FROM provd_meta WHERE key = 'application_id'");
  ASSERT_TRUE(app.ok()) << app.status();
  EXPECT_EQ(app->Text(0, 0), absl::StrCat(0x50524f56));
  auto tables = conn_->Query(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'provd' ORDER BY 1");
  ASSERT_TRUE(tables.ok());
  std::vector<std::string> names;
  for (int i = 0; i < tables->rows(); ++i) names.push_back(tables->Text(i, 0));
  EXPECT_THAT(
      names,
      ElementsAre("accelerators", "account_identities", "account_usage_hourly",
                  "account_usage_hourly_default", "accounts", "alert_deliveries", "analysis_nodes",
                  "analysis_position", "analysis_workloads", "api_tokens", "audit_log",
                  "bundle_accounts", "bundles", "case_actions", "cases", "evidence_gaps", "exports",
                  "flag_accounts", "flags", "ingest_batches", "inventory", "inventory_history",
                  "inventory_imports", "kyc_imports", "leader", "leader_lease", "links",
                  "location_landmarks", "location_measurements", "location_node_keys",
                  "location_responders", "location_verdicts", "node_certificates",
                  "node_enroll_tokens", "node_hardware", "node_hardware_changes",
                  "node_revocations", "node_streams", "nodes", "policies", "provd_meta",
                  "quarantined_records", "replicas", "reports", "reports_default", "schema_version",
                  "screening_hits", "screening_lists", "workload_details", "workloads"));
  // The advisory lock is released (a session-level lock would otherwise outlive the call).
  auto held = conn_->Query("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'");
  EXPECT_EQ(*held->Int64(0, 0), 0);
}

TEST_F(PgSchemaTest, ASecondStartChangesNothing) {
  ASSERT_TRUE(MigratePgSchema(*conn_).ok());
  ASSERT_TRUE(conn_->Exec("INSERT INTO alert_deliveries VALUES ('F-1', 1, '{}', 1, 1, 1)").ok());
  auto before = conn_->Query("SELECT xmin::text FROM schema_version");
  auto again = Connect();
  ASSERT_TRUE(MigratePgSchema(*again).ok());
  auto after = conn_->Query("SELECT xmin::text FROM schema_version");
  EXPECT_THAT(Versions(*conn_), ElementsAre(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11));
  EXPECT_EQ(before->Text(0, 0), after->Text(0, 0)) << "schema_version was rewritten";
  EXPECT_EQ(conn_->Query("SELECT flag_id FROM alert_deliveries")->rows(), 1);
}

// Two replicas starting at once: the second waits on the advisory lock while the first holds it
// (seen in pg_locks), then finds nothing to do. Without the lock both would apply version 1.
TEST_F(PgSchemaTest, TwoConcurrentMigratorsMigrateOnce) {
  auto first = Connect();
  auto second = Connect();
  auto watcher = Connect();
  ASSERT_TRUE(first && second && watcher);
  std::atomic<bool> second_waited{false};
  std::atomic<int> hooks{0};
  PgMigrateHooks hold;
  hold.after_version_read = [&](int version) {
    if (hooks++ > 0) return;  // only the first migrator in holds on
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (absl::Now() < deadline) {
      auto waiting = watcher->Query(
          "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted");
      if (waiting.ok() && *waiting->Int64(0, 0) > 0) {
        second_waited = true;
        return;
      }
      absl::SleepFor(absl::Milliseconds(10));  // polling another session's state, bounded
    }
  };
  absl::Status first_result, second_result;
  std::thread a([&] { first_result = MigratePgSchema(*first, hold); });
  std::thread b([&] { second_result = MigratePgSchema(*second, hold); });
  a.join();
  b.join();
  EXPECT_TRUE(first_result.ok()) << first_result;
  EXPECT_TRUE(second_result.ok()) << second_result;
  EXPECT_TRUE(second_waited) << "the second migrator never waited on the migration lock";
  EXPECT_EQ(hooks.load(), 2);
  EXPECT_THAT(Versions(*watcher), ElementsAre(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11));
}

TEST_F(PgSchemaTest, AForeignDatabaseIsRefusedAndLeftAlone) {
  ASSERT_TRUE(conn_
                  ->Exec("CREATE TABLE public.accounts (id INT); CREATE TABLE public.orders "
                         "(id INT)")
                  .ok());
  absl::Status s = MigratePgSchema(*conn_);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("provd did not create"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("public.accounts, public.orders"));
  auto schema = conn_->Query("SELECT count(*) FROM pg_namespace WHERE nspname = 'provd'");
  EXPECT_EQ(*schema->Int64(0, 0), 0) << "provd created its schema in a foreign database";
}

TEST_F(PgSchemaTest, TablesTheRoleMayNotReadStillMakeTheDatabaseForeign) {
  // Another owner's table, invisible in information_schema to a role without rights on it.
  ASSERT_TRUE(conn_
                  ->Exec("CREATE TABLE public.payroll (k TEXT); REVOKE ALL ON public.payroll "
                         "FROM PUBLIC")
                  .ok());
  auto db = conn_->Query("SELECT current_database()");
  ASSERT_TRUE(db.ok()) << db.status();
  const std::string role = absl::StrCat("app_", db->Text(0, 0));
  ASSERT_TRUE(conn_
                  ->Exec(absl::StrCat("CREATE ROLE ", role, " LOGIN; GRANT CREATE ON DATABASE ",
                                      db->Text(0, 0), " TO ", role))
                  .ok());
  auto app = PgConn::Connect(conninfo_ + " user=" + role, {.search_path = kPgSchema});
  ASSERT_TRUE(app.ok()) << app.status();
  auto visible =
      (*app)->Query("SELECT count(*) FROM information_schema.tables WHERE table_name = 'payroll'");
  ASSERT_TRUE(visible.ok()) << visible.status();
  EXPECT_EQ(*visible->Int64(0, 0), 0) << "the case this test is about";
  absl::Status s = MigratePgSchema(**app);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("public.payroll"));
  EXPECT_EQ(*ReadPgSchemaVersion(*conn_), 0);
}

TEST_F(PgSchemaTest, TheMigrationLockWaitIsBounded) {
  auto holder = Connect();
  ASSERT_NE(holder, nullptr);
  ASSERT_TRUE(
      holder
          ->Exec(absl::StrCat("SELECT pg_advisory_lock(", kPgLockKey, ", ", kPgMigrationLock, ")"))
          .ok());
  const absl::Time start = absl::Now();
  absl::Status s = MigratePgSchema(*conn_, {.lock_wait = absl::Milliseconds(300)});
  const absl::Duration took = absl::Now() - start;
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("schema migration lock"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("held by pid"));
  EXPECT_GE(took, absl::Milliseconds(250));
  EXPECT_LT(took, absl::Seconds(5));
  EXPECT_EQ(*ReadPgSchemaVersion(*conn_), 0);
  // Once the holder lets go, the same connection migrates.
  ASSERT_TRUE(holder
                  ->Exec(absl::StrCat("SELECT pg_advisory_unlock(", kPgLockKey, ", ",
                                      kPgMigrationLock, ")"))
                  .ok());
  ASSERT_TRUE(MigratePgSchema(*conn_).ok());
  EXPECT_EQ(*ReadPgSchemaVersion(*conn_), LatestPgSchemaVersion());
}

TEST_F(PgSchemaTest, AnotherProgramsProvdMetaIsRefused) {
  ASSERT_TRUE(conn_
                  ->Exec("CREATE SCHEMA provd; CREATE TABLE provd.provd_meta (key TEXT, value "
                         "TEXT); INSERT INTO provd.provd_meta VALUES ('application_id', '7')")
                  .ok());
  absl::Status s = MigratePgSchema(*conn_);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("application_id 7"));
}

TEST_F(PgSchemaTest, ANewerSchemaIsRefused) {
  ASSERT_TRUE(MigratePgSchema(*conn_).ok());
  ASSERT_TRUE(conn_->Exec("INSERT INTO schema_version VALUES (99)").ok());
  absl::Status s = MigratePgSchema(*conn_);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("version 99 is newer than this provd knows"));
  // The refusal released the lock: another session can take it at once.
  auto other = Connect();
  auto got =
      other->Query("SELECT pg_try_advisory_lock($1::int, $2::int)", {kPgLockKey, kPgMigrationLock});
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->Text(0, 0), "t");
}

}  // namespace
}  // namespace prov::server
