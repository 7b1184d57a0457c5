// IngestWriter against a real SQLite Store behind a fault-injecting IngestRepository, with streams
// that record what the writer told them: what is acked after a commit, and, on the failure path,
// that nothing is acked, nothing is stored, the failure is counted by reason, the stream's later
// queued reports are dropped (the data-loss bug of docs/faults.md), and ingest resumes by itself.
#include "server/ingest/ingest_writer.h"

#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/accelerator_catalog.h"
#include "common/testing/fake_clock.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "server/ingest/ingest_stream.h"
#include "server/ingest/report_queue.h"
#include "server/metrics/provd_metrics.h"
#include "server/store/sqlite.h"
#include "server/store/store.h"
#include "tests/server/temp_dir.h"
#include "tests/server/test_reports.h"

namespace prov::server {
namespace {

using provenance::v1::NodeReport;
using testing::MakeReport;

// The real repository, with failures on demand: the next `n` calls fail with `status` and store
// nothing (as a rolled-back transaction would).
class FaultyIngestRepository final : public IngestRepository {
 public:
  explicit FaultyIngestRepository(IngestRepository& real) : real_(real) {}

  void FailCommits(int n, absl::Status status) {
    absl::MutexLock lock(&mu_);
    commit_faults_ = n;
    commit_status_ = std::move(status);
  }
  void FailRecordRejections(int n, absl::Status status) {
    absl::MutexLock lock(&mu_);
    rejection_faults_ = n;
    rejection_status_ = std::move(status);
  }
  int commits_attempted() const {
    absl::MutexLock lock(&mu_);
    return commits_;
  }

  absl::StatusOr<CommitResult> Commit(std::vector<ReportToCommit>& batch,
                                      absl::Time received_at) override {
    {
      absl::MutexLock lock(&mu_);
      ++commits_;
      if (commit_faults_ > 0) {
        --commit_faults_;
        return commit_status_;
      }
    }
    return real_.Commit(batch, received_at);
  }
  absl::StatusOr<std::vector<NodeRejectionState>> RecordRejections(
      absl::Span<const NodeRejections> nodes) override {
    {
      absl::MutexLock lock(&mu_);
      if (rejection_faults_ > 0) {
        --rejection_faults_;
        return rejection_status_;
      }
    }
    return real_.RecordRejections(nodes);
  }

 private:
  IngestRepository& real_;
  mutable absl::Mutex mu_;
  int commits_ ABSL_GUARDED_BY(mu_) = 0;
  int commit_faults_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status commit_status_ ABSL_GUARDED_BY(mu_);
  int rejection_faults_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status rejection_status_ ABSL_GUARDED_BY(mu_);
};

// What the writer told one stream.
class RecordingStream final : public IngestStream {
 public:
  void OnCommitted(
      absl::Span<const std::pair<absl::string_view, uint64_t>> acks, int reports,
      absl::Span<const std::pair<absl::string_view, provenance::v1::Rejection>> rejected) override {
    absl::MutexLock lock(&mu_);
    committed_reports_ += reports;
    for (const auto& [boot, seq] : acks) {
      uint64_t& acked = acked_[std::string(boot)];
      acked = std::max(acked, seq);
    }
    for (const auto& [boot, r] : rejected) rejected_.push_back(r);
  }
  void OnCommitFailed(int reports) override {
    absl::MutexLock lock(&mu_);
    failed_reports_ += reports;
    commit_failed_ = true;
  }
  bool commit_failed() const override {
    absl::MutexLock lock(&mu_);
    return commit_failed_;
  }
  void OnQueueSpace() override {}

  std::map<std::string, uint64_t> acked() const {
    absl::MutexLock lock(&mu_);
    return acked_;
  }
  int committed_reports() const {
    absl::MutexLock lock(&mu_);
    return committed_reports_;
  }
  int failed_reports() const {
    absl::MutexLock lock(&mu_);
    return failed_reports_;
  }
  std::vector<provenance::v1::Rejection> rejected() const {
    absl::MutexLock lock(&mu_);
    return rejected_;
  }

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, uint64_t> acked_ ABSL_GUARDED_BY(mu_);  // boot -> highest acked seq
  int committed_reports_ ABSL_GUARDED_BY(mu_) = 0;
  int failed_reports_ ABSL_GUARDED_BY(mu_) = 0;
  bool commit_failed_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<provenance::v1::Rejection> rejected_ ABSL_GUARDED_BY(mu_);
};

class IngestWriterTest : public ::testing::Test {
 protected:
  void SetUp() override { OpenStore({}); }

  void OpenStore(const StoreOptions& options) {
    faulty_.reset();
    store_.reset();
    auto store = Store::Open(dir_.path() + "/provd.db", options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    faulty_ = std::make_unique<FaultyIngestRepository>(*store_);
  }

  // Queues one report of `stream` (node, boot, seq), as a reactor would.
  void Queue(const std::shared_ptr<RecordingStream>& stream, const std::string& node,
             const std::string& boot, uint64_t seq) {
    IngestItem item;
    item.report = MakeReport(node, boot, seq, clock_.Now() + absl::Seconds(10 * seq));
    item.size_bytes = item.report.ByteSizeLong();
    item.stream = stream;
    ASSERT_TRUE(queue_.PushOrPark(std::move(item))) << "the test queue has room for everything";
  }

  // Runs the writer's loop over everything queued, in batches of at most `max_batch`, until the
  // queue is drained: queued before Start and closed, so the batches are exactly the queue's
  // order cut every max_batch reports.
  void Drain(size_t max_batch) {
    queue_.Close();
    WriterOptions options;
    options.max_batch = max_batch;
    options.max_batch_delay = absl::ZeroDuration();
    options.on_committed = [this](const std::vector<IngestItem>& batch, const CommitResult&) {
      observed_batches_.push_back(batch.size());
    };
    IngestWriter writer(queue_, *faulty_, AcceleratorCatalog::Builtin(), metrics_, clock_, options);
    writer.Start();
    writer.Join();
  }

  // The seqs stored for (node, boot), from the database itself.
  std::set<uint64_t> StoredSeqs(const std::string& node, const std::string& boot) {
    std::set<uint64_t> seqs;
    auto db = SqliteDb::Open(dir_.path() + "/provd.db", SqliteDb::kReadOnly);
    EXPECT_TRUE(db.ok()) << db.status();
    if (!db.ok()) return seqs;
    auto st = (*db)->Prepare(
        "SELECT r.seq FROM reports r JOIN nodes n ON n.id = r.node "
        "WHERE n.node_id = ?1 AND r.boot_id = ?2");
    EXPECT_TRUE(st.ok()) << st.status();
    if (!st.ok()) return seqs;
    (*st)->BindText(1, node);
    (*st)->BindText(2, boot);
    while (true) {
      absl::StatusOr<bool> row = (*st)->Step();
      EXPECT_TRUE(row.ok()) << row.status();
      if (!row.ok() || !*row) break;
      seqs.insert(static_cast<uint64_t>((*st)->ColumnInt64(0)));
    }
    return seqs;
  }

  static std::set<uint64_t> Range(uint64_t first, uint64_t last) {
    std::set<uint64_t> s;
    for (uint64_t i = first; i <= last; ++i) s.insert(i);
    return s;
  }

  testing::TempDir dir_;
  FakeClock clock_;
  ProvdMetrics metrics_{std::make_shared<prometheus::Registry>()};
  ReportQueue queue_{1024};
  std::unique_ptr<Store> store_;
  std::unique_ptr<FaultyIngestRepository> faulty_;
  std::vector<size_t> observed_batches_;
};

TEST_F(IngestWriterTest, AcksEachStreamWithItsHighestCommittedSeqPerBoot) {
  auto a = std::make_shared<RecordingStream>();
  auto b = std::make_shared<RecordingStream>();
  for (uint64_t seq = 1; seq <= 3; ++seq) Queue(a, "node-a", "boot-1", seq);
  Queue(a, "node-a", "boot-2", 1);
  Queue(b, "node-b", "boot-1", 1);
  Queue(b, "node-b", "boot-1", 2);
  Drain(/*max_batch=*/100);

  EXPECT_EQ(a->acked(), (std::map<std::string, uint64_t>{{"boot-1", 3}, {"boot-2", 1}}));
  EXPECT_EQ(a->committed_reports(), 4);
  EXPECT_EQ(b->acked(), (std::map<std::string, uint64_t>{{"boot-1", 2}}));
  EXPECT_EQ(a->failed_reports() + b->failed_reports(), 0);
  EXPECT_EQ(StoredSeqs("node-a", "boot-1"), Range(1, 3));
  EXPECT_EQ(StoredSeqs("node-b", "boot-1"), Range(1, 2));
  EXPECT_EQ(metrics_.reports_ingested.Value(), 6);
  EXPECT_EQ(observed_batches_, std::vector<size_t>{6});
}

// A failed commit acks nothing and stores nothing; every stream with a report in the batch is
// told (and ends, so its agent resends), with how many of its reports the batch held.
TEST_F(IngestWriterTest, FailedCommitAcksNothingAndStoresNothing) {
  faulty_->FailCommits(1, absl::ResourceExhaustedError("database or disk is full"));
  auto a = std::make_shared<RecordingStream>();
  auto b = std::make_shared<RecordingStream>();
  Queue(a, "node-a", "boot-1", 1);
  Queue(b, "node-b", "boot-1", 1);
  Queue(a, "node-a", "boot-1", 2);
  Drain(/*max_batch=*/100);

  EXPECT_TRUE(a->acked().empty());
  EXPECT_TRUE(b->acked().empty());
  EXPECT_EQ(a->failed_reports(), 2);
  EXPECT_EQ(b->failed_reports(), 1);
  EXPECT_TRUE(a->commit_failed());
  EXPECT_TRUE(StoredSeqs("node-a", "boot-1").empty());
  EXPECT_TRUE(StoredSeqs("node-b", "boot-1").empty());
  EXPECT_EQ(metrics_.commit_failures_disk_full.Value(), 1);
  EXPECT_EQ(metrics_.reports_ingested.Value(), 0);
  EXPECT_TRUE(observed_batches_.empty()) << "the analysis engine must not see an uncommitted batch";
}

// prov_commit_failures_total{reason}: the label follows the status the repository returned.
TEST_F(IngestWriterTest, CommitFailuresAreCountedByReason) {
  faulty_->FailCommits(3, absl::UnavailableError("database is locked"));
  for (int i = 1; i <= 3; ++i) {
    Queue(std::make_shared<RecordingStream>(), "node-" + std::to_string(i), "boot-1", 1);
  }
  Drain(/*max_batch=*/1);
  faulty_->FailCommits(2, absl::InternalError("malformed database schema"));
  for (int i = 4; i <= 5; ++i) {
    Queue(std::make_shared<RecordingStream>(), "node-" + std::to_string(i), "boot-1", 1);
  }
  Drain(/*max_batch=*/1);
  EXPECT_EQ(metrics_.commit_failures_busy.Value(), 3);
  EXPECT_EQ(metrics_.commit_failures_other.Value(), 2);
  EXPECT_EQ(metrics_.commit_failures_disk_full.Value(), 0);
  EXPECT_EQ(faulty_->commits_attempted(), 5);
}

// The data-loss bug found under ASan (docs/faults.md): after seqs 1-5 of a stream failed to
// commit, its seqs 6-8 still in the queue must not be stored, or the (node, boot) high-water mark
// moves to 8 and the agent's resends of 1-5 are acked as duplicates and never stored. They are
// dropped (counted, not acked); another stream's reports in the same batch are stored; and when
// the agent resends 1-8 on its next stream, each is stored exactly once.
TEST_F(IngestWriterTest, QueuedReportsOfAStreamWhoseCommitFailedAreDroppedThenResent) {
  faulty_->FailCommits(1, absl::ResourceExhaustedError("database or disk is full"));
  auto a = std::make_shared<RecordingStream>();
  auto b = std::make_shared<RecordingStream>();
  for (uint64_t seq = 1; seq <= 5; ++seq) Queue(a, "node-a", "boot-1", seq);  // batch 1: fails
  for (uint64_t seq = 6; seq <= 8; ++seq) Queue(a, "node-a", "boot-1", seq);  // batch 2
  Queue(b, "node-b", "boot-1", 1);
  Queue(b, "node-b", "boot-1", 2);
  Drain(/*max_batch=*/5);

  EXPECT_TRUE(a->acked().empty()) << "nothing of the failed stream is acked";
  EXPECT_EQ(a->failed_reports(), 8) << "5 in the failed batch, 3 dropped after it";
  EXPECT_TRUE(StoredSeqs("node-a", "boot-1").empty());
  EXPECT_EQ(metrics_.reports_dropped_after_failure.Value(), 3);
  EXPECT_EQ(b->acked(), (std::map<std::string, uint64_t>{{"boot-1", 2}}));
  EXPECT_EQ(StoredSeqs("node-b", "boot-1"), Range(1, 2));

  // The agent reconnects and resends everything it holds unacked, in order.
  auto resent = std::make_shared<RecordingStream>();
  for (uint64_t seq = 1; seq <= 8; ++seq) Queue(resent, "node-a", "boot-1", seq);
  Drain(/*max_batch=*/5);
  EXPECT_EQ(resent->acked(), (std::map<std::string, uint64_t>{{"boot-1", 8}}));
  EXPECT_EQ(resent->failed_reports(), 0);
  EXPECT_EQ(StoredSeqs("node-a", "boot-1"), Range(1, 8));
  EXPECT_EQ(metrics_.reports_duplicate.Value(), 0) << "each resent report is new to the store";
  EXPECT_EQ(metrics_.reports_ingested.Value(), 2 + 8);
}

// Commits fail twice (disk full), then the cause is gone: the next batch commits without any
// restart, and what was acked is exactly what is stored.
TEST_F(IngestWriterTest, IngestResumesByItselfWhenTheStoreRecovers) {
  faulty_->FailCommits(2, absl::ResourceExhaustedError("database or disk is full"));
  std::vector<std::shared_ptr<RecordingStream>> streams;
  for (int i = 0; i < 3; ++i) {
    streams.push_back(std::make_shared<RecordingStream>());
    Queue(streams.back(), "node-" + std::to_string(i), "boot-1", 1);
  }
  Drain(/*max_batch=*/1);

  EXPECT_EQ(streams[0]->failed_reports(), 1);
  EXPECT_EQ(streams[1]->failed_reports(), 1);
  EXPECT_EQ(streams[2]->acked(), (std::map<std::string, uint64_t>{{"boot-1", 1}}));
  EXPECT_TRUE(StoredSeqs("node-0", "boot-1").empty());
  EXPECT_TRUE(StoredSeqs("node-1", "boot-1").empty());
  EXPECT_EQ(StoredSeqs("node-2", "boot-1"), Range(1, 1));
  EXPECT_EQ(metrics_.commit_failures_disk_full.Value(), 2);
  EXPECT_EQ(metrics_.reports_ingested.Value(), 1);
  EXPECT_EQ(observed_batches_, std::vector<size_t>{1});
}

// A report the store refuses (a seq implausibly far ahead) goes back to its stream as an
// INVALID_ARGUMENT Rejection and is never acked; the stream's other reports are.
TEST_F(IngestWriterTest, RefusedReportIsRejectedOnItsStreamAndNotAcked) {
  StoreOptions options;
  options.max_seq_jump = 100;
  OpenStore(options);
  auto a = std::make_shared<RecordingStream>();
  Queue(a, "node-a", "boot-1", 1);
  Queue(a, "node-a", "boot-1", 5000);
  Drain(/*max_batch=*/100);

  EXPECT_EQ(a->acked(), (std::map<std::string, uint64_t>{{"boot-1", 1}}));
  ASSERT_EQ(a->rejected().size(), 1u);
  EXPECT_EQ(a->rejected()[0].seq(), 5000u);
  EXPECT_EQ(a->rejected()[0].code(), 3);
  EXPECT_FALSE(a->rejected()[0].message().empty());
  EXPECT_EQ(StoredSeqs("node-a", "boot-1"), Range(1, 1));
  EXPECT_FALSE(a->commit_failed());
}

// Recording the reactors' rejection notes on the nodes' rows can fail too: counted by reason;
// the reports of the round are still stored and acked.
TEST_F(IngestWriterTest, FailedRejectionRecordIsCountedAndLosesNoReport) {
  faulty_->FailRecordRejections(1, absl::UnavailableError("database is locked"));
  auto a = std::make_shared<RecordingStream>();
  Queue(a, "node-a", "boot-1", 1);
  queue_.NoteRejection("node-a", clock_.Now(), "accelerators[0].pci_address: malformed");
  Drain(/*max_batch=*/100);

  EXPECT_EQ(metrics_.commit_failures_busy.Value(), 1);
  EXPECT_EQ(a->acked(), (std::map<std::string, uint64_t>{{"boot-1", 1}}));
  EXPECT_EQ(StoredSeqs("node-a", "boot-1"), Range(1, 1));
}

}  // namespace
}  // namespace prov::server
