#include "server/ingest/frame_parser.h"

#include <string>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/unknown_field_set.h"
#include "gtest/gtest.h"
#include "tests/server/test_reports.h"

namespace prov::server {
namespace {

using provenance::v1::NodeReport;

// Unknown fields on a message (generated messages expose them only through reflection).
google::protobuf::UnknownFieldSet* Unknown(google::protobuf::Message* m) {
  return m->GetReflection()->MutableUnknownFields(m);
}

grpc::ByteBuffer Frame(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

NodeReport Report() { return testing::MakeReport("node-1", "boot-a", 42, absl::UnixEpoch()); }

TEST(FrameParserTest, ParsesAReportAndDropsUnknownFieldsAtEveryLevel) {
  NodeReport sent = Report();
  Unknown(&sent)->AddVarint(900, 1);
  Unknown(sent.mutable_node())->AddLengthDelimited(901, "x");
  Unknown(sent.mutable_accelerators(1))->AddLengthDelimited(902, "y");
  Unknown(sent.mutable_workloads(0)->mutable_attribution())->AddFixed32(903, 7);
  NodeReport got;
  FrameIdentity who;
  ASSERT_TRUE(ParseReportFrame(Frame(sent.SerializeAsString()), 1 << 20, &got, &who).ok());
  EXPECT_EQ(got.SerializeAsString(), Report().SerializeAsString()) << "only the known fields";
}

// Every message-typed field of report.proto, recursively, set and given an unknown field.
void FillEveryMessage(google::protobuf::Message* m, int depth) {
  const google::protobuf::Reflection* r = m->GetReflection();
  r->MutableUnknownFields(m)->AddLengthDelimited(1000 + depth, "unknown");
  const google::protobuf::Descriptor* d = m->GetDescriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* f = d->field(i);
    if (f->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE || f->is_map()) {
      continue;
    }
    FillEveryMessage(f->is_repeated() ? r->AddMessage(m, f) : r->MutableMessage(m, f), depth + 1);
  }
}

TEST(FrameParserTest, DropsUnknownFieldsInEverySubMessage) {
  NodeReport sent;
  FillEveryMessage(&sent, 0);
  const std::string bytes = sent.SerializeAsString();
  NodeReport expected;
  ASSERT_TRUE(expected.ParseFromString(bytes));
  expected.DiscardUnknownFields();
  NodeReport got;
  FrameIdentity who;
  ASSERT_TRUE(ParseReportFrame(Frame(bytes), 1 << 20, &got, &who).ok());
  EXPECT_EQ(got.SerializeAsString(), expected.SerializeAsString())
      << "a sub-message of report.proto keeps unknown fields: add it to DropUnknownFields";
  EXPECT_LT(got.ByteSizeLong(), bytes.size());
}

TEST(FrameParserTest, TooLargeFrameIsNotParsedButItsSeqIsRead) {
  const std::string bytes = Report().SerializeAsString();
  NodeReport got;
  FrameIdentity who;
  absl::Status s = ParseReportFrame(Frame(bytes), bytes.size() - 1, &got, &who);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "frame: " + std::to_string(bytes.size()) + " bytes is larger than the " +
                             std::to_string(bytes.size() - 1) +
                             "-byte limit for one report (--max-report-bytes)");
  EXPECT_EQ(who.seq, 42u);
  EXPECT_EQ(who.node_id, "node-1");
  EXPECT_EQ(who.boot_id, "boot-a");
  EXPECT_FALSE(got.has_node()) << "not parsed";
}

TEST(FrameParserTest, InvalidUtf8IsNamedAndTheIdentityRecovered) {
  NodeReport r = Report();
  r.mutable_workloads(0)->mutable_attribution()->set_account("acme");
  std::string bytes = r.SerializeAsString();
  bytes.replace(bytes.find("acme"), 2, "\xc3\x28");  // an invalid two-byte sequence
  NodeReport got;
  FrameIdentity who;
  absl::Status s = ParseReportFrame(Frame(bytes), 1 << 20, &got, &who);
  EXPECT_EQ(s.message(),
            "frame: " + std::to_string(bytes.size()) +
                " bytes are not a valid NodeReport (protobuf wire format, but a string field "
                "holds invalid UTF-8 or a nested message is malformed)");
  EXPECT_EQ(who.seq, 42u);
  EXPECT_EQ(who.node_id, "node-1");
}

TEST(FrameParserTest, GarbageAndTruncationNameTheByte) {
  NodeReport got;
  FrameIdentity who;
  EXPECT_EQ(ParseReportFrame(Frame("\x0f\x0f"), 1 << 20, &got, &who).message(),
            "frame: 2 bytes are not a NodeReport (not protobuf wire format at byte 0)");
  const std::string bytes = Report().SerializeAsString();
  absl::Status s = ParseReportFrame(Frame(bytes.substr(0, bytes.size() / 2)), 1 << 20, &got, &who);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message().substr(0, 7), "frame: ");
  EXPECT_EQ(who.seq, 42u) << "node and seq come first on the wire";
  // Ids longer than kMaxScannedIdBytes are not copied out.
  NodeReport long_id = Report();
  long_id.mutable_node()->set_node_id(std::string(300, 'n'));
  const std::string long_bytes = long_id.SerializeAsString();
  EXPECT_FALSE(ParseReportFrame(Frame(long_bytes), 10, &got, &who).ok());
  EXPECT_EQ(who.node_id, "");
  EXPECT_EQ(who.boot_id, "boot-a");
  EXPECT_EQ(who.seq, 42u);
}

TEST(FrameParserTest, EmptyFrameParsesAsAnEmptyReport) {
  NodeReport got = Report();
  FrameIdentity who;
  EXPECT_TRUE(ParseReportFrame(Frame(""), 1 << 20, &got, &who).ok());
  EXPECT_FALSE(got.has_node()) << "the validator then names what is missing";
}

}  // namespace
}  // namespace prov::server
