// The ingest batch log (server/store/pg/pg_ingest_batches.h) on a real PostgreSQL: every
// committed batch is read exactly once although batches commit out of batch_id order or roll
// back, reads in chunks resume where they stopped, the position survives a save and load, and
// with two ingest repositories ("replicas") committing the same nodes concurrently while a reader
// follows, each node's stored reports come out once each, in the node's seq order.
#include <atomic>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/store/pg/pg_conn.h"
#include "server/store/pg/pg_ingest.h"
#include "server/store/pg/pg_ingest_batches.h"
#include "server/store/pg/pg_schema.h"
#include "tests/server/commit_batch.h"
#include "tests/server/test_reports.h"
#include "tests/store/pg_server.h"

namespace prov::server {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

class IngestBatchesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PROV_PG_SERVER_OR_SKIP(pg);
    auto conninfo = pg->FreshDatabase();
    ASSERT_TRUE(conninfo.ok()) << conninfo.status();
    conninfo_ = *conninfo;
    auto reader = PgIngestBatchReader::Open(conninfo_);
    ASSERT_TRUE(reader.ok()) << reader.status();
    reader_ = *std::move(reader);
  }

  std::unique_ptr<PgConn> Connect() {
    auto conn = PgConn::Connect(conninfo_, {.search_path = kPgSchema});
    EXPECT_TRUE(conn.ok()) << conn.status();
    return conn.ok() ? *std::move(conn) : nullptr;
  }

  // One batch in a transaction of its own.
  void Commit(PgConn& conn, const std::string& record) {
    ASSERT_TRUE(conn.Transaction([&] { return AppendIngestBatch(conn, 1, 1, record); }).ok());
  }

  std::vector<std::string> Records(const IngestBatchRead& read) {
    std::vector<std::string> out;
    for (const IngestBatch& b : read.batches) out.push_back(b.record);
    return out;
  }

  std::string conninfo_;
  std::unique_ptr<PgIngestBatchReader> reader_;
};

TEST_F(IngestBatchesTest, ReadsEachCommittedBatchOnceInBatchIdOrder) {
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  for (const char* r : {"a", "b", "c"}) Commit(*conn, r);
  auto first = reader_->Read({}, 100);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_THAT(Records(*first), ElementsAre("a", "b", "c"));
  EXPECT_TRUE(first->caught_up);
  EXPECT_THAT(first->position.seen, IsEmpty()) << "nothing open: the horizon passed them all";
  EXPECT_GT(first->position.horizon, first->batches.back().xid);
  auto again = reader_->Read(first->position, 100);
  ASSERT_TRUE(again.ok());
  EXPECT_THAT(again->batches, IsEmpty());
  Commit(*conn, "d");
  auto next = reader_->Read(again->position, 100);
  ASSERT_TRUE(next.ok());
  EXPECT_THAT(Records(*next), ElementsAre("d"));
}

// Batch 1 is written first but commits after batch 2, which a read returns in between: batch 1
// is not skipped (a reader that went by batch_id alone would have passed it) and batch 2 is not
// returned twice.
TEST_F(IngestBatchesTest, ABatchCommittingLateIsNotSkipped) {
  auto a = Connect(), b = Connect();
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->Exec("BEGIN").ok());
  ASSERT_TRUE(AppendIngestBatch(*a, 1, 1, "early-id-late-commit").ok());
  Commit(*b, "late-id-early-commit");
  auto first = reader_->Read({}, 100);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_THAT(Records(*first), ElementsAre("late-id-early-commit"));
  ASSERT_EQ(first->position.seen.size(), 1u) << "above the open transaction's xid";
  ASSERT_TRUE(a->Exec("COMMIT").ok());
  auto second = reader_->Read(first->position, 100);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_THAT(Records(*second), ElementsAre("early-id-late-commit"));
  EXPECT_THAT(second->position.seen, IsEmpty());
  auto third = reader_->Read(second->position, 100);
  ASSERT_TRUE(third.ok());
  EXPECT_THAT(third->batches, IsEmpty());
}

TEST_F(IngestBatchesTest, ARolledBackBatchNeverAppearsNorHoldsTheHorizon) {
  auto a = Connect(), b = Connect();
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->Exec("BEGIN").ok());
  ASSERT_TRUE(AppendIngestBatch(*a, 1, 1, "rolled back").ok());
  ASSERT_TRUE(a->Exec("ROLLBACK").ok());
  Commit(*b, "kept");
  auto read = reader_->Read({}, 100);
  ASSERT_TRUE(read.ok());
  EXPECT_THAT(Records(*read), ElementsAre("kept"));
  EXPECT_THAT(read->position.seen, IsEmpty());
  EXPECT_GT(read->position.horizon, read->batches[0].xid);
}

// Chunks of 3 while an older transaction stays open: the ten committed batches come out once
// each, in order; the open one's batch after it commits.
TEST_F(IngestBatchesTest, ChunkedReadsResumeWhereTheyStopped) {
  auto open = Connect(), conn = Connect();
  ASSERT_TRUE(open && conn);
  ASSERT_TRUE(open->Exec("BEGIN").ok());
  ASSERT_TRUE(AppendIngestBatch(*open, 1, 1, "open").ok());
  for (int i = 0; i < 10; ++i) Commit(*conn, absl::StrCat("b", i));
  IngestPosition pos;
  std::vector<std::string> got;
  int reads = 0;
  while (true) {
    auto read = reader_->Read(pos, 3);
    ASSERT_TRUE(read.ok()) << read.status();
    ++reads;
    for (auto& r : Records(*read)) got.push_back(r);
    EXPECT_GE(read->position.horizon, pos.horizon) << "the horizon never moves back";
    pos = read->position;
    if (read->caught_up) break;
    ASSERT_LT(reads, 20);
  }
  EXPECT_THAT(got, ElementsAre("b0", "b1", "b2", "b3", "b4", "b5", "b6", "b7", "b8", "b9"));
  ASSERT_TRUE(open->Exec("COMMIT").ok());
  auto last = reader_->Read(pos, 3);
  ASSERT_TRUE(last.ok());
  EXPECT_THAT(Records(*last), ElementsAre("open"));
  EXPECT_THAT(last->position.seen, IsEmpty());
}

TEST_F(IngestBatchesTest, PositionIsSavedLoadedAndPrunesWhatWasRead) {
  auto conn = Connect(), open = Connect();
  ASSERT_TRUE(conn && open);
  auto none = PgLoadIngestPosition(*conn);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(*none, IngestPosition{});
  ASSERT_TRUE(open->Exec("BEGIN").ok());
  ASSERT_TRUE(AppendIngestBatch(*open, 1, 1, "open").ok());
  Commit(*conn, "x");
  auto read = reader_->Read({}, 100);
  ASSERT_TRUE(read.ok());
  ASSERT_EQ(read->position.seen.size(), 1u);
  ASSERT_TRUE(conn->Transaction([&] { return PgSaveIngestPosition(*conn, read->position); }).ok());
  auto loaded = PgLoadIngestPosition(*conn);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(*loaded, read->position);
  // Below the horizon there is nothing yet ("x" is above it, the open one too): nothing pruned.
  EXPECT_EQ(*PgPruneIngestBatches(*conn, *loaded), 0);
  ASSERT_TRUE(open->Exec("COMMIT").ok());
  auto next = reader_->Read(*loaded, 100);
  ASSERT_TRUE(next.ok());
  EXPECT_THAT(Records(*next), ElementsAre("open"));
  EXPECT_EQ(*PgPruneIngestBatches(*conn, next->position), 2);
  auto left = conn->Query("SELECT count(*) FROM ingest_batches");
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(left->Text(0, 0), "0");
}

// "node-0:3;node-1:4;" records -> seqs per node, in read order.
std::map<std::string, std::vector<int64_t>> Parse(const IngestBatchRead& read) {
  std::map<std::string, std::vector<int64_t>> out;
  for (const IngestBatch& b : read.batches) {
    for (absl::string_view item : absl::StrSplit(b.record, ';', absl::SkipEmpty())) {
      std::pair<std::string, std::string> kv = absl::StrSplit(item, ':');
      int64_t seq = 0;
      EXPECT_TRUE(absl::SimpleAtoi(kv.second, &seq)) << item;
      out[kv.first].push_back(seq);
    }
  }
  return out;
}

// Two replicas' ingest repositories commit reports of the same four nodes at once (an agent that
// fails over mid-stream); a reader follows in chunks of 5. Every stored report comes out exactly
// once, and each node's reports in seq order.
TEST_F(IngestBatchesTest, TwoReplicasCommittingTheSameNodesComeOutInEachNodesOrder) {
  PgIngestOptions options;
  options.batch_record = [](const std::vector<ReportToCommit>& batch, const CommitResult& result) {
    std::string record;
    for (size_t i = 0; i < batch.size(); ++i) {
      if (result.duplicate[i]) continue;
      absl::StrAppend(&record, batch[i].report->node().node_id(), ":", batch[i].report->seq(), ";");
    }
    return record;
  };
  constexpr int kNodes = 4, kBatches = 150;
  std::atomic<int64_t> next_seq[kNodes];
  for (auto& s : next_seq) s = 1;
  const absl::Time t0 = absl::FromUnixSeconds(1'760'000'000);
  std::atomic<int> writers_done{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < 2; ++w) {
    writers.emplace_back([&, w] {
      std::mt19937 rng(static_cast<uint32_t>(w + 1));
      // A writer that fails still counts as done (the reader below would wait for it forever).
      struct Done {
        std::atomic<int>* done;
        ~Done() { ++*done; }
      } done_on_exit{&writers_done};
      auto repo = PgIngestRepository::Open(conninfo_, options);
      ASSERT_TRUE(repo.ok()) << repo.status();
      for (int b = 0; b < kBatches; ++b) {
        std::vector<provenance::v1::NodeReport> reports;
        // Two of the four nodes per batch, different pairs on each replica, so that one batch
        // may take its transaction id on its first node and then wait for another batch that
        // holds its second: xid order then differs from each node's commit order.
        const int first = static_cast<int>(rng() % kNodes);
        const int second = (first + 1 + static_cast<int>(rng() % (kNodes - 1))) % kNodes;
        for (int n : {first, second}) {
          const int64_t seq = next_seq[n].fetch_add(1);
          reports.push_back(testing::MakeReport(absl::StrCat("node-", n), "boot",
                                                static_cast<uint64_t>(seq),
                                                t0 + absl::Seconds(10 * seq)));
        }
        std::vector<const provenance::v1::NodeReport*> ptrs;
        for (auto& r : reports) ptrs.push_back(&r);
        auto batch = testing::CommitBatch(ptrs);
        auto done = (*repo)->Commit(batch, t0 + absl::Seconds(10 * (b + 1)));
        ASSERT_TRUE(done.ok()) << done.status();
      }
    });
  }
  std::map<std::string, std::vector<int64_t>> seen;
  IngestPosition pos;
  while (true) {
    const bool finished = writers_done == 2;
    auto read = reader_->Read(pos, 5);
    ASSERT_TRUE(read.ok()) << read.status();
    for (auto& [node, seqs] : Parse(*read)) {
      seen[node].insert(seen[node].end(), seqs.begin(), seqs.end());
    }
    pos = read->position;
    if (finished && read->caught_up) break;
  }
  for (auto& t : writers) t.join();

  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  auto stored = conn->Query(
      "SELECT n.node_id, r.seq FROM reports r JOIN nodes n ON n.id = r.node ORDER BY 1, 2");
  ASSERT_TRUE(stored.ok()) << stored.status();
  std::map<std::string, std::vector<int64_t>> expected;
  for (int i = 0; i < stored->rows(); ++i)
    expected[stored->Text(i, 0)].push_back(*stored->Int64(i, 1));
  ASSERT_EQ(expected.size(), static_cast<size_t>(kNodes));
  for (auto& [node, seqs] : seen) {
    for (size_t i = 1; i < seqs.size(); ++i) {
      EXPECT_LT(seqs[i - 1], seqs[i]) << node << ": out of the node's order at " << i;
    }
  }
  EXPECT_EQ(seen, expected) << "every stored report exactly once";

  // The whole log again in one read: each node's order holds across every batch, not only
  // within the few a following reader gets at a time.
  auto all = reader_->Read({}, 100000);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_TRUE(all->caught_up);
  std::map<std::string, std::vector<int64_t>> whole = Parse(*all);
  for (auto& [node, seqs] : whole) {
    for (size_t i = 1; i < seqs.size(); ++i) {
      EXPECT_LT(seqs[i - 1], seqs[i]) << node << ": out of the node's order at " << i;
    }
  }
  EXPECT_EQ(whole, expected);
}

}  // namespace
}  // namespace prov::server
