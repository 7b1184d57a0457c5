// IngestWriter: the one thread that commits queued reports to the store, then acks them.
//
//   IngestWriter writer(queue, *store, catalog, metrics, clock,
//                       {.max_batch = 4096, .max_batch_delay = absl::Milliseconds(5)});
//   writer.Start();
//   ...
//   queue.Close(); writer.Join();   // drains and commits everything queued, then returns
//
// Loop: PopBatch (up to max_batch reports, or whatever arrived within max_batch_delay) -> resume
// streams whose parked reports moved into the queue -> drop the reports of streams whose earlier
// commit failed (DropAfterFailedCommit) -> ledger usage per report (already computed by the
// reactor, else here, for the claimed interval) -> IngestRepository::Commit (server/store/repo/
// ingest.h; the SQLite Store in provd) in ONE transaction, which rescales each stored report's
// usage to the time that actually elapsed (ledger/credit.h) -> the on_committed observer (the
// analysis engine) sees that credited usage -> per stream (IngestStream, ingest_stream.h), one
// OnCommitted() with the highest committed seq per (node, boot) (duplicates are acked with the
// stored high-water mark; a report the store refused, an implausible seq jump, goes back to its
// stream as a Rejection and is never acked). Rejections noted by the reactors
// (ReportQueue::TakeRejections) are recorded on the nodes' rows after each round
// (IngestRepository::RecordRejections) and sent on as NodeEvents (on_node_events). A failed commit
// acks nothing: the involved streams are finished UNAVAILABLE and the agents resend from their
// spools; it is counted in prov_commit_failures_total{reason} (disk_full for SQLITE_FULL) and said
// on stderr (rate limited), and the next batch simply tries again, so ingest resumes by itself
// once the cause (e.g. a full disk) is gone. Commit latency (steady clock, a duration only), batch
// size and the ledger's credit figures (prov_ledger_*) go to the metrics.
//
// Thread-safety: Start/Join from one owner thread; everything else runs on the writer thread.
#pragma once

#include <cstddef>
#include <functional>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "common/accelerator_catalog.h"
#include "common/clock.h"
#include "server/analysis/node_event.h"
#include "server/ingest/report_queue.h"
#include "server/ledger/usage.h"
#include "server/metrics/provd_metrics.h"
#include "server/store/repo/ingest.h"

namespace prov::server {

// Called on the writer thread after a batch committed, before the acks go out, with the batch
// (reports, their usage and observation hints) and which of them were duplicates
// (CommitResult::duplicate). Must not block for long: it runs on the ingest hot path (the
// analysis engine copies what it needs; the reports are recycled after it returns).
using CommittedBatchObserver =
    std::function<void(const std::vector<IngestItem>& batch, const CommitResult& result)>;

// The observations of a committed batch's stored reports, in commit order (ObserveReport with
// each item's hints, against `cache`). Duplicates and items without usage are left out. For a
// CommittedBatchObserver that feeds the analysis engine.
std::vector<ReportObservation> TakeObservations(const std::vector<IngestItem>& batch,
                                                const CommitResult& result,
                                                ObservationCache* cache);

struct WriterOptions {
  size_t max_batch = 4096;
  absl::Duration max_batch_delay = absl::Milliseconds(5);
  LedgerOptions ledger;
  CommittedBatchObserver on_committed;  // optional
  // Optional: streams refused for speaking for another node (ReportQueue::TakeNodeRefusals),
  // handed over on the writer thread once per round (provd audits and flags them).
  std::function<void(std::vector<NodeRefusalNote>)> on_node_refusals;
  // Optional: after each round of recorded rejections, one kRejections event per known node
  // (its record after the round), for the analysis engine's node_reports_rejected rule.
  std::function<void(std::vector<NodeEvent>)> on_node_events;
};

class IngestWriter {
 public:
  IngestWriter(ReportQueue& queue, IngestRepository& store, const AcceleratorCatalog& catalog,
               ProvdMetrics& metrics, const Clock& clock, WriterOptions options);
  ~IngestWriter();  // joins

  void Start();
  // Returns once the queue is closed and drained. Call ReportQueue::Close() first.
  void Join();

  // One batch, synchronously (the loop body; tests may call it without a thread).
  // Removes the reports of streams whose earlier commit failed (ReportStream::commit_failed)
  // from `batch`, releasing their queue slots; they are neither stored nor acked.
  void DropAfterFailedCommit(std::vector<IngestItem>& batch);
  void CommitBatch(std::vector<IngestItem>& batch);

 private:
  void Run();
  void RecordRejections();
  void HandNodeRefusals();
  // stderr for failed store writes, rate limited: the first failure of a run and then at most one
  // line per kFailureLogEvery (with how many were folded in); one line when commits succeed again.
  void LogCommitFailure(const absl::Status& status, const char* reason, const std::string& what);
  void LogCommitRecovered();

  ReportQueue& queue_;
  IngestRepository& store_;  // the SQLite Store in provd; a faulty one in tests
  const AcceleratorCatalog& catalog_;
  ProvdMetrics& metrics_;
  const Clock& clock_;
  const WriterOptions options_;
  std::thread thread_;
  // Writer thread only.
  int64_t failing_ = 0;   // store writes failed since the last successful commit
  int64_t unlogged_ = 0;  // of those, not yet written to stderr
  absl::Time last_failure_log_ = absl::InfinitePast();
};

}  // namespace prov::server
