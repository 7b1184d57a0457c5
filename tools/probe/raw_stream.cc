#include "tools/probe/raw_stream.h"

#include <chrono>

#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/proto_buffer_reader.h"

namespace prov::probe {
namespace {
constexpr char kReportMethod[] = "/provenance.v1.AgentGateway/Report";
}  // namespace

RawReportStream::RawReportStream(const std::shared_ptr<grpc::Channel>& channel,
                                 absl::Duration deadline)
    : stub_(channel) {
  context_.set_deadline(std::chrono::system_clock::now() +
                        std::chrono::milliseconds(absl::ToInt64Milliseconds(deadline)));
  call_ = stub_.PrepareCall(&context_, kReportMethod, &cq_);
  call_->StartCall(reinterpret_cast<void*>(1));
  broken_ = !Wait();
}

RawReportStream::~RawReportStream() {
  if (!closed_) {
    context_.TryCancel();
    Close();
  }
  cq_.Shutdown();
  void* tag;
  bool ok;
  while (cq_.Next(&tag, &ok)) {
  }
}

bool RawReportStream::Wait() {
  void* tag = nullptr;
  bool ok = false;
  if (!cq_.Next(&tag, &ok)) return false;
  return ok;
}

bool RawReportStream::Send(const std::string& frame) {
  if (broken_) return false;
  grpc::Slice slice(frame.data(), frame.size());
  grpc::ByteBuffer buffer(&slice, 1);
  call_->Write(buffer, reinterpret_cast<void*>(2));
  if (!Wait()) {
    broken_ = true;
    return false;
  }
  ++written_;
  return true;
}

RawStreamResult RawReportStream::Close() {
  RawStreamResult result;
  closed_ = true;
  if (!broken_) {
    call_->WritesDone(reinterpret_cast<void*>(3));
    Wait();
  }
  for (;;) {
    grpc::ByteBuffer buffer;
    call_->Read(&buffer, reinterpret_cast<void*>(4));
    if (!Wait()) break;
    provenance::v1::ReportAck ack;
    grpc::ProtoBufferReader reader(&buffer);
    if (!ack.ParseFromZeroCopyStream(&reader)) continue;
    uint64_t& seq = result.committed_seq[ack.boot_id()];
    seq = std::max(seq, ack.committed_seq());
    for (const auto& r : ack.rejected()) result.rejections.push_back(r);
  }
  call_->Finish(&result.status, reinterpret_cast<void*>(5));
  Wait();
  result.frames_written = written_;
  return result;
}

}  // namespace prov::probe
