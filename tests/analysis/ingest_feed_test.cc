// IngestFeed (server/analysis/ingest_feed.h) over a fake IngestBatchSource, feeding a real
// AnalysisEngine: batches reach the engine in order and once, a record that does not decode is
// counted and skipped while the position moves past it, Wake reads at once (poll is an hour),
// a failed read is counted and retried, the lag is the oldest unread batch's age while behind,
// and Stop then Start (after a new Lead) reads on from the saved position. The engine's facts are
// on SQLite, whose repository refuses ingest positions (no batch log there), so the test's facts
// repository (test_analysis_facts.h) keeps the saved positions and hands the newest back on
// Load, as PostgreSQL's does (store_analysis_roles_test runs the same path on a real PostgreSQL
// batch log).
#include "server/analysis/ingest_feed.h"

#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/testing/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/analysis/analysis_metrics.h"
#include "server/analysis/observation_record.h"
#include "tests/analysis/analysis_test_util.h"
#include "tests/analysis/test_analysis_facts.h"
#include "tests/server/temp_dir.h"

namespace prov::server {
namespace {

using namespace testing;  // NOLINT: test builders

// A batch log in memory: batch ids 1, 2, ...; a position's horizon is the next id to read (no
// seen list). Scripted read errors; a gate that holds a chosen read until released.
class FakeBatchLog : public IngestBatchSource {
 public:
  void Append(std::string record, int64_t received_us = 0, int64_t reports = 1) {
    absl::MutexLock lock(&mu_);
    IngestBatch b;
    b.batch_id = static_cast<int64_t>(batches_.size()) + 1;
    b.xid = static_cast<uint64_t>(b.batch_id);
    b.received_us = received_us;
    b.reports = reports;
    b.record = std::move(record);
    batches_.push_back(std::move(b));
  }
  void FailNextRead(absl::Status s) {
    absl::MutexLock lock(&mu_);
    errors_.push_back(std::move(s));
  }
  // Read number `n` (1-based) waits until Release().
  void HoldRead(int n) {
    absl::MutexLock lock(&mu_);
    hold_at_ = n;
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    hold_at_ = 0;
  }
  // Waits until a read asked for batches from id >= `next` (everything before it was read and
  // handed over); false after 10 s.
  bool WaitForReadFrom(uint64_t next) {
    absl::MutexLock lock(&mu_);
    auto reached = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return max_from_ >= next; };
    return mu_.AwaitWithTimeout(absl::Condition(&reached), absl::Seconds(10));
  }
  bool WaitForReads(int n) {
    absl::MutexLock lock(&mu_);
    auto reached = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return reads_ >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&reached), absl::Seconds(10));
  }
  // Waits until `n` reads returned (what a read returns is fixed under the log's lock).
  bool WaitForReturned(int n) {
    absl::MutexLock lock(&mu_);
    auto reached = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return returned_ >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&reached), absl::Seconds(10));
  }
  int reads() const {
    absl::MutexLock lock(&mu_);
    return reads_;
  }

  absl::StatusOr<IngestBatchRead> Read(const IngestPosition& from, int limit) override {
    absl::MutexLock lock(&mu_);
    ++reads_;
    max_from_ = std::max(max_from_, std::max<uint64_t>(from.horizon, 1));
    const int this_read = reads_;
    auto released = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return hold_at_ != this_read; };
    mu_.Await(absl::Condition(&released));
    if (!errors_.empty()) {
      absl::Status s = errors_.front();
      errors_.pop_front();
      return s;
    }
    IngestBatchRead out;
    uint64_t next = std::max<uint64_t>(from.horizon, 1);
    for (const IngestBatch& b : batches_) {
      if (b.xid < next) continue;
      if (static_cast<int>(out.batches.size()) == limit) break;
      out.batches.push_back(b);
    }
    out.caught_up = static_cast<int>(out.batches.size()) < limit;
    out.position.horizon = out.batches.empty() ? next : out.batches.back().xid + 1;
    ++returned_;
    return out;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<IngestBatch> batches_ ABSL_GUARDED_BY(mu_);
  std::deque<absl::Status> errors_ ABSL_GUARDED_BY(mu_);
  int reads_ ABSL_GUARDED_BY(mu_) = 0;
  int returned_ ABSL_GUARDED_BY(mu_) = 0;
  int hold_at_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t max_from_ ABSL_GUARDED_BY(mu_) = 0;
};

// One node's report at kT0 + `second`, hostname `host` (the analyzer keeps the newest hostname
// it was given, so the order of application shows).
std::string Record(const std::string& node, const std::string& host, int second) {
  ReportObservation r = Node(node, "dc-east", "us-east", kT0 + absl::Seconds(second));
  r.hostname = host;
  return EncodeObservationBatch({r});
}

class IngestFeedTest : public ::testing::Test {
 protected:
  std::unique_ptr<AnalysisEngine> StartEngine() {
    AnalysisEngine::Options o;
    o.clock = &clock_;
    o.policy = TestPolicy();
    o.open_store = [this] { return TestAnalysisStore(dir_.path() + "/provd.db", saved_); };
    auto engine = AnalysisEngine::Start(std::move(o));
    EXPECT_TRUE(engine.ok()) << engine.status();
    return engine.ok() ? *std::move(engine) : nullptr;
  }
  std::unique_ptr<IngestFeed> MakeFeed(AnalysisEngine& engine, absl::Duration poll, int limit) {
    auto log = std::make_unique<FakeBatchLog>();
    log_ = log.get();
    return std::make_unique<IngestFeed>(
        engine, std::move(log), IngestFeedOptions{.poll = poll, .limit = limit, .clock = &clock_});
  }
  std::vector<IngestPosition> SavedPositions() { return saved_.Positions(); }
  std::string Hostname(const AnalysisEngine& engine, const std::string& node) {
    return engine.Read([&](const Analyzer& a) {
      const auto* n = a.node(node);
      return n == nullptr ? std::string("(none)") : n->hostname();
    });
  }

  server::testing::TempDir dir_;
  FakeClock clock_{kT0 + absl::Hours(1)};
  TestAnalysisFacts::Shared saved_;
  FakeBatchLog* log_ = nullptr;  // owned by the feed
};

TEST_F(IngestFeedTest, BatchesReachTheEngineInOrderOnceAndABadRecordIsSkipped) {
  auto engine = StartEngine();
  ASSERT_NE(engine, nullptr);
  auto feed = MakeFeed(*engine, absl::Milliseconds(5), /*limit=*/2);
  log_->Append(Record("n-1", "first", 1));
  log_->Append("\xff\xff not an ObservationBatch");
  log_->Append(Record("n-1", "second", 2));
  log_->Append(Record("n-2", "other", 3));
  log_->Append(Record("n-1", "third", 4));
  feed->Start();
  ASSERT_TRUE(log_->WaitForReadFrom(6));  // every batch was read and handed over
  engine->Flush();
  EXPECT_EQ(Hostname(*engine, "n-1"), "third");  // applied in batch order
  EXPECT_EQ(Hostname(*engine, "n-2"), "other");
  EXPECT_EQ(engine->counters().reports, 4u);  // each once; the bad batch has none
  const IngestFeedCounters c = feed->counters();
  EXPECT_EQ(c.batches, 5u);
  EXPECT_EQ(c.reports, 4u);
  EXPECT_EQ(c.decode_errors, 1u);
  EXPECT_EQ(c.read_errors, 0u);
  EXPECT_EQ(c.lag_seconds, 0);
  // Saved with the facts, ascending, ending past the last batch (the bad one included).
  std::vector<IngestPosition> saved = SavedPositions();
  ASSERT_FALSE(saved.empty());
  for (size_t i = 1; i < saved.size(); ++i) EXPECT_LT(saved[i - 1].horizon, saved[i].horizon);
  EXPECT_EQ(saved.back().horizon, 6u);
  feed->Stop();
  feed->Stop();  // idempotent
  EXPECT_FALSE(feed->running());
}

// A replica's node events travel as a batch-log row of their own (NodeEventForwarder): the feed
// hands them to the leading engine with the position, and the rule they feed raises its flag.
TEST_F(IngestFeedTest, NodeEventsInTheLogReachTheEngineWithThePosition) {
  auto engine = StartEngine();
  ASSERT_NE(engine, nullptr);
  auto feed = MakeFeed(*engine, absl::Milliseconds(5), /*limit=*/10);
  NodeEvent e;
  e.kind = NodeEvent::Kind::kIdentityMismatch;
  e.node_id = "n-1";
  e.time = kT0 + absl::Minutes(30);
  e.since = kT0 + absl::Minutes(29);
  e.count = 2;
  e.detail = "n-9";
  log_->Append(Record("n-1", "first", 1));
  log_->Append(EncodeNodeEvents({e}));
  feed->Start();
  ASSERT_TRUE(log_->WaitForReadFrom(3));
  engine->Flush();
  const IngestFeedCounters c = feed->counters();
  EXPECT_EQ(c.batches, 2u);
  EXPECT_EQ(c.reports, 1u);
  EXPECT_EQ(c.node_events, 1u);
  EXPECT_EQ(c.decode_errors, 0u);
  provenance::v1::ListFlagsRequest all;
  std::vector<provenance::v1::Flag> flags =
      engine->Read([&](const Analyzer& a) { return a.ListFlags(all); });
  int mismatches = 0;
  for (const auto& f : flags) {
    if (f.rule() != "node_identity_mismatch") continue;
    ++mismatches;
    EXPECT_EQ(f.subject(), "node:n-1");
  }
  EXPECT_EQ(mismatches, 1);
  std::vector<IngestPosition> saved = SavedPositions();
  ASSERT_FALSE(saved.empty());
  EXPECT_EQ(saved.back().horizon, 3u);  // past the events' row
  feed->Stop();
}

TEST_F(IngestFeedTest, WakeReadsAtOnceWhilePollIsAnHourAway) {
  auto engine = StartEngine();
  ASSERT_NE(engine, nullptr);
  auto feed = MakeFeed(*engine, absl::Hours(1), 500);
  feed->Start();
  ASSERT_TRUE(log_->WaitForReturned(1));  // caught up on an empty log: waiting for an hour
  log_->Append(Record("n-7", "woken", 1));
  feed->Wake();
  ASSERT_TRUE(log_->WaitForReturned(2));
  // The read's batch reaches the engine (polled: SubmitLogged follows the read's return).
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (engine->counters().reports + engine->pending() < 1 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  engine->Flush();
  EXPECT_EQ(Hostname(*engine, "n-7"), "woken");
  EXPECT_EQ(log_->reads(), 2) << "only Wake made it read again";
  feed->Stop();  // does not wait for the hour either
}

TEST_F(IngestFeedTest, AFailedReadIsCountedAndRetried) {
  auto engine = StartEngine();
  ASSERT_NE(engine, nullptr);
  auto feed = MakeFeed(*engine, absl::Milliseconds(5), 500);
  log_->Append(Record("n-1", "after-error", 1));
  log_->FailNextRead(absl::UnavailableError("server closed the connection"));
  feed->Start();
  ASSERT_TRUE(log_->WaitForReadFrom(2));
  engine->Flush();
  EXPECT_EQ(Hostname(*engine, "n-1"), "after-error");
  EXPECT_EQ(feed->counters().read_errors, 1u);
  EXPECT_GE(log_->reads(), 2);
}

TEST_F(IngestFeedTest, LagIsTheOldestReturnedBatchsAgeWhileBehind) {
  auto engine = StartEngine();
  ASSERT_NE(engine, nullptr);
  auto feed = MakeFeed(*engine, absl::Milliseconds(5), /*limit=*/1);
  const int64_t received = absl::ToUnixMicros(clock_.Now() - absl::Seconds(30));
  log_->Append(Record("n-1", "a", 1), received);
  log_->Append(Record("n-1", "b", 2), received + 10'000'000);
  log_->HoldRead(2);  // the feed stops after its first (not caught-up) read
  feed->Start();
  ASSERT_TRUE(log_->WaitForReads(2));
  EXPECT_DOUBLE_EQ(feed->counters().lag_seconds, 30);
  log_->Release();
  ASSERT_TRUE(log_->WaitForReadFrom(3));
  ASSERT_TRUE(log_->WaitForReads(4));  // the read after the caught-up one
  EXPECT_EQ(feed->counters().lag_seconds, 0);
}

// Elected twice: Stop, a new Lead (which reloads the saved position), Start: only what came
// after the saved position is read; nothing twice.
TEST_F(IngestFeedTest, StopThenLeadAndStartAgainReadsOnFromTheSavedPosition) {
  auto engine = StartEngine();
  ASSERT_NE(engine, nullptr);
  auto feed = MakeFeed(*engine, absl::Milliseconds(5), 500);
  log_->Append(Record("n-1", "one", 1));
  log_->Append(Record("n-2", "two", 2));
  feed->Start();
  ASSERT_TRUE(log_->WaitForReadFrom(3));
  engine->Flush();
  feed->Stop();
  ASSERT_EQ(SavedPositions().back().horizon, 3u);
  log_->Append(Record("n-3", "three", 3));
  engine->Follow();
  engine->Lead(2);
  feed->Start();
  ASSERT_TRUE(log_->WaitForReadFrom(4));
  engine->Flush();
  EXPECT_EQ(engine->counters().reports, 3u);  // 2 before, 1 after: none twice
  EXPECT_EQ(feed->counters().reports, 3u);
  EXPECT_EQ(Hostname(*engine, "n-1"), "one");  // reloaded from the store, not lost
  EXPECT_EQ(Hostname(*engine, "n-3"), "three");
  EXPECT_EQ(SavedPositions().back().horizon, 4u);
  // The feed's metrics.
  IngestFeedCollector collector(*feed);
  bool found = false;
  for (const auto& family : collector.Collect()) {
    if (family.name != "prov_analysis_feed_reports_total") continue;
    found = true;
    ASSERT_EQ(family.metric.size(), 1u);
    EXPECT_EQ(family.metric[0].counter.value, 3);
  }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace prov::server
