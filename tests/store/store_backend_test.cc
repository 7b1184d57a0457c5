// StoreBackend (server/store/store_backend.h) on both engines: it refuses a database that is not
// provd's without touching it, migrates once, and every repository it opens works on the one
// database the URL names (a write through one repository is what another reads); on PostgreSQL
// each repository has a session of its own, named for its domain.
#include "server/store/store_backend.h"

#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/store/pg/pg_conn.h"
#include "server/store/pg/pg_schema.h"
#include "server/store/repo/audit_log.h"
#include "server/store/schema.h"
#include "server/store/sqlite.h"
#include "tests/server/commit_batch.h"
#include "tests/server/test_reports.h"
#include "tests/store/store_fixture.h"

namespace prov::server {
namespace {

using ::testing::HasSubstr;
using ::testing::IsSupersetOf;

class StoreBackendTest : public prov::testing::StoreTest {
 protected:
  StoreUrl Url() const {
    if (engine() == prov::testing::Engine::kSqlite) {
      StoreUrl url;
      url.engine = StoreUrl::Engine::kSqlite;
      url.sqlite_dir = sqlite_path().substr(0, sqlite_path().rfind('/'));
      return url;
    }
    auto url = ParseStoreUrl("postgresql:" + pg_conninfo());
    EXPECT_TRUE(url.ok()) << url.status();
    return url.ok() ? *url : StoreUrl{};
  }

  std::unique_ptr<StoreBackend> Open() {
    auto backend = OpenStoreBackend(Url(), {.replica = "provd-test", .takeover = absl::Seconds(3)});
    EXPECT_TRUE(backend.ok()) << backend.status();
    return backend.ok() ? *std::move(backend) : nullptr;
  }

  const absl::Time now_ = absl::FromUnixSeconds(1'760'000'000);
};

TEST_P(StoreBackendTest, DescribesItsEngineWithoutSecrets) {
  auto backend = Open();
  ASSERT_NE(backend, nullptr);
  if (engine() == prov::testing::Engine::kSqlite) {
    EXPECT_EQ(backend->engine(), StoreUrl::Engine::kSqlite);
    EXPECT_EQ(backend->Describe(), "sqlite:" + sqlite_path());
  } else {
    EXPECT_EQ(backend->engine(), StoreUrl::Engine::kPostgres);
    EXPECT_THAT(backend->Describe(), HasSubstr("postgresql: "));
    EXPECT_THAT(backend->Describe(), Not(HasSubstr("password")));
  }
}

TEST_P(StoreBackendTest, RepositoriesShareOneDatabase) {
  auto backend = Open();
  ASSERT_NE(backend, nullptr);

  // An audit entry appended by one repository is in the log another reads, and verifies.
  auto appender = backend->OpenAuditAppender();
  ASSERT_TRUE(appender.ok()) << appender.status();
  ASSERT_TRUE((*appender)
                  ->Append({.actor = "token:alice",
                            .action = "access.denied",
                            .payload = AuditPayload({{"rpc", "ListFlags"}}),
                            .at = now_})
                  .ok());
  // Tokens: inserted through one repository, loaded through a second one.
  auto tokens = backend->OpenApiTokens();
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  StoredApiToken token{.token_id = "T-1",
                       .name = "ops",
                       .role = 1,
                       .secret_sha256 = std::string(64, 'a'),
                       .created_at = now_,
                       .created_by = "admin"};
  ASSERT_TRUE(
      (*tokens)
          ->Insert(token, {.actor = "admin", .action = "token.issue", .payload = "{}", .at = now_})
          .ok());
  auto other_tokens = backend->OpenApiTokens();
  ASSERT_TRUE(other_tokens.ok());
  auto loaded = (*other_tokens)->LoadAll();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_EQ((*loaded)[0], token);
  // A node revocation, listed by another repository.
  auto revocations = backend->OpenNodeRevocations();
  ASSERT_TRUE(revocations.ok());
  ASSERT_TRUE((*revocations)
                  ->Revoke({.node_id = "node-1", .revoked_at = now_, .revoked_by = "admin"},
                           {.actor = "admin", .action = "node.revoke", .payload = "{}", .at = now_})
                  .ok());
  auto revocations2 = backend->OpenNodeRevocations();
  ASSERT_TRUE(revocations2.ok());
  EXPECT_EQ(*(*revocations2)->Revision(), 1);

  auto log = backend->OpenAuditLog();
  ASSERT_TRUE(log.ok()) << log.status();
  auto entries = (*log)->List(0, 10, "");
  ASSERT_TRUE(entries.ok()) << entries.status();
  std::vector<std::string> actions;
  for (const auto& e : *entries) actions.push_back(e.action);
  EXPECT_EQ(actions, (std::vector<std::string>{"access.denied", "token.issue", "node.revoke"}));
  auto verified = (*log)->Verify(std::nullopt);
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_TRUE(verified->intact()) << verified->problems.size();

  // Ingest: a report committed by one ingest repository is a duplicate to a second one.
  auto ingest = backend->OpenIngest({});
  ASSERT_TRUE(ingest.ok()) << ingest.status();
  provenance::v1::NodeReport report = testing::MakeReport("node-1", "boot-a", 1, now_);
  auto batch = testing::CommitBatch({&report});
  auto first = (*ingest)->Commit(batch, now_);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->stored, 1u);
  auto ingest2 = backend->OpenIngest({});
  ASSERT_TRUE(ingest2.ok()) << ingest2.status();
  auto again = testing::CommitBatch({&report});
  auto second = (*ingest2)->Commit(again, now_ + absl::Seconds(1));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->stored, 0u);
  EXPECT_EQ(second->duplicates, 1u);

  // The other repositories open on it too.
  EXPECT_TRUE(backend->OpenAlertDeliveries().ok());
  EXPECT_TRUE(backend->OpenCases().ok());
  EXPECT_TRUE(backend->OpenNodeEnrollment().ok());
  EXPECT_TRUE(backend->OpenIdentity().ok());
  EXPECT_TRUE(backend->OpenInventory().ok());
  EXPECT_TRUE(backend->OpenExports().ok());
  EXPECT_TRUE(backend->OpenExportSnapshots().ok());
  EXPECT_TRUE(backend->OpenRetention().ok());
  // The fleet reader sees what the ingest repository committed; the analysis facts start empty.
  auto fleet = backend->OpenFleetReader(2);
  ASSERT_TRUE(fleet.ok()) << fleet.status();
  EXPECT_EQ(*(*fleet)->CountNodes(), 1);
  EXPECT_EQ(*(*fleet)->CountReports(), 1);
  auto facts = backend->OpenAnalysisFacts();
  ASSERT_TRUE(facts.ok()) << facts.status();
  // Location: a landmark's record stored through one repository is a replay to another.
  auto location = backend->OpenLocation();
  ASSERT_TRUE(location.ok()) << location.status();
  StoredMeasurement m{.landmark_id = "lm-1",
                      .target_kind = "node",
                      .target_id = "node-1",
                      .measured_at = now_,
                      .landmark_seq = 7,
                      .rtt_min_ms = 1.5,
                      .answers_valid = 3,
                      .measurement = "m",
                      .signature = std::string(64, 's')};
  auto stored = (*location)->StoreLandmarkRecords({.received_at = now_, .records = {m}});
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_GT(stored->ids[0], 0);
  auto location2 = backend->OpenLocation();
  ASSERT_TRUE(location2.ok());
  auto replay = (*location2)->StoreLandmarkRecords({.received_at = now_, .records = {m}});
  ASSERT_TRUE(replay.ok()) << replay.status();
  EXPECT_EQ(replay->ids[0], 0) << "the second repository sees the first one's record";
}

TEST_P(StoreBackendTest, LeaderElectionLeads) {
  auto backend = Open();
  ASSERT_NE(backend, nullptr);
  auto election = backend->OpenLeaderElection();
  ASSERT_TRUE(election.ok()) << election.status();
  std::atomic<int64_t> elected{0};
  ASSERT_TRUE((*election)->Start({.elected = [&](int64_t term) { elected = term; }}).ok());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (elected == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(elected, 1);
  EXPECT_TRUE((*election)->leading());
  (*election)->Stop();
  EXPECT_FALSE((*election)->leading());
}

TEST_P(StoreBackendTest, RefusesADatabaseThatIsNotProvdsAndLeavesItAlone) {
  if (engine() == prov::testing::Engine::kSqlite) {
    {
      auto db = SqliteDb::Open(sqlite_path(), SqliteDb::kReadWrite);
      ASSERT_TRUE(db.ok());
      ASSERT_TRUE((*db)->Exec("CREATE TABLE invoices (id INTEGER PRIMARY KEY)").ok());
    }
    std::stringstream before;
    before << std::ifstream(sqlite_path(), std::ios::binary).rdbuf();
    auto backend = OpenStoreBackend(Url());
    ASSERT_FALSE(backend.ok());
    EXPECT_EQ(backend.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(std::string(backend.status().message()), HasSubstr("invoices"));
    std::stringstream after;
    after << std::ifstream(sqlite_path(), std::ios::binary).rdbuf();
    EXPECT_TRUE(before.str() == after.str()) << "the foreign file was modified";
  } else {
    ASSERT_TRUE(RawExec("CREATE TABLE public.invoices (id BIGINT PRIMARY KEY)").ok());
    auto backend = OpenStoreBackend(Url());
    ASSERT_FALSE(backend.ok());
    EXPECT_EQ(backend.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(std::string(backend.status().message()), HasSubstr("invoices"));
    auto conn = PgConn::Connect(pg_conninfo(), {});
    ASSERT_TRUE(conn.ok());
    auto schema = (*conn)->Query("SELECT count(*) FROM pg_namespace WHERE nspname = 'provd'");
    ASSERT_TRUE(schema.ok());
    EXPECT_EQ(schema->Text(0, 0), "0") << "provd created its schema in a foreign database";
  }
}

TEST_P(StoreBackendTest, MigratesOnceAndRefusesAnEmptyReplicaName) {
  auto first = Open();
  ASSERT_NE(first, nullptr);
  auto second = Open();  // a second replica on the same database: nothing left to migrate
  ASSERT_NE(second, nullptr);
  if (engine() == prov::testing::Engine::kSqlite) {
    auto db = SqliteDb::Open(sqlite_path(), SqliteDb::kReadWrite);
    ASSERT_TRUE(db.ok());
    EXPECT_EQ(*ReadSchemaVersion(**db), LatestSchemaVersion());
  } else {
    auto conn = PgConn::Connect(pg_conninfo(), {.search_path = kPgSchema});
    ASSERT_TRUE(conn.ok());
    EXPECT_EQ(*ReadPgSchemaVersion(**conn), LatestPgSchemaVersion());
    auto rows = (*conn)->Query("SELECT count(*), count(DISTINCT version) FROM schema_version");
    ASSERT_TRUE(rows.ok());
    EXPECT_EQ(rows->Text(0, 0), rows->Text(0, 1));
  }
  auto refused = OpenStoreBackend(Url(), {.replica = ""});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_P(StoreBackendTest, PostgresSessionsAreNamedForTheirDomain) {
  if (engine() != prov::testing::Engine::kPostgres) GTEST_SKIP() << "PostgreSQL sessions";
  auto backend = Open();
  ASSERT_NE(backend, nullptr);
  auto cases = backend->OpenCases();
  auto ingest = backend->OpenIngest({});
  auto tokens = backend->OpenApiTokens();
  ASSERT_TRUE(cases.ok() && ingest.ok() && tokens.ok());
  auto conn = PgConn::Connect(pg_conninfo(), {.application_name = "prov-test"});
  ASSERT_TRUE(conn.ok());
  auto names = (*conn)->Query(
      "SELECT application_name FROM pg_stat_activity WHERE datname = current_database()");
  ASSERT_TRUE(names.ok()) << names.status();
  std::set<std::string> seen;
  for (int i = 0; i < names->rows(); ++i) seen.insert(names->Text(i, 0));
  EXPECT_THAT(seen, IsSupersetOf({"provd/cases", "provd/ingest", "provd/access"}));
}

PROV_STORE_TEST_P(StoreBackendTest);

}  // namespace
}  // namespace prov::server
