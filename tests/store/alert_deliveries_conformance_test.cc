// The alert-delivery log (server/store/repo/alert_deliveries.h) behaves the same on SQLite and
// on PostgreSQL: every behaviour the notifier relies on, run against both engines.
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/store/pg/pg_alert_deliveries.h"
#include "server/store/repo/alert_deliveries.h"
#include "server/store/sqlite/sqlite_alert_deliveries.h"
#include "tests/store/pg_server.h"
#include "tests/store/store_fixture.h"

namespace prov::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::vector<std::string> Ids(const std::vector<AlertDelivery>& rows) {
  std::vector<std::string> ids;
  for (const AlertDelivery& d : rows) ids.push_back(d.flag_id);
  return ids;
}

class AlertDeliveriesTest : public prov::testing::StoreTest {
 protected:
  std::unique_ptr<AlertDeliveryRepository> Open() {
    absl::StatusOr<std::unique_ptr<AlertDeliveryRepository>> repo;
    if (engine() == prov::testing::Engine::kSqlite) {
      repo = SqliteAlertDeliveryRepository::Open(sqlite_path());
    } else {
      repo = PgAlertDeliveryRepository::Open(pg_conninfo());
    }
    EXPECT_TRUE(repo.ok()) << repo.status();
    return repo.ok() ? *std::move(repo) : nullptr;
  }
  static AlertDelivery Row(std::string flag_id, AlertDelivery::State state = AlertDelivery::kFiring,
                           uint64_t revision = 1) {
    return {.flag_id = std::move(flag_id),
            .state = state,
            .labels = {{"alertname", "ProvenanceFlag"}, {"severity", "high"}},
            .starts_us = 1'700'000'000'000'000,
            .revision = revision,
            .updated_us = 1'700'000'000'500'000};
  }
};

TEST_P(AlertDeliveriesTest, AnEmptyStoreHasNothingFiring) {
  auto repo = Open();
  ASSERT_NE(repo, nullptr);
  auto firing = repo->LoadFiring();
  ASSERT_TRUE(firing.ok()) << firing.status();
  EXPECT_THAT(*firing, IsEmpty());
  EXPECT_TRUE(repo->Put({}).ok());
}

TEST_P(AlertDeliveriesTest, EveryFieldRoundTrips) {
  auto repo = Open();
  ASSERT_NE(repo, nullptr);
  AlertDelivery d = Row("F-7", AlertDelivery::kFiring, std::numeric_limits<uint64_t>::max() - 1);
  d.labels = {{"alertname", "ProvenanceFlag"},
              {"accounts", "acct-1,acct-2"},
              {"note", "quote \" backslash \\ café 東京"},
              {"empty", ""}};
  d.starts_us = -5;
  d.updated_us = std::numeric_limits<int64_t>::max();
  ASSERT_TRUE(repo->Put({d}).ok());
  auto firing = repo->LoadFiring();
  ASSERT_TRUE(firing.ok()) << firing.status();
  ASSERT_EQ(firing->size(), 1u);
  const AlertDelivery& got = (*firing)[0];
  EXPECT_EQ(got.flag_id, "F-7");
  EXPECT_EQ(got.state, AlertDelivery::kFiring);
  EXPECT_EQ(got.labels, d.labels);
  EXPECT_EQ(got.starts_us, -5);
  EXPECT_EQ(got.revision, std::numeric_limits<uint64_t>::max() - 1);
  EXPECT_EQ(got.updated_us, std::numeric_limits<int64_t>::max());
}

TEST_P(AlertDeliveriesTest, OnlyFiringRowsLoadInFlagIdByteOrder) {
  auto repo = Open();
  ASSERT_NE(repo, nullptr);
  ASSERT_TRUE(repo->Put({Row("F-a"), Row("F-B"), Row("F-10"), Row("F-9"),
                         Row("F-0", AlertDelivery::kResolved)})
                  .ok());
  auto firing = repo->LoadFiring();
  ASSERT_TRUE(firing.ok()) << firing.status();
  EXPECT_THAT(Ids(*firing), ElementsAre("F-10", "F-9", "F-B", "F-a"));
}

TEST_P(AlertDeliveriesTest, PutUpsertsByFlagId) {
  auto repo = Open();
  ASSERT_NE(repo, nullptr);
  ASSERT_TRUE(repo->Put({Row("F-1"), Row("F-2")}).ok());
  ASSERT_TRUE(repo->Put({Row("F-1", AlertDelivery::kResolved, 2)}).ok());
  auto firing = repo->LoadFiring();
  ASSERT_TRUE(firing.ok());
  EXPECT_THAT(Ids(*firing), ElementsAre("F-2"));
  // Firing again, with a new label set and revision: every column is replaced.
  AlertDelivery again = Row("F-1", AlertDelivery::kFiring, 3);
  again.labels = {{"alertname", "ProvenanceFlag"}, {"severity", "critical"}};
  again.starts_us = 42;
  again.updated_us = 43;
  ASSERT_TRUE(repo->Put({again}).ok());
  firing = repo->LoadFiring();
  ASSERT_TRUE(firing.ok());
  ASSERT_THAT(Ids(*firing), ElementsAre("F-1", "F-2"));
  EXPECT_EQ((*firing)[0].labels, again.labels);
  EXPECT_EQ((*firing)[0].revision, 3u);
  EXPECT_EQ((*firing)[0].starts_us, 42);
  EXPECT_EQ((*firing)[0].updated_us, 43);
}

TEST_P(AlertDeliveriesTest, TheLastRowForAFlagInOneBatchWins) {
  auto repo = Open();
  ASSERT_NE(repo, nullptr);
  ASSERT_TRUE(
      repo->Put({Row("F-1", AlertDelivery::kFiring, 1), Row("F-1", AlertDelivery::kResolved, 2),
                 Row("F-2", AlertDelivery::kResolved, 1), Row("F-2", AlertDelivery::kFiring, 2)})
          .ok());
  auto firing = repo->LoadFiring();
  ASSERT_TRUE(firing.ok()) << firing.status();
  ASSERT_THAT(Ids(*firing), ElementsAre("F-2"));
  EXPECT_EQ((*firing)[0].revision, 2u);
}

TEST_P(AlertDeliveriesTest, RowsOutliveTheRepository) {
  {
    auto repo = Open();
    ASSERT_NE(repo, nullptr);
    std::vector<AlertDelivery> rows;
    for (int i = 0; i < 2000; ++i) rows.push_back(Row("F-" + std::to_string(10000 + i)));
    ASSERT_TRUE(repo->Put(rows).ok());
  }
  auto reopened = Open();
  ASSERT_NE(reopened, nullptr);
  auto firing = reopened->LoadFiring();
  ASSERT_TRUE(firing.ok()) << firing.status();
  ASSERT_EQ(firing->size(), 2000u);
  EXPECT_EQ(firing->front().flag_id, "F-10000");
  EXPECT_EQ(firing->back().flag_id, "F-11999");
}

// One transaction per Put: a row the database refuses (a trigger planted for the test) leaves
// none of the batch behind.
TEST_P(AlertDeliveriesTest, PutIsAllOrNothing) {
  auto repo = Open();
  ASSERT_NE(repo, nullptr);
  if (engine() == prov::testing::Engine::kSqlite) {
    ASSERT_TRUE(RawExec("CREATE TRIGGER refuse BEFORE INSERT ON alert_deliveries WHEN "
                        "NEW.flag_id = 'F-bad' BEGIN SELECT RAISE(ABORT, 'refused'); END")
                    .ok());
  } else {
    ASSERT_TRUE(RawExec("CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                        "IF NEW.flag_id = 'F-bad' THEN RAISE EXCEPTION 'refused'; END IF; RETURN "
                        "NEW; END $$; CREATE TRIGGER refuse BEFORE INSERT ON alert_deliveries "
                        "FOR EACH ROW EXECUTE FUNCTION refuse()")
                    .ok());
  }
  absl::Status s = repo->Put({Row("F-1"), Row("F-bad"), Row("F-3")});
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("refused"));
  auto firing = repo->LoadFiring();
  ASSERT_TRUE(firing.ok()) << firing.status();
  EXPECT_THAT(*firing, IsEmpty());
  // The repository is usable after the failure.
  ASSERT_TRUE(repo->Put({Row("F-1"), Row("F-3")}).ok());
  EXPECT_THAT(Ids(*repo->LoadFiring()), ElementsAre("F-1", "F-3"));
}

TEST_P(AlertDeliveriesTest, CorruptLabelsAreDataLossNamingTheFlag) {
  auto repo = Open();
  ASSERT_NE(repo, nullptr);
  ASSERT_TRUE(
      RawExec("INSERT INTO alert_deliveries VALUES ('F-x', 1, '[\"a list\"]', 1, 1, 1)").ok());
  auto firing = repo->LoadFiring();
  EXPECT_EQ(firing.status().code(), absl::StatusCode::kDataLoss) << firing.status();
  EXPECT_THAT(std::string(firing.status().message()), HasSubstr("alert_deliveries row F-x"));
  ASSERT_TRUE(
      RawExec("UPDATE alert_deliveries SET labels = '{\"n\": 1}' WHERE flag_id = 'F-x'").ok());
  firing = repo->LoadFiring();
  EXPECT_EQ(firing.status().code(), absl::StatusCode::kDataLoss) << firing.status();
  EXPECT_THAT(std::string(firing.status().message()), HasSubstr("label n: not text"));
}

PROV_STORE_TEST_P(AlertDeliveriesTest);

// PostgreSQL only: the repository's session is dropped by the server (a restart, a failover, an
// idle timeout) or lands on a read-only server; the next call opens a new one instead of failing
// until provd restarts.

class PgAlertDeliveriesTest : public prov::testing::StoreTest {
 protected:
  // Drops the repository's session; asserts exactly one was there to drop.
  void TerminateRepositorySession() {
    auto admin = PgConn::Connect(pg_conninfo(), {.application_name = "prov-test"});
    ASSERT_TRUE(admin.ok()) << admin.status();
    auto n = prov::testing::TerminateBackends(**admin, "application_name = 'provd/alerts'");
    ASSERT_TRUE(n.ok()) << n.status();
    ASSERT_EQ(*n, 1);
  }
  // ALTER DATABASE ... SET default_transaction_read_only: new sessions land read-only (25006 on
  // writes), as on a standby after a failover.
  void SetReadOnly(bool on) {
    auto admin = PgConn::Connect(pg_conninfo(), {.application_name = "prov-test"});
    ASSERT_TRUE(admin.ok()) << admin.status();
    ASSERT_TRUE((*admin)->Exec("SET default_transaction_read_only = off").ok());
    ASSERT_TRUE((*admin)
                    ->Exec(absl::StrCat("DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET "
                                        "default_transaction_read_only = ",
                                        on ? "on" : "off", "', current_database()); END $$"))
                    .ok());
  }
};

TEST_P(PgAlertDeliveriesTest, ReconnectsAfterTheServerDroppedTheSession) {
  auto repo = PgAlertDeliveryRepository::Open(pg_conninfo());
  ASSERT_TRUE(repo.ok()) << repo.status();
  ASSERT_TRUE((*repo)->Put({{.flag_id = "F-1", .labels = {{"a", "b"}}}}).ok());
  TerminateRepositorySession();
  auto firing = (*repo)->LoadFiring();
  ASSERT_TRUE(firing.ok()) << firing.status();
  EXPECT_THAT(Ids(*firing), ElementsAre("F-1"));
  TerminateRepositorySession();
  ASSERT_TRUE((*repo)->Put({{.flag_id = "F-2", .labels = {{"a", "b"}}}}).ok());
  EXPECT_THAT(Ids(*(*repo)->LoadFiring()), ElementsAre("F-1", "F-2"));
}

TEST_P(PgAlertDeliveriesTest, LeavesASessionThatLandedOnAReadOnlyServer) {
  auto repo = PgAlertDeliveryRepository::Open(pg_conninfo());
  ASSERT_TRUE(repo.ok()) << repo.status();
  SetReadOnly(true);
  TerminateRepositorySession();  // its next session is read-only
  absl::Status refused = (*repo)->Put({{.flag_id = "F-1", .labels = {{"a", "b"}}}});
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable) << refused;
  EXPECT_THAT(std::string(refused.message()), HasSubstr("[25006]"));
  // The server is writable again (the failover finished): the next call leaves the read-only
  // session for a new one although that session is still up.
  SetReadOnly(false);
  absl::Status put = (*repo)->Put({{.flag_id = "F-1", .labels = {{"a", "b"}}}});
  ASSERT_TRUE(put.ok()) << put;
  EXPECT_THAT(Ids(*(*repo)->LoadFiring()), ElementsAre("F-1"));
}

INSTANTIATE_TEST_SUITE_P(Engines, PgAlertDeliveriesTest,
                         ::testing::Values(prov::testing::Engine::kPostgres),
                         [](const auto& info) { return prov::testing::EngineName(info.param); });

}  // namespace
}  // namespace prov::server
