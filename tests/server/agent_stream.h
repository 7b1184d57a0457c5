// Test clients for an in-process provd: an AgentGateway.Report stream with a reader thread, and a
// minimal HTTP GET for /metrics.
//
//   AgentStream stream(channel);
//   stream.Write(report);
//   stream.WriteBytes("\xff\xff\xff");   // a raw frame that need not be a NodeReport (hostile
//   input) ASSERT_TRUE(stream.WaitCommitted("boot-a", 5));   // polls acks with a deadline, no
//   sleeps grpc::Status status = stream.Finish();
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

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

class AgentStream {
 public:
  // Frames travel as raw bytes (ByteBuffer), so a test can also send what is not a NodeReport.
  explicit AgentStream(const std::shared_ptr<grpc::Channel>& channel)
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
          for (const auto& s : slices) {
            bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
          }
        }
        provenance::v1::ReportAck ack;
        ack.ParseFromString(bytes);
        absl::MutexLock lock(&mu_);
        uint64_t& seq = committed_[ack.boot_id()];
        seq = std::max(seq, ack.committed_seq());
        for (const auto& r : ack.rejected()) rejections_.push_back(r);
        ++acks_;
      }
      absl::MutexLock lock(&mu_);
      read_done_ = true;
    });
  }
  ~AgentStream() {
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

  // Waits until an ack says seq (or more) of boot_id is committed, or the stream ends.
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

  // Half-closes, waits for the server to end the stream, returns its status.
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
  int acks() {
    absl::MutexLock lock(&mu_);
    return acks_;
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
  int acks_ ABSL_GUARDED_BY(mu_) = 0;
  bool read_done_ ABSL_GUARDED_BY(mu_) = false;
};

// GET http://127.0.0.1:<port><path> with HTTP/1.0; returns the body ("" on failure).
inline std::string HttpGet(int port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (send(fd, request.data(), request.size(), 0) == static_cast<ssize_t>(request.size())) {
      char buf[4096];
      ssize_t n;
      while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) response.append(buf, n);
    }
  }
  close(fd);
  size_t body = response.find("\r\n\r\n");
  return body == std::string::npos ? "" : response.substr(body + 4);
}

}  // namespace prov::server::testing
