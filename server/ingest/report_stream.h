// ReportStream: the reactor of one AgentGateway.Report stream (gRPC callback API).
//
//   // in AgentGatewayService::Report():
//   return ReportStream::Create(deps);   // owns itself until OnDone
//
// What it does, never blocking a gRPC thread:
//  - reads one raw frame at a time and parses it (frame_parser.h: size limit, unknown fields
//    dropped); a frame that does not parse (random bytes, truncated, invalid UTF-8 in a string
//    field, larger than max_report_bytes) is counted (field "frame"), answered in-stream with a
//    Rejection (INVALID_ARGUMENT, the seq when it could be read from the frame) and noted on the
//    node's record; the stream goes on, so the good reports behind it are still read and stored;
//  - validates the report (report_validator.h);
//  - invalid: counts it by field, answers in-stream with a Rejection and notes it on the node's
//    record (ReportQueue::NoteRejection); the stream goes on;
//  - a node_id different from the stream's first one: Finish(INVALID_ARGUMENT);
//  - bound to a certificate's node (StreamBinding, --node-identity=cert): a report of any other
//    node ends the stream with PERMISSION_DENIED naming both ids, counted (field
//    "node_identity_mismatch"), noted on the certificate node's record and handed to the writer
//    (ReportQueue::NoteNodeRefusal) to be audited and flagged. Ending the stream (rather than an
//    in-stream Rejection) makes the agent reconnect under its backoff, so a stolen or misused
//    certificate costs provd one refusal per reconnect, not one per report. A certificate that
//    may not open the stream at all (StreamBinding::refused: a person's) ends it before any read;
//  - valid: its ledger usage computed (ledger/usage.h) and moved into the ReportQueue; if the
//    queue is full the item is parked and NO next read is started until the writer calls
//    OnQueueSpace() (back-pressure through HTTP/2 flow control);
//  - the writer calls OnCommitted() once per batch with the highest committed seq per boot, and the
//    reports the store refused (an implausible seq jump) as rejections; acks are coalesced: at
//    most one write in flight, later acks merge into the next write;
//  - when the agent half-closes, the stream finishes OK once everything it sent is acked;
//  - a peer that never reads its acks costs one pending write and the coalesced per-boot acks
//    (reads go on, so its reports are still stored); how each stream ended is counted in
//    prov_ingest_streams_ended_total{how} (ack_undelivered: ended with an ack write pending).
//
// Lifetime (reactor vs. writer): the object is held by shared_ptr. It keeps a reference to itself
// (self_) from creation until gRPC calls OnDone, and every queued IngestItem holds another, so the
// writer never touches freed memory. Every entry point takes mu_ and checks finished_ (set when
// Finish is called, and in OnDone) before touching the gRPC stream, so the writer never starts an
// operation on a finished call. gRPC runs read/write reactions on its own threads, never inline in
// StartRead/StartWrite (server_callback_handlers.h: can_inline=false), so calling them under mu_
// cannot deadlock. Lock order: ReportStream::mu_ before ReportQueue::mu_.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "common/accelerator_catalog.h"
#include "common/clock.h"
#include "grpcpp/grpcpp.h"
#include "provenance/v1/agent_gateway.grpc.pb.h"
#include "server/ingest/frame_parser.h"
#include "server/ingest/ingest_stream.h"
#include "server/ingest/open_streams.h"
#include "server/ingest/report_queue.h"
#include "server/ingest/report_validator.h"
#include "server/ledger/usage.h"
#include "server/metrics/provd_metrics.h"

namespace prov::server {

// Shared ownership of the queue and metrics: a reactor's last callbacks (OnDone) may run while
// the server is being torn down, so they must outlive every stream. The clock is owned by the
// embedder and must outlive the gRPC server.
struct StreamDeps {
  std::shared_ptr<ReportQueue> queue;
  std::shared_ptr<ProvdMetrics> metrics;
  const Clock* clock = nullptr;
  ValidatorLimits limits;
  size_t max_report_bytes = 4 << 20;  // larger frames are rejected unparsed (--max-report-bytes)
  const AcceleratorCatalog* catalog = nullptr;  // set: the ledger is computed on gRPC threads
  LedgerOptions ledger;
  // Set: each accepted report's ObservationHints are computed on the gRPC thread
  // (IngestItem::hints), for the writer's CommittedBatchObserver (TakeObservations).
  bool observe = false;
  // Set: streams bound to a certificate's node are listed here while open (revocation ends them).
  std::shared_ptr<OpenStreams> open_streams;
};

// What the client certificate of the call says, decided when the call opens
// (AgentGatewayService with a NodeCertBinder). Default: nothing bound (--node-identity=report).
struct StreamBinding {
  std::string cert_node_id;                 // set: every report must be this node's
  absl::Status refused = absl::OkStatus();  // not OK: the stream is refused with this
};

class ReportStream final : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>,
                           public IngestStream,
                           public std::enable_shared_from_this<ReportStream> {
 public:
  // Creates a stream, starts its first read, and returns the reactor for gRPC.
  static ReportStream* Create(const StreamDeps& deps, StreamBinding binding = {});

  // IngestStream (ingest_stream.h), called by the writer. OnCommitFailed finishes the stream
  // UNAVAILABLE so the agent reconnects and resends; commit_failed() may be read from any thread.
  void OnCommitted(absl::Span<const std::pair<absl::string_view, uint64_t>> acks, int reports,
                   absl::Span<const std::pair<absl::string_view, provenance::v1::Rejection>>
                       rejected = {}) override;
  void OnCommitFailed(int reports) override;
  bool commit_failed() const override { return commit_failed_.load(std::memory_order_acquire); }
  void OnQueueSpace() override;
  // Ends the stream now with `status` (a revoked node); reports already queued are still
  // committed, their acks dropped.
  void End(const grpc::Status& status);

  // gRPC reactions.
  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

  ReportStream(const StreamDeps& deps, std::string cert_node_id);

 private:
  static constexpr size_t kMaxPendingRejections = 64;
  static constexpr size_t kMaxRememberedBoots = 1024;

  void HandleFrameLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void HandleReportLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Counts, notes on the node's record, and queues the in-stream Rejection.
  void RejectLocked(uint64_t seq, absl::string_view node_id, absl::string_view boot_id,
                    const absl::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ReadNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);  // after a rejection
  void StartReadLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MaybeWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MaybeFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FinishLocked(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const StreamDeps deps_;
  const std::string cert_node_id_;      // empty: not bound to a certificate's node
  std::shared_ptr<ReportStream> self_;  // released in OnDone

  absl::Mutex mu_;
  grpc::ByteBuffer read_frame_ ABSL_GUARDED_BY(mu_);
  grpc::ByteBuffer write_frame_ ABSL_GUARDED_BY(mu_);
  provenance::v1::NodeReport read_buf_ ABSL_GUARDED_BY(mu_);
  std::vector<WorkloadUsage> usage_buf_ ABSL_GUARDED_BY(mu_);  // recycled, for the next report
  ObservationHints hints_buf_ ABSL_GUARDED_BY(mu_);            // recycled, for the next report
  provenance::v1::ReportAck write_buf_ ABSL_GUARDED_BY(mu_);
  std::string node_id_ ABSL_GUARDED_BY(mu_);
  int64_t in_queue_ ABSL_GUARDED_BY(mu_) = 0;
  bool parked_ ABSL_GUARDED_BY(mu_) = false;
  bool read_paused_ ABSL_GUARDED_BY(mu_) = false;  // too many rejections waiting to be written
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<bool> commit_failed_{false};
  bool broken_ ABSL_GUARDED_BY(mu_) = false;        // cancelled or a write failed
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;     // OnCancel: the peer left
  bool write_failed_ ABSL_GUARDED_BY(mu_) = false;  // an ack write ended undelivered
  bool finished_ok_ ABSL_GUARDED_BY(mu_) = false;   // Finish was called with OK
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> finish_pending_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, uint64_t> pending_acks_ ABSL_GUARDED_BY(mu_);  // boot -> seq
  absl::flat_hash_map<std::string, uint64_t> acked_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<std::string, provenance::v1::Rejection>> pending_rejections_
      ABSL_GUARDED_BY(mu_);  // (boot_id, rejection)
};

}  // namespace prov::server
