#include "tools/bench/agent_stream.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "tools/bench/report_factory.h"

namespace prov::bench {

namespace pb = provenance::v1;

void LoadCounters::NoteError(const std::string& error) {
  absl::MutexLock lock(&mu);
  if (first_error.empty()) first_error = error;
}

std::string LoadCounters::FirstError() {
  absl::MutexLock lock(&mu);
  return first_error;
}

AgentStream::AgentStream(std::shared_ptr<grpc::Channel> channel, pb::NodeReport report_template,
                         int window, LoadCounters& counters)
    : channel_(std::move(channel)),
      stub_(pb::AgentGateway::NewStub(channel_)),
      counters_(counters),
      window_(std::max(1, window)),
      report_(std::move(report_template)) {}

void AgentStream::Start() {
  stub_->async()->Report(&context_, this);
  // The hold keeps OnDone away until StopSending: no write can start after the call is over.
  AddHold();
  StartRead(&ack_);
  StartCall();
}

void AgentStream::SetSaturate(bool saturate) {
  {
    absl::MutexLock lock(&mu_);
    saturate_ = saturate;
  }
  PumpWrites();
}

void AgentStream::Request() {
  counters_.requested.fetch_add(1, std::memory_order_relaxed);
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    due_.push_back(absl::Now());
  }
  PumpWrites();
}

void AgentStream::StopSending() {
  bool release = false;
  {
    absl::MutexLock lock(&mu_);
    stopped_ = true;
    saturate_ = false;
    release = ReleaseHoldIfIdleLocked();
  }
  if (release) RemoveHold();
}

bool AgentStream::ReleaseHoldIfIdleLocked() {
  if (!stopped_ || writing_ || hold_released_) return false;
  hold_released_ = true;
  return true;
}

void AgentStream::Cancel() { context_.TryCancel(); }

uint64_t AgentStream::Unacked() {
  absl::MutexLock lock(&mu_);
  return in_flight_.size();
}

bool AgentStream::TakeWriteLocked() {
  if (writing_ || stopped_ || broken_ || in_flight_.size() >= static_cast<size_t>(window_))
    return false;
  absl::Time due;
  if (!due_.empty()) {
    due = due_.front();
    due_.pop_front();
  } else if (saturate_) {
    due = absl::Now();
  } else {
    return false;
  }
  writing_ = true;
  const uint64_t seq = next_seq_++;
  in_flight_.push_back({seq, due});
  ReportFactory::Stamp(report_, seq, absl::Now());
  return true;
}

void AgentStream::PumpWrites() {
  bool write = false;
  {
    absl::MutexLock lock(&mu_);
    write = TakeWriteLocked();
  }
  if (write) {
    counters_.sent.fetch_add(1, std::memory_order_relaxed);
    StartWrite(&report_);
  }
}

void AgentStream::OnWriteDone(bool ok) {
  bool release = false;
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) broken_ = true;  // the stream is over; OnDone will carry the status
    if (stopped_) release = ReleaseHoldIfIdleLocked();
  }
  if (release) {
    RemoveHold();
    return;
  }
  if (ok) PumpWrites();
}

void AgentStream::OnReadDone(bool ok) {
  if (!ok) return;  // stream over; OnDone follows
  uint64_t resolved = ack_.committed_seq();
  for (const pb::Rejection& r : ack_.rejected()) {
    counters_.rejected.fetch_add(1, std::memory_order_relaxed);
    counters_.NoteError(absl::StrCat("report ", r.seq(), " of ", ack_.node_id(), " rejected: code ",
                                     r.code(), ": ", r.message()));
    resolved = std::max(resolved, r.seq());
  }
  const absl::Time now = absl::Now();
  uint64_t newly = 0;
  {
    absl::MutexLock lock(&mu_);
    resolved_seq_ = std::max(resolved_seq_, resolved);
    while (!in_flight_.empty() && in_flight_.front().seq <= resolved_seq_) {
      if (counters_.record_latency.load(std::memory_order_relaxed)) {
        counters_.latency.Record(now - in_flight_.front().due);
      }
      in_flight_.pop_front();
      ++newly;
    }
  }
  counters_.acked.fetch_add(newly, std::memory_order_relaxed);
  PumpWrites();
  StartRead(&ack_);
}

void AgentStream::OnDone(const grpc::Status& status) {
  if (!status.ok() && status.error_code() != grpc::StatusCode::CANCELLED) {
    counters_.streams_failed.fetch_add(1, std::memory_order_relaxed);
    counters_.NoteError(
        absl::StrCat("stream ended: code ", status.error_code(), ": ", status.error_message()));
  }
  done_.store(true, std::memory_order_release);
}

}  // namespace prov::bench
