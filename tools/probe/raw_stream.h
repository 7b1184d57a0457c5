// RawReportStream: one AgentGateway.Report stream that sends frames as raw bytes, so a probe can
// send what no well-behaved client would (random bytes, truncated messages, invalid UTF-8 in a
// string field, unknown fields) next to genuine reports, and see exactly how provd answers.
//
//   RawReportStream stream(channel, absl::Seconds(20));
//   stream.Send(report.SerializeAsString());
//   stream.Send("\xff\x00garbage");
//   RawStreamResult r = stream.Close();   // half-close, read every ack, then the final status
//   r.status.error_code();                // grpc::StatusCode::INVALID_ARGUMENT, OK, ...
//   r.committed_seq["boot-a"];            // highest committed seq acked per boot id
//
// Writes and reads are sequential on one completion queue: all frames are written first (a write
// that fails means provd ended the stream), then acks are read until the stream ends. Acks are a
// few bytes each, so flow control never blocks provd's acks while frames are being written.
//
// Thread-safety: one owner thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "provenance/v1/agent_gateway.pb.h"

namespace prov::probe {

struct RawStreamResult {
  grpc::Status status;
  std::map<std::string, uint64_t> committed_seq;      // boot id -> highest committed seq
  std::vector<provenance::v1::Rejection> rejections;  // every rejection in every ack
  int frames_written = 0;                             // frames provd's stream took
};

class RawReportStream {
 public:
  RawReportStream(const std::shared_ptr<grpc::Channel>& channel, absl::Duration deadline);
  ~RawReportStream();
  RawReportStream(const RawReportStream&) = delete;
  RawReportStream& operator=(const RawReportStream&) = delete;

  // False once a write failed (provd ended the stream); later sends are skipped.
  bool Send(const std::string& frame);
  RawStreamResult Close();

 private:
  bool Wait();  // next completion on cq_; false when the operation failed

  grpc::GenericStub stub_;
  grpc::ClientContext context_;
  grpc::CompletionQueue cq_;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call_;
  bool broken_ = false;
  bool closed_ = false;
  int written_ = 0;
};

}  // namespace prov::probe
