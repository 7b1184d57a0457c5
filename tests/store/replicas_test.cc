// PgReplicaRegistry (server/store/pg/pg_replicas.h) on a real PostgreSQL: heartbeats upsert one
// row per replica with the database's clock, Read lists only the replicas seen recently, names the
// leader row, and counts the ingest batch log's rows the saved analysis position has not passed.
#include <memory>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "server/store/pg/pg_conn.h"
#include "server/store/pg/pg_ingest_batches.h"
#include "server/store/pg/pg_replicas.h"
#include "server/store/pg/pg_schema.h"
#include "tests/store/pg_server.h"

namespace prov::server {
namespace {

class ReplicaRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PROV_PG_SERVER_OR_SKIP(pg);
    auto conninfo = pg->FreshDatabase();
    ASSERT_TRUE(conninfo.ok()) << conninfo.status();
    conninfo_ = *conninfo;
    auto registry = PgReplicaRegistry::Open(*conninfo);
    ASSERT_TRUE(registry.ok()) << registry.status();
    registry_ = *std::move(registry);
    auto conn = PgConn::Connect(*conninfo, {.search_path = kPgSchema});
    ASSERT_TRUE(conn.ok()) << conn.status();
    conn_ = *std::move(conn);
  }

  std::string conninfo_;
  std::unique_ptr<PgReplicaRegistry> registry_;
  std::unique_ptr<PgConn> conn_;
};

TEST_F(ReplicaRegistryTest, HeartbeatsUpsertAndStaleReplicasAreLeftOut) {
  ASSERT_TRUE(
      registry_
          ->Heartbeat(
              {.name = "b", .address = "10.0.0.2:7443", .version = "0.1.0", .started_us = 7})
          .ok());
  ASSERT_TRUE(
      registry_
          ->Heartbeat(
              {.name = "a", .address = "10.0.0.1:7443", .version = "0.1.0", .started_us = 5})
          .ok());
  // The same process again: nothing replaced.
  auto again = registry_->Heartbeat(
      {.name = "a", .address = "10.0.0.1:7443", .version = "0.1.0", .started_us = 5});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(again->has_value());
  // A restart under the same name replaces the row, and says whose it was.
  auto restarted = registry_->Heartbeat(
      {.name = "a", .address = "10.0.0.9:7443", .version = "0.2.0", .started_us = 9});
  ASSERT_TRUE(restarted.ok()) << restarted.status();
  ASSERT_TRUE(restarted->has_value());
  EXPECT_EQ((*restarted)->name, "a");
  EXPECT_EQ((*restarted)->address, "10.0.0.1:7443");
  EXPECT_EQ((*restarted)->version, "0.1.0");
  EXPECT_EQ((*restarted)->started_us, 5);
  EXPECT_GT((*restarted)->seen_us, 0);
  auto view = registry_->Read(absl::Seconds(30));
  ASSERT_TRUE(view.ok()) << view.status();
  ASSERT_EQ(view->replicas.size(), 2u);
  EXPECT_EQ(view->replicas[0].name, "a");
  EXPECT_EQ(view->replicas[0].address, "10.0.0.9:7443");
  EXPECT_EQ(view->replicas[0].version, "0.2.0");
  EXPECT_EQ(view->replicas[0].started_us, 9);
  EXPECT_LE(view->replicas[0].seen_us, view->now_us);
  EXPECT_GT(view->replicas[0].seen_us, view->now_us - 30'000'000);
  EXPECT_EQ(view->replicas[1].name, "b");
  EXPECT_FALSE(view->leader.has_value());

  // A replica that stopped beating drops out of the live list.
  ASSERT_TRUE(
      conn_->Exec("UPDATE replicas SET seen_us = seen_us - 60000000 WHERE name = 'b'").ok());
  view = registry_->Read(absl::Seconds(30));
  ASSERT_TRUE(view.ok()) << view.status();
  ASSERT_EQ(view->replicas.size(), 1u);
  EXPECT_EQ(view->replicas[0].name, "a");

  EXPECT_TRUE(absl::IsInvalidArgument(registry_->Heartbeat({.name = ""}).status()));
}

TEST_F(ReplicaRegistryTest, NamesTheLeaderRow) {
  ASSERT_TRUE(
      conn_->Exec("INSERT INTO leader (id, term, holder, since_us) VALUES (1, 4, 'a', 123)").ok());
  auto view = registry_->Read(absl::Seconds(30));
  ASSERT_TRUE(view.ok()) << view.status();
  ASSERT_TRUE(view->leader.has_value());
  EXPECT_EQ(view->leader->holder, "a");
  EXPECT_EQ(view->leader->term, 4);
  EXPECT_EQ(view->leader->since_us, 123);
}

TEST_F(ReplicaRegistryTest, BacklogIsTheBatchLogPastTheSavedPosition) {
  auto append = [&](int64_t received_us, int64_t reports) {
    ASSERT_TRUE(
        conn_
            ->Transaction([&] { return AppendIngestBatch(*conn_, received_us, reports, "record"); })
            .ok());
  };
  auto nothing = registry_->PruneAnalysedBatches();  // no saved position: nothing goes
  ASSERT_TRUE(nothing.ok()) << nothing.status();
  EXPECT_EQ(*nothing, 0);
  append(100, 3);
  append(200, 4);
  // Nothing analysed yet (no saved position): every row is behind.
  auto view = registry_->Read(absl::Seconds(30));
  ASSERT_TRUE(view.ok()) << view.status();
  EXPECT_EQ(view->backlog.batches, 2);
  EXPECT_EQ(view->backlog.reports, 7);
  EXPECT_EQ(view->backlog.oldest_received_us, 100);

  // The leader read both and saved its position; a third batch comes after.
  auto read_conn = PgIngestBatchReader::Open(conninfo_);
  ASSERT_TRUE(read_conn.ok()) << read_conn.status();
  auto read = (*read_conn)->Read(IngestPosition{}, 100);
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->batches.size(), 2u);
  ASSERT_TRUE(
      conn_->Transaction([&] { return PgSaveIngestPosition(*conn_, read->position); }).ok());
  append(300, 5);
  view = registry_->Read(absl::Seconds(30));
  ASSERT_TRUE(view.ok()) << view.status();
  EXPECT_EQ(view->backlog.batches, 1);
  EXPECT_EQ(view->backlog.reports, 5);
  EXPECT_EQ(view->backlog.oldest_received_us, 300);

  // The leader's housekeeping deletes what the saved position has passed, never the unread row.
  auto pruned = registry_->PruneAnalysedBatches();
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_EQ(*pruned, 2);
  auto left = conn_->Query("SELECT received_us FROM ingest_batches");
  ASSERT_TRUE(left.ok()) << left.status();
  ASSERT_EQ(left->rows(), 1);
  EXPECT_EQ(left->Text(0, 0), "300");
}

}  // namespace
}  // namespace prov::server
