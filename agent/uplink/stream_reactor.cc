#include "agent/uplink/stream_reactor.h"

#include "agent/uplink/uplink.h"

namespace prov::agent {

StreamReactor::StreamReactor(Uplink* uplink, provenance::v1::AgentGateway::Stub* stub)
    : uplink_(uplink) {
  stub->async()->Report(&context_, this);
  AddHold();
  StartRead(&ack_);
}

void StreamReactor::Write(provenance::v1::NodeReport report) {
  write_buf_ = std::move(report);
  StartWrite(&write_buf_);
}

void StreamReactor::OnReadDone(bool ok) {
  if (ok) {
    uplink_->OnAck(this, ack_);
    StartRead(&ack_);
    return;
  }
  uplink_->OnReadEnded(this);
}

void StreamReactor::OnWriteDone(bool ok) { uplink_->OnWriteDone(this, ok); }

void StreamReactor::OnDone(const grpc::Status& status) { uplink_->OnStreamDone(this, status); }

}  // namespace prov::agent
