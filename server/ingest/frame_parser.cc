#include "server/ingest/frame_parser.h"

#include <climits>

#include "absl/strings/str_format.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/stubs/logging.h"
#include "google/protobuf/unknown_field_set.h"
#include "google/protobuf/wire_format_lite.h"
#include "grpcpp/support/proto_buffer_reader.h"

namespace prov::server {
namespace {

using google::protobuf::internal::WireFormatLite;
using google::protobuf::io::CodedInputStream;

// NodeReport and NodeIdentity field numbers read by the scan (report.proto).
constexpr int kReportNode = 1;
constexpr int kReportSeq = 2;
constexpr int kNodeId = 1;
constexpr int kNodeBootId = 6;

bool ReadId(CodedInputStream& in, std::string* out) {
  uint32_t length = 0;
  if (!in.ReadVarint32(&length)) return false;
  if (length > kMaxScannedIdBytes) return in.Skip(static_cast<int>(length));
  return in.ReadString(out, static_cast<int>(length));
}

bool ScanNode(CodedInputStream& in, FrameIdentity* identity) {
  uint32_t length = 0;
  if (!in.ReadVarint32(&length) || length > INT_MAX) return false;
  const auto limit = in.PushLimit(static_cast<int>(length));
  while (in.BytesUntilLimit() > 0) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) return false;
    const int field = WireFormatLite::GetTagFieldNumber(tag);
    const bool delimited =
        WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_LENGTH_DELIMITED;
    if (delimited && field == kNodeId) {
      if (!ReadId(in, &identity->node_id)) return false;
    } else if (delimited && field == kNodeBootId) {
      if (!ReadId(in, &identity->boot_id)) return false;
    } else if (!WireFormatLite::SkipField(&in, tag)) {
      return false;
    }
  }
  in.PopLimit(limit);
  return true;
}

// Reads what it can of seq / node_id / boot_id without allocating more than the ids. Returns
// false, with *bad_at the offset, when the bytes are not protobuf wire format.
bool ScanFrame(const grpc::ByteBuffer& frame, size_t size, FrameIdentity* identity, int* bad_at) {
  grpc::ByteBuffer copy(frame);  // shares the slices (refcounted), no byte copy
  grpc::ProtoBufferReader reader(&copy);
  CodedInputStream in(&reader);
  in.SetTotalBytesLimit(INT_MAX);
  while (static_cast<size_t>(in.CurrentPosition()) < size) {
    *bad_at = in.CurrentPosition();
    const uint32_t tag = in.ReadTag();
    if (tag == 0) return false;
    const int field = WireFormatLite::GetTagFieldNumber(tag);
    const auto type = WireFormatLite::GetTagWireType(tag);
    bool ok;
    if (field == kReportSeq && type == WireFormatLite::WIRETYPE_VARINT) {
      ok = in.ReadVarint64(&identity->seq);
    } else if (field == kReportNode && type == WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      ok = ScanNode(in, identity);
    } else {
      ok = WireFormatLite::SkipField(&in, tag);
    }
    if (!ok) return false;
  }
  return true;
}

void Drop(google::protobuf::Message& m) {
  const google::protobuf::Reflection* r = m.GetReflection();
  if (!r->GetUnknownFields(m).empty()) r->MutableUnknownFields(&m)->Clear();
}

// Message::DiscardUnknownFields() walks every field through reflection: it tripled the cost of
// parsing a report. This visits the NodeReport's known sub-messages directly (map entries keep no
// unknown fields). FrameParserTest.DropsUnknownFieldsInEverySubMessage fills every message field
// of report.proto through reflection and compares with DiscardUnknownFields(), so a sub-message
// added to report.proto and missed here fails that test.
void DropUnknownFields(provenance::v1::NodeReport& report) {
  Drop(report);
  if (report.has_node()) {
    Drop(*report.mutable_node());
    if (report.node().has_hardware()) Drop(*report.mutable_node()->mutable_hardware());
  }
  if (report.has_collected_at()) Drop(*report.mutable_collected_at());
  for (auto& a : *report.mutable_accelerators()) Drop(a);
  for (auto& s : *report.mutable_samples()) Drop(s);
  for (auto& w : *report.mutable_workloads()) {
    Drop(w);
    if (w.has_attribution()) Drop(*w.mutable_attribution());
    if (w.has_distributed()) Drop(*w.mutable_distributed());
    if (w.has_started_at()) Drop(*w.mutable_started_at());
    for (auto& p : *w.mutable_peers()) Drop(p);
  }
  if (report.has_health()) {
    Drop(*report.mutable_health());
    for (auto& e : *report.mutable_health()->mutable_collector_errors()) Drop(e);
    if (report.health().has_location_responder()) {
      Drop(*report.mutable_health()->mutable_location_responder());
    }
  }
}

}  // namespace

absl::Status ParseReportFrame(const grpc::ByteBuffer& frame, size_t max_bytes,
                              provenance::v1::NodeReport* report, FrameIdentity* identity) {
  *identity = FrameIdentity();
  const size_t size = frame.Length();
  if (size > max_bytes) {
    int bad_at = 0;
    ScanFrame(frame, size, identity, &bad_at);
    return absl::InvalidArgumentError(absl::StrFormat(
        "frame: %d bytes is larger than the %d-byte limit for one report (--max-report-bytes)",
        size, max_bytes));
  }
  bool parsed;
  {
    // protobuf logs every invalid UTF-8 string at ERROR; an agent could flood provd's log with
    // it. The failure is reported (Rejection, metric, node record) instead.
    google::protobuf::LogSilencer quiet;
    grpc::ByteBuffer copy(frame);
    grpc::ProtoBufferReader reader(&copy);
    parsed = report->ParseFromZeroCopyStream(&reader);
  }
  if (parsed) {
    DropUnknownFields(*report);
    return absl::OkStatus();
  }
  int bad_at = 0;
  if (!ScanFrame(frame, size, identity, &bad_at)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "frame: %d bytes are not a NodeReport (not protobuf wire format at byte %d)", size,
        bad_at));
  }
  return absl::InvalidArgumentError(absl::StrFormat(
      "frame: %d bytes are not a valid NodeReport (protobuf wire format, but a string field "
      "holds invalid UTF-8 or a nested message is malformed)",
      size));
}

}  // namespace prov::server
