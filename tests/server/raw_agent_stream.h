// An AgentGateway.Report stream that sends raw frames: bytes that need not be a NodeReport
// (random bytes, a truncated report, invalid UTF-8 in a string field), for provd's hostile-input
// tests. Acks are read on a thread, as in AgentStream (agent_stream.h).
//
//   RawAgentStream stream(channel);
//   stream.WriteBytes("\xff\xff\xff");            // a frame that does not parse
//   stream.Write(report);                          // a real one
//   ASSERT_TRUE(stream.WaitCommitted("boot-a", 5));
//   grpc::Status status = stream.Finish();
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/impl/rpc_method.h"
#include "grpcpp/support/sync_stream.h"
#include "provenance/v1/agent_gateway.grpc.pb.h"

namespace prov::server::testing {

class RawAgentStream {
 public:
  explicit RawAgentStream(const std::shared_ptr<grpc::Channel>& channel)
      : channel_(channel),
        method_("/provenance.v1.AgentGateway/Report", grpc::internal::RpcMethod::BIDI_STREAMING,
                channel) {
    context_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
    stream_.reset(
        grpc::internal::ClientReaderWriterFactory<grpc::ByteBuffer, grpc::ByteBuffer>::Create(
            channel_.get(), method_, &context_));
    reader_ = std::thread([this] {
      grpc::ByteBuffer frame;
      while (stream_->Read(&frame)) {
        std::vector<grpc::Slice> slices;
        std::string bytes;
        if (frame.Dump(&slices).ok()) {
          for (const auto& s : slices)
            bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
        }
        provenance::v1::ReportAck ack;
        ack.ParseFromString(bytes);
        absl::MutexLock lock(&mu_);
        uint64_t& seq = committed_[ack.boot_id()];
        seq = std::max(seq, ack.committed_seq());
        for (const auto& r : ack.rejected()) rejections_.push_back(r);
      }
      absl::MutexLock lock(&mu_);
      read_done_ = true;
    });
  }
  ~RawAgentStream() {
    if (!finished_) {
      context_.TryCancel();
      Finish();
    }
  }

  bool WriteBytes(const std::string& bytes) {
    grpc::Slice slice(bytes);
    grpc::ByteBuffer frame(&slice, 1);
    return stream_->Write(frame);
  }
  bool Write(const provenance::v1::NodeReport& report) {
    return WriteBytes(report.SerializeAsString());
  }

  bool WaitCommitted(const std::string& boot_id, uint64_t seq,
                     absl::Duration timeout = absl::Seconds(60)) {
    absl::MutexLock lock(&mu_);
    auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      auto it = committed_.find(boot_id);
      return read_done_ || (it != committed_.end() && it->second >= seq);
    };
    mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
    auto it = committed_.find(boot_id);
    return it != committed_.end() && it->second >= seq;
  }
  bool WaitRejections(size_t n, absl::Duration timeout = absl::Seconds(60)) {
    absl::MutexLock lock(&mu_);
    auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return read_done_ || rejections_.size() >= n;
    };
    mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
    return rejections_.size() >= n;
  }

  grpc::Status Finish() {
    finished_ = true;
    stream_->WritesDone();
    if (reader_.joinable()) reader_.join();
    return stream_->Finish();
  }

  uint64_t committed(const std::string& boot_id) {
    absl::MutexLock lock(&mu_);
    return committed_[boot_id];
  }
  std::vector<provenance::v1::Rejection> rejections() {
    absl::MutexLock lock(&mu_);
    return rejections_;
  }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  grpc::internal::RpcMethod method_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<grpc::ByteBuffer, grpc::ByteBuffer>> stream_;
  std::thread reader_;
  bool finished_ = false;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, uint64_t> committed_ ABSL_GUARDED_BY(mu_);
  std::vector<provenance::v1::Rejection> rejections_ ABSL_GUARDED_BY(mu_);
  bool read_done_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace prov::server::testing
