// AgentStream: one simulated agent: a Report stream on its own channel (own TCP connection),
// driven by gRPC's callback client API with a bounded window of unacknowledged reports.
//
//   LoadCounters counters;
//   auto agent = std::make_unique<AgentStream>(channel, factory.MakeTemplate(i), /*window=*/8,
//                                              counters);
//   agent->Start();            // opens the stream; sends nothing yet
//   agent->SetSaturate(true);  // saturation: keep `window` reports in flight, as fast as acks
//   allow agent->Request();          // cadence: one more report is due now (queued if the window
//   is full) agent->StopSending(); agent->Cancel(); agent->WaitDone(deadline);
//
// Ack latency is measured from the moment a report became due (Request, or the write in
// saturation mode) to the ack whose committed_seq covers it, so client-side queueing counts
// against the target rather than hiding it. Rejections carried in an ack count as resolved and
// are tallied (the first message is kept) so an invalid benchmark report is noticed at once.
//
// Thread-safety: Request/SetSaturate/StopSending/Cancel may be called from any thread; gRPC
// reactions run on gRPC's threads. At most one write and one read are outstanding at a time.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "provenance/v1/agent_gateway.grpc.pb.h"
#include "tools/bench/latency_histogram.h"

namespace prov::bench {

// Totals shared by all agents of one target run.
struct LoadCounters {
  std::atomic<uint64_t> requested{0};  // cadence: reports that fell due
  std::atomic<uint64_t> sent{0};       // writes started
  std::atomic<uint64_t> acked{0};      // reports covered by an ack (incl. rejected)
  std::atomic<uint64_t> rejected{0};
  std::atomic<uint64_t> streams_failed{0};  // ended with a non-OK, non-CANCELLED status
  std::atomic<bool> record_latency{true};
  LatencyHistogram latency;

  absl::Mutex mu;
  std::string first_error ABSL_GUARDED_BY(mu);
  void NoteError(const std::string& error);
  std::string FirstError();
};

class AgentStream final
    : public grpc::ClientBidiReactor<provenance::v1::NodeReport, provenance::v1::ReportAck> {
 public:
  AgentStream(std::shared_ptr<grpc::Channel> channel, provenance::v1::NodeReport report_template,
              int window, LoadCounters& counters);

  void Start();
  void SetSaturate(bool saturate);
  void Request();
  void StopSending();
  void Cancel();
  bool Done() const { return done_.load(std::memory_order_acquire); }
  // Reports written but not yet covered by an ack.
  uint64_t Unacked();
  grpc::Channel& channel() { return *channel_; }

  void OnWriteDone(bool ok) override;
  void OnReadDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;

 private:
  // Takes the next write if one may start; returns false otherwise. Call with mu_ held, then
  // StartWrite outside the lock.
  bool TakeWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PumpWrites();
  // True (once) when the hold taken in Start may go: sending stopped and no write taken.
  bool ReleaseHoldIfIdleLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<provenance::v1::AgentGateway::Stub> stub_;
  grpc::ClientContext context_;
  LoadCounters& counters_;
  const int window_;
  provenance::v1::NodeReport report_;  // touched only by the holder of writing_
  provenance::v1::ReportAck ack_;      // touched only by the outstanding read
  std::atomic<bool> done_{false};

  absl::Mutex mu_;
  bool saturate_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  bool hold_released_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t resolved_seq_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<absl::Time> due_ ABSL_GUARDED_BY(mu_);  // cadence: due times not yet written
  struct InFlight {
    uint64_t seq;
    absl::Time due;
  };
  std::deque<InFlight> in_flight_ ABSL_GUARDED_BY(mu_);
};

}  // namespace prov::bench
