#include "server/ingest/report_stream.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace prov::server {

using provenance::v1::NodeReport;

ReportStream::ReportStream(const StreamDeps& deps, std::string cert_node_id)
    : deps_(deps), cert_node_id_(std::move(cert_node_id)) {
  absl::MutexLock lock(&mu_);
  node_id_ = cert_node_id_;
}

ReportStream* ReportStream::Create(const StreamDeps& deps, StreamBinding binding) {
  auto stream = std::make_shared<ReportStream>(deps, std::move(binding.cert_node_id));
  deps.metrics->streams.Increment();
  // Listed before the stream's lock is taken (lock order: OpenStreams before ReportStream). A
  // revocation that ends it from here on finishes it before its first read.
  const bool listed =
      binding.refused.ok() && !stream->cert_node_id_.empty() && deps.open_streams != nullptr;
  if (listed) deps.open_streams->Add(stream->cert_node_id_, stream.get());
  absl::MutexLock lock(&stream->mu_);
  stream->self_ = stream;
  if (!binding.refused.ok()) {
    deps.metrics->Rejected("node_certificate");
    stream->FinishLocked(
        grpc::Status(grpc::StatusCode::PERMISSION_DENIED, std::string(binding.refused.message())));
    return stream.get();
  }
  if (!stream->finished_) stream->StartReadLocked();
  return stream.get();
}

void ReportStream::End(const grpc::Status& status) {
  absl::MutexLock lock(&mu_);
  FinishLocked(status);
}

void ReportStream::StartReadLocked() {
  read_frame_.Clear();
  StartRead(&read_frame_);
}

void ReportStream::OnReadDone(bool ok) {
  absl::MutexLock lock(&mu_);
  if (!ok) {
    reads_done_ = true;
    MaybeFinishLocked();
    return;
  }
  if (finished_ || finish_pending_) return;
  HandleFrameLocked();
}

void ReportStream::HandleFrameLocked() {
  FrameIdentity identity;
  absl::Status parsed =
      ParseReportFrame(read_frame_, deps_.max_report_bytes, &read_buf_, &identity);
  read_frame_.Clear();
  if (!parsed.ok()) {
    RejectLocked(identity.seq, node_id_.empty() ? identity.node_id : node_id_, identity.boot_id,
                 parsed);
    ReadNextLocked();
    return;
  }
  HandleReportLocked();
}

void ReportStream::ReadNextLocked() {
  if (pending_rejections_.size() >= kMaxPendingRejections && write_in_flight_) {
    read_paused_ = true;  // resumed by OnWriteDone: rejections cannot pile up without bound
  } else {
    StartReadLocked();
  }
}

void ReportStream::HandleReportLocked() {
  const std::string& node_id = read_buf_.node().node_id();
  if (!cert_node_id_.empty() && !node_id.empty() && node_id != cert_node_id_) {
    const std::string claimed = node_id.substr(0, kMaxScannedIdBytes);
    const std::string message = absl::StrCat("node.node_id: \"", absl::CHexEscape(claimed),
                                             "\" is not this client certificate's node \"",
                                             cert_node_id_, "\"; a node reports only for itself");
    const absl::Time now = deps_.clock->Now();
    deps_.metrics->Rejected("node_identity_mismatch");
    deps_.queue->NoteRejection(cert_node_id_, now, message);
    deps_.queue->NoteNodeRefusal(cert_node_id_, claimed, now);
    FinishLocked(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, message));
    return;
  }
  if (!node_id_.empty() && !node_id.empty() && node_id != node_id_) {
    deps_.metrics->Rejected("node.node_id");
    FinishLocked(grpc::Status(
        grpc::StatusCode::INVALID_ARGUMENT,
        absl::StrCat("node.node_id: changed mid-stream from \"", node_id_, "\" to \"",
                     node_id.substr(0, 256), "\"; a stream carries one node's reports")));
    return;
  }
  absl::Status valid = ValidateReport(read_buf_, deps_.clock->Now(), deps_.limits);
  if (!valid.ok()) {
    RejectLocked(read_buf_.seq(), node_id_.empty() ? node_id : node_id_, read_buf_.node().boot_id(),
                 valid);
    ReadNextLocked();
    return;
  }
  node_id_ = node_id;
  IngestItem item;
  item.size_bytes = read_buf_.ByteSizeLong();
  item.report.Swap(&read_buf_);
  if (deps_.catalog != nullptr) {
    ComputeUsageInto(item.report, *deps_.catalog, deps_.ledger, &usage_buf_);
    item.usage = std::move(usage_buf_);
    usage_buf_.clear();  // moved-from: make it a valid empty vector
  }
  if (deps_.observe) {
    ComputeObservationHints(item.report, &hints_buf_);
    item.hints = std::move(hints_buf_);
    hints_buf_ = ObservationHints();
  }
  // Reuse a committed report's allocations (message, usage, hints) for the next read, if any.
  deps_.queue->TakeRecycled(&read_buf_, &usage_buf_, &hints_buf_);
  item.stream = shared_from_this();
  ++in_queue_;
  if (deps_.queue->PushOrPark(std::move(item))) {
    StartReadLocked();
  } else {
    parked_ = true;
    deps_.metrics->parked_streams.Increment();
    deps_.metrics->parks.Increment();
  }
}

void ReportStream::RejectLocked(uint64_t seq, absl::string_view node_id, absl::string_view boot_id,
                                const absl::Status& status) {
  deps_.metrics->Rejected(RejectionField(status));
  if (node_id_.empty()) node_id_ = std::string(node_id.substr(0, kMaxScannedIdBytes));
  deps_.queue->NoteRejection(node_id_, deps_.clock->Now(), status.message());
  provenance::v1::Rejection rejection;
  rejection.set_seq(seq);
  rejection.set_code(static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  rejection.set_message(std::string(status.message()));
  pending_rejections_.emplace_back(std::string(boot_id.substr(0, kMaxScannedIdBytes)),
                                   std::move(rejection));
  MaybeWriteLocked();
}

void ReportStream::OnQueueSpace() {
  absl::MutexLock lock(&mu_);
  if (!parked_) return;
  parked_ = false;
  deps_.metrics->parked_streams.Decrement();
  if (finished_ || finish_pending_ || broken_) {
    MaybeFinishLocked();
    return;
  }
  StartReadLocked();
}

void ReportStream::OnCommitted(
    absl::Span<const std::pair<absl::string_view, uint64_t>> acks, int reports,
    absl::Span<const std::pair<absl::string_view, provenance::v1::Rejection>> rejected) {
  absl::MutexLock lock(&mu_);
  in_queue_ -= reports;
  if (finished_) return;
  for (const auto& [boot_id, rejection] : rejected) {
    pending_rejections_.emplace_back(std::string(boot_id), rejection);
  }
  for (const auto& [boot_id, seq] : acks) {
    auto pending = pending_acks_.find(boot_id);
    if (pending == pending_acks_.end()) {
      pending_acks_.emplace(std::string(boot_id), seq);
    } else {
      pending->second = std::max(pending->second, seq);
    }
  }
  MaybeWriteLocked();
  MaybeFinishLocked();
}

void ReportStream::OnCommitFailed(int reports) {
  commit_failed_.store(true, std::memory_order_release);
  absl::MutexLock lock(&mu_);
  in_queue_ -= reports;
  if (finished_) return;
  FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                            "provd could not commit reports to its store; resend the "
                            "unacknowledged reports"));
}

void ReportStream::MaybeWriteLocked() {
  if (write_in_flight_ || finished_ || finish_pending_ || broken_) return;
  if (pending_acks_.empty() && pending_rejections_.empty()) return;
  write_buf_.Clear();
  std::string boot_id;
  if (!pending_acks_.empty()) {
    auto it = pending_acks_.begin();
    boot_id = it->first;
    write_buf_.set_committed_seq(it->second);
    if (acked_.size() >= kMaxRememberedBoots) acked_.clear();  // only fills rejections' seq
    acked_[boot_id] = it->second;
    pending_acks_.erase(it);
  } else {
    boot_id = pending_rejections_.front().first;
    auto acked = acked_.find(boot_id);
    write_buf_.set_committed_seq(acked == acked_.end() ? 0 : acked->second);
  }
  write_buf_.set_node_id(node_id_);
  write_buf_.set_boot_id(boot_id);
  std::vector<std::pair<std::string, provenance::v1::Rejection>> rest;
  for (auto& [boot, rejection] : pending_rejections_) {
    if (boot == boot_id) {
      *write_buf_.add_rejected() = std::move(rejection);
    } else {
      rest.emplace_back(std::move(boot), std::move(rejection));
    }
  }
  pending_rejections_ = std::move(rest);
  write_in_flight_ = true;
  bool own_buffer = false;
  write_frame_.Clear();  // the serializer wants an empty buffer (the last write is done)
  grpc::Status serialized = grpc::SerializationTraits<provenance::v1::ReportAck>::Serialize(
      write_buf_, &write_frame_, &own_buffer);
  if (!serialized.ok()) {  // cannot happen for a message this small; never write garbage
    write_in_flight_ = false;
    FinishLocked(grpc::Status(grpc::StatusCode::INTERNAL, "provd could not serialize an ack"));
    return;
  }
  StartWrite(&write_frame_);
}

void ReportStream::OnWriteDone(bool ok) {
  absl::MutexLock lock(&mu_);
  write_in_flight_ = false;
  if (ok) {
    deps_.metrics->acks_sent.Increment();
  } else {
    broken_ = true;
    write_failed_ = true;
  }
  if (finish_pending_) {
    FinishLocked(*finish_pending_);
    return;
  }
  if (read_paused_ && !broken_ && !finished_) {
    read_paused_ = false;
    StartReadLocked();
  }
  MaybeWriteLocked();
  MaybeFinishLocked();
}

void ReportStream::OnCancel() {
  absl::MutexLock lock(&mu_);
  broken_ = true;
  cancelled_ = true;
  MaybeFinishLocked();
}

void ReportStream::MaybeFinishLocked() {
  if (finished_ || write_in_flight_) return;
  if (broken_) {
    // The agent is gone: what it sent is still committed by the writer, acks are dropped.
    FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "stream cancelled"));
    return;
  }
  if (reads_done_ && in_queue_ == 0 && pending_acks_.empty() && pending_rejections_.empty()) {
    FinishLocked(grpc::Status::OK);
  }
}

void ReportStream::FinishLocked(grpc::Status status) {
  if (finished_) return;
  if (write_in_flight_) {  // Finish after the write completes (OnWriteDone)
    finish_pending_ = std::move(status);
    return;
  }
  finished_ = true;
  finish_pending_.reset();
  finished_ok_ = status.ok();
  Finish(std::move(status));
}

void ReportStream::OnDone() {
  std::shared_ptr<ReportStream> self;
  {
    absl::MutexLock lock(&mu_);
    deps_.metrics->StreamEnded(write_failed_ || write_in_flight_ ? "ack_undelivered"
                               : cancelled_                      ? "cancelled"
                               : finished_ok_                    ? "ok"
                                                                 : "error");
    finished_ = true;
    if (parked_) {
      parked_ = false;
      deps_.metrics->parked_streams.Decrement();
    }
    self = std::move(self_);
  }
  deps_.metrics->streams.Decrement();
  if (!cert_node_id_.empty() && deps_.open_streams != nullptr) {
    deps_.open_streams->Remove(cert_node_id_, this);
  }
  // `self` may be the last reference: this object is destroyed when it goes out of scope.
}

}  // namespace prov::server
