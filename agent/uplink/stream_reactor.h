// StreamReactor (internal to the uplink): one AgentGateway.Report call on gRPC's callback API.
//
// Lifetime: created by Uplink when it opens a stream, owned by Uplink (never self-deleting), and
// destroyed by Uplink only after OnDone has run. Writes are started from outside reactions (Submit,
// Poll), so the call carries one hold from before StartCall; it is released once the read side has
// ended and no write is pending, which is what lets OnDone run. All fields below except the gRPC
// buffers are guarded by the owning Uplink's mutex.
#pragma once

#include "grpcpp/client_context.h"
#include "grpcpp/support/client_callback.h"
#include "provenance/v1/agent_gateway.grpc.pb.h"

namespace prov::agent {

class Uplink;

class StreamReactor final
    : public grpc::ClientBidiReactor<provenance::v1::NodeReport, provenance::v1::ReportAck> {
 public:
  // Binds the call, adds the hold and queues the first read. Call StartCall() next, without
  // holding the uplink's mutex (reactions may run inline).
  StreamReactor(Uplink* uplink, provenance::v1::AgentGateway::Stub* stub);

  // Starts writing `report` (the uplink has set write_pending).
  void Write(provenance::v1::NodeReport report);
  void Cancel() { context_.TryCancel(); }

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;

  // Guarded by the uplink's mutex.
  bool write_pending = false;
  bool acked = false;          // an ack arrived on this stream
  bool writes_failed = false;  // a write came back not ok: the stream is broken
  bool read_ended = false;
  bool hold_released = false;
  bool done = false;

 private:
  Uplink* uplink_;
  grpc::ClientContext context_;
  provenance::v1::ReportAck ack_;
  provenance::v1::NodeReport write_buf_;
};

}  // namespace prov::agent
