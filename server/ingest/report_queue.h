// ReportQueue: the bounded queue between the AgentGateway reactors and the ingest writer.
//
//   ReportQueue queue(/*capacity=*/65536, /*capacity_bytes=*/256 << 20);
//   // reactor (never blocks):
//   if (!queue.PushOrPark(std::move(item))) { /* parked: do not StartRead until resumed */ }
//   // writer thread:
//   std::vector<std::shared_ptr<IngestStream>> resumed;
//   std::vector<IngestItem> batch = queue.PopBatch(4096, absl::Milliseconds(5), &resumed);
//   for (auto& s : resumed) s->OnQueueSpace();   // each parked item is in the queue now
//
// Back-pressure: when the queue is full, PushOrPark keeps the item aside ("parked") and returns
// false; the stream then stops reading, so gRPC's HTTP/2 flow control stops the agent. PopBatch
// moves parked items into the space it frees, oldest first, and hands their streams back so the
// writer can resume their reads. The queue is full when it holds `capacity` reports or when the
// next one would take its reports' serialized bytes (IngestItem::size_bytes) past
// `capacity_bytes` (an empty queue always takes one report, so a report larger than the byte bound
// cannot wedge it). A stream parks at most one item (it has no read outstanding while parked), so
// memory is bounded by capacity_bytes + number of streams x the largest frame provd accepts.
//
// Rejections: reactors note each rejected report against its node (NoteRejection); the writer
// takes them (TakeRejections) and records them in the node's row. PopBatch also wakes for them,
// and may then return an empty batch while the queue is still open (finished() tells the two
// apart). Notes are merged per node; at most kMaxRejectionNodes nodes are held between two
// writer rounds (further nodes' notes are dropped and counted: dropped_rejection_notes()).
// Node refusals (a stream whose client certificate names one node sending another node's report,
// issue 10) travel the same way, merged per certificate node (NoteNodeRefusal /
// TakeNodeRefusals): the writer thread audits and flags them, never a gRPC thread.
//
// Thread-safety: all methods are thread-safe. PopBatch is meant for the one writer thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "provenance/v1/report.pb.h"
#include "server/analysis/observation.h"
#include "server/ledger/usage.h"

namespace prov::server {

class IngestStream;

// The rejections of one node since the writer last took them.
struct RejectionNote {
  int64_t count = 0;
  absl::Time first_at;
  absl::Time last_at;
  std::string last_reason;  // the newest rejection's message
};

// Streams refused since the writer last took them, of one certificate node: its certificate
// named `cert_node_id`, its report claimed `claimed_node_id` (the newest such claim).
struct NodeRefusalNote {
  std::string cert_node_id;
  std::string claimed_node_id;
  int64_t count = 0;
  absl::Time first_at;
  absl::Time last_at;
};

struct IngestItem {
  provenance::v1::NodeReport report;
  std::shared_ptr<IngestStream> stream;  // where the ack goes (a ReportStream); may be null
  size_t size_bytes = 0;
  // ComputeUsage(report), computed on the reactor's thread so the single writer does less;
  // nullopt: the writer computes it.
  std::optional<std::vector<WorkloadUsage>> usage;
  // ComputeObservationHints(report), on the reactor's thread while the freshly parsed report is
  // in that core's cache (StreamDeps::observe); the writer's observer uses them. Recycled.
  ObservationHints hints;
};

class ReportQueue {
 public:
  explicit ReportQueue(size_t capacity, size_t capacity_bytes = SIZE_MAX);

  // Enqueues when there is room and returns true; otherwise parks the item and returns false.
  // After Close() items are still accepted (the writer drains them).
  bool PushOrPark(IngestItem item);

  // Blocks until at least one item is queued or the queue is closed and drained; then waits up to
  // max_delay (real time) for max_batch items. Returns at most max_batch items; an empty result
  // means closed and drained. Streams whose parked items moved into the queue go to *resumed.
  std::vector<IngestItem> PopBatch(size_t max_batch, absl::Duration max_delay,
                                   std::vector<std::shared_ptr<IngestStream>>* resumed);

  // Wakes the writer; PopBatch returns what is left, then an empty batch.
  void Close();
  // Closed, and nothing queued or parked: the writer may stop.
  bool finished() const;

  static constexpr size_t kMaxRejectionNodes = 4096;
  static constexpr size_t kMaxReasonBytes = 512;
  // A rejected report of `node_id` (empty: not recorded) at `at`; `reason` is its message.
  void NoteRejection(absl::string_view node_id, absl::Time at, absl::string_view reason);
  absl::flat_hash_map<std::string, RejectionNote> TakeRejections();
  uint64_t dropped_rejection_notes() const;
  // Same bounds as rejections (kMaxRejectionNodes certificate nodes, ids cut to kMaxReasonBytes).
  void NoteNodeRefusal(absl::string_view cert_node_id, absl::string_view claimed_node_id,
                       absl::Time at);
  std::vector<NodeRefusalNote> TakeNodeRefusals();

  // Report recycling, so the reactors parse into messages whose sub-messages and strings are
  // already allocated (protobuf's Clear keeps them) instead of the writer freeing every report
  // and the reactors allocating it again. The writer hands committed reports back with Recycle;
  // a reactor swaps one into its (empty) read buffer with TakeRecycled, which returns false when
  // the pool is empty. At most kMaxRecycled messages are kept, only of reports up to
  // kMaxRecycledBytes serialized, so the pool never holds more than was in flight at once and
  // stays bounded. The bound is 4x the writer's default batch: a committed batch comes back all
  // at once on top of what the pool holds, and at 4,096 (one batch) a saturated provd dropped
  // messages on one batch and missed the pool on ~10 % of reads later, each miss parsing into
  // a freshly allocated report.
  static constexpr size_t kMaxRecycled = 16384;
  static constexpr size_t kMaxRecycledBytes = 64 * 1024;
  // Ledger usage vectors travel with their reports (their strings are reused the same way).
  // Observation hints travel the same way.
  void Recycle(std::vector<IngestItem>& items);
  bool TakeRecycled(provenance::v1::NodeReport* into, std::vector<WorkloadUsage>* usage_into,
                    ObservationHints* hints_into);
  size_t recycled() const;

  size_t depth() const;  // queued items (parked ones not included)
  size_t parked() const;
  size_t capacity() const { return capacity_; }
  size_t bytes() const;  // serialized bytes of the queued items (parked ones not included)
  size_t capacity_bytes() const { return capacity_bytes_; }

 private:
  bool HasRoomLocked(const IngestItem& item) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t capacity_;
  const size_t capacity_bytes_;
  mutable absl::Mutex mu_;
  std::deque<IngestItem> items_ ABSL_GUARDED_BY(mu_);
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<std::string, RejectionNote> rejections_ ABSL_GUARDED_BY(mu_);
  uint64_t dropped_rejection_notes_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<std::string, NodeRefusalNote> refusals_ ABSL_GUARDED_BY(mu_);
  std::deque<IngestItem> parked_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  mutable absl::Mutex pool_mu_;  // its own lock: reactors take from it while the writer waits
  struct Recycled {
    provenance::v1::NodeReport report;
    std::vector<WorkloadUsage> usage;
    ObservationHints hints;
  };
  std::vector<Recycled> pool_ ABSL_GUARDED_BY(pool_mu_);
};

}  // namespace prov::server
