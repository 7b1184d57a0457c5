// ParseReportFrame: one AgentGateway.Report frame (the raw bytes gRPC received) into a NodeReport.
//
//   grpc::ByteBuffer frame;                 // from ServerBidiReactor<ByteBuffer, ByteBuffer>
//   FrameIdentity who;
//   absl::Status s = ParseReportFrame(frame, /*max_bytes=*/4 << 20, &report, &who);
//   if (!s.ok()) s.message();     // "frame: 17 bytes are not a NodeReport (...)"
//   who.seq; who.node_id;         // on failure: what could be read of it, for the Rejection
//
// Why raw frames: with a typed reactor gRPC turns a frame that does not deserialize into
// OnReadDone(false), exactly like the agent half-closing, so provd could not tell them apart (it
// ended the stream with OK and never read the good reports queued behind the bad one). Reading
// grpc::ByteBuffer and parsing here lets provd answer the bad frame with a Rejection and go on.
//
// On success the report has its unknown fields dropped (recursively): fields this provd does not
// know are never stored. On failure the message starts with "frame: " (the metric label) and says
// whether the frame was too large, not protobuf wire format at all, or well-formed wire format
// that is not a valid NodeReport (invalid UTF-8 in a string field, a malformed nested message).
// `identity` then holds the seq, node_id and boot_id read from the frame's wire format where they
// could be read (each id only when at most kMaxScannedIdBytes long), so the Rejection can name
// the seq and the node's record can be updated. Pure; safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "grpcpp/support/byte_buffer.h"
#include "provenance/v1/report.pb.h"

namespace prov::server {

struct FrameIdentity {
  uint64_t seq = 0;
  std::string node_id;
  std::string boot_id;
};

inline constexpr size_t kMaxScannedIdBytes = 256;

absl::Status ParseReportFrame(const grpc::ByteBuffer& frame, size_t max_bytes,
                              provenance::v1::NodeReport* report, FrameIdentity* identity);

}  // namespace prov::server
