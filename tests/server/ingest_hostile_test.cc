// provd's ingest stream under hostile input (issue 14), against a real in-process ProvdServer on
// port 0 with a real SQLite file: frames that do not parse, oversized frames, unknown fields,
// implausible seq jumps, and the node's record of its rejected reports.
#include <algorithm>
#include <functional>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/grpc/bearer_channel.h"
#include "common/grpc/streamed_parts.h"
#include "common/testing/fake_clock.h"
#include "google/protobuf/unknown_field_set.h"
#include "gtest/gtest.h"
#include "provenance/v1/analysis.grpc.pb.h"
#include "provenance/v1/audit.grpc.pb.h"
#include "server/provd_server.h"
#include "server/store/sqlite.h"
#include "tests/server/agent_stream.h"
#include "tests/server/temp_dir.h"
#include "tests/server/test_reports.h"

namespace prov::server {
namespace {

using provenance::v1::NodeReport;
using testing::AgentStream;
using testing::HttpGet;
using testing::MakeReport;
using testing::TempDir;

// Unknown fields on a message (generated messages expose them only through reflection).
google::protobuf::UnknownFieldSet* Unknown(google::protobuf::Message* m) {
  return m->GetReflection()->MutableUnknownFields(m);
}

class IngestHostileTest : public ::testing::Test {
 protected:
  void StartServer(const std::function<void(ProvdOptions&)>& tweak = nullptr) {
    ProvdOptions options;
    options.data_dir = dir_.path() + "/data";
    options.metrics_address = "127.0.0.1:0";
    options.clock = &clock_;
    if (tweak) tweak(options);
    auto server = ProvdServer::Start(std::move(options));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    channel_ = CreateBearerChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                   grpc::InsecureChannelCredentials(), server_->internal_token());
    audit_ = provenance::v1::AuditService::NewStub(channel_);
  }
  NodeReport Report(uint64_t seq, const std::string& node = "node-1") {
    return MakeReport(node, "b", seq, clock_.Now());
  }
  provenance::v1::GetNodeResponse GetNode(const std::string& node_id) {
    grpc::ClientContext ctx;
    provenance::v1::GetNodeRequest request;
    request.set_node_id(node_id);
    provenance::v1::GetNodeResponse response;
    grpc::Status status = audit_->GetNode(&ctx, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }
  // The writer records rejections on the node's row after its commit round, on its own thread:
  // poll the record (bounded), as an operator's `provctl node` would.
  provenance::v1::NodeSummary WaitRejected(const std::string& node_id, uint64_t n) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    provenance::v1::NodeSummary node;
    do {
      node = GetNode(node_id).node();
      if (node.reports_rejected() >= n) break;
      absl::SleepFor(absl::Milliseconds(5));
    } while (absl::Now() < deadline);
    return node;
  }
  std::string Metrics() { return HttpGet(server_->metrics_port(), "/metrics"); }

  TempDir dir_;
  FakeClock clock_{absl::FromUnixSeconds(1'700'000'000)};
  std::unique_ptr<ProvdServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<provenance::v1::AuditService::Stub> audit_;
};

// Before: the first bad frame ended the stream with status OK, nothing acked or counted, and the
// good reports behind it were never read.
TEST_F(IngestHostileTest, FramesThatDoNotParseAreRejectedAndTheReportsBehindThemStored) {
  StartServer();
  AgentStream stream(channel_);
  ASSERT_TRUE(stream.Write(Report(1)));
  // Random bytes: 0xff... is no protobuf tag.
  ASSERT_TRUE(stream.WriteBytes(std::string("\xff\xff\xff\xff\x0f\x01\x02", 7)));
  // A truncated report: the node and seq survive, the accelerators are cut off.
  const std::string whole = Report(2).SerializeAsString();
  ASSERT_TRUE(stream.WriteBytes(whole.substr(0, whole.size() - 20)));
  // Invalid UTF-8 in a string field (the hostname), otherwise a perfect report.
  std::string utf8 = Report(3).SerializeAsString();
  const size_t at = utf8.find("node-1.example");
  ASSERT_NE(at, std::string::npos);
  utf8.replace(at, 4, "\xff\xfe\xc0\x80");
  ASSERT_TRUE(stream.WriteBytes(utf8));
  ASSERT_TRUE(stream.Write(Report(4)));
  ASSERT_TRUE(stream.Write(Report(5)));

  ASSERT_TRUE(stream.WaitRejections(3));
  ASSERT_TRUE(stream.WaitCommitted("b", 5)) << "the stream goes on after frames that do not parse";
  grpc::Status status = stream.Finish();
  EXPECT_TRUE(status.ok()) << status.error_message();
  auto rejections = stream.rejections();
  ASSERT_EQ(rejections.size(), 3u);
  for (const auto& r : rejections) EXPECT_EQ(r.code(), 3) << r.message();
  EXPECT_EQ(rejections[0].seq(), 0u) << "random bytes carry no seq";
  EXPECT_EQ(rejections[0].message(),
            "frame: 7 bytes are not a NodeReport (not protobuf wire format at byte 0)");
  EXPECT_EQ(rejections[1].seq(), 2u) << "the seq is read from what parses of the frame";
  EXPECT_TRUE(absl::StartsWith(rejections[1].message(), "frame: ")) << rejections[1].message();
  EXPECT_EQ(rejections[2].seq(), 3u);
  EXPECT_EQ(rejections[2].message(),
            absl::StrCat("frame: ", utf8.size(),
                         " bytes are not a valid NodeReport (protobuf wire format, but a string "
                         "field holds invalid UTF-8 or a nested message is malformed)"));

  auto node = WaitRejected("node-1", 3);
  EXPECT_EQ(node.reports_stored(), 3u) << "1, 4 and 5";
  EXPECT_EQ(node.last_seq(), 5u);
  EXPECT_EQ(node.reports_rejected(), 3u);
  EXPECT_TRUE(absl::StartsWith(node.last_rejection(), "frame: ")) << node.last_rejection();
  EXPECT_TRUE(node.has_last_rejected());
  EXPECT_FALSE(node.rejecting()) << "reports were stored after the rejections";
  const std::string metrics = Metrics();
  EXPECT_TRUE(absl::StrContains(metrics, "prov_reports_rejected_total{field=\"frame\"} 3"))
      << metrics;
  EXPECT_TRUE(absl::StrContains(metrics, "prov_reports_ingested_total 3")) << metrics;
}

TEST_F(IngestHostileTest, FrameLargerThanTheLimitIsRejectedUnparsed) {
  StartServer([](ProvdOptions& o) { o.max_report_bytes = 64 << 10; });
  AgentStream stream(channel_);
  NodeReport big = Report(1);
  Unknown(big.mutable_workloads(0))->AddLengthDelimited(999, std::string(100000, 'u'));
  ASSERT_TRUE(stream.Write(big));
  ASSERT_TRUE(stream.Write(Report(2)));
  ASSERT_TRUE(stream.WaitCommitted("b", 2));
  auto rejections = stream.rejections();
  ASSERT_EQ(rejections.size(), 1u);
  EXPECT_EQ(rejections[0].seq(), 1u);
  EXPECT_EQ(rejections[0].message(),
            absl::StrCat("frame: ", big.ByteSizeLong(),
                         " bytes is larger than the 65536-byte limit for one report "
                         "(--max-report-bytes)"));
  EXPECT_TRUE(stream.Finish().ok());
  EXPECT_EQ(GetNode("node-1").node().reports_stored(), 1u);
}

// Before: 5 accelerators with 50 MB of unknown data added 301 MB to the database.
TEST_F(IngestHostileTest, UnknownFieldsAreDroppedBeforeStorage) {
  StartServer();
  AgentStream stream(channel_);
  NodeReport r = Report(1);
  const std::string junk(200000, 'u');
  Unknown(r.mutable_accelerators(0))->AddLengthDelimited(999, junk);
  Unknown(r.mutable_workloads(0))->AddLengthDelimited(998, junk);
  Unknown(r.mutable_node())->AddLengthDelimited(997, junk);
  ASSERT_TRUE(stream.Write(r));
  ASSERT_TRUE(stream.WaitCommitted("b", 1));
  EXPECT_TRUE(stream.Finish().ok());
  auto node = GetNode("node-1");
  ASSERT_EQ(node.accelerators_size(), 2);
  const auto& accelerator = node.accelerators(0);
  EXPECT_TRUE(accelerator.GetReflection()->GetUnknownFields(accelerator).empty());
  EXPECT_LT(node.accelerators(0).ByteSizeLong(), 1000u);
  server_->Shutdown();
  auto db = SqliteDb::Open(dir_.path() + "/data/provd.db", SqliteDb::kReadOnly);
  ASSERT_TRUE(db.ok()) << db.status();
  auto st = (*db)->Prepare(
      "SELECT (SELECT SUM(length(accelerator)) FROM accelerators) + "
      "(SELECT SUM(length(workload)) FROM workload_details) + "
      "(SELECT SUM(size_bytes) FROM reports)");
  ASSERT_TRUE(st.ok()) << st.status();
  ASSERT_TRUE(*(*st)->Step());
  EXPECT_LT((*st)->ColumnInt64(0), 5000) << "600 KB of unknown fields must not reach the database";
}

// Before: seq 2^62 on the node's boot made provd ack the node's next genuine reports (3, 4)
// as duplicates without storing them.
TEST_F(IngestHostileTest, ImplausibleSeqJumpIsRefusedAndNothingUnstoredIsAcked) {
  StartServer([](ProvdOptions& o) { o.max_seq_jump = 1000; });
  AgentStream stream(channel_);
  ASSERT_TRUE(stream.Write(Report(1)));
  ASSERT_TRUE(stream.Write(Report(2)));
  ASSERT_TRUE(stream.WaitCommitted("b", 2));
  ASSERT_TRUE(stream.Write(Report(uint64_t{1} << 62)));
  ASSERT_TRUE(stream.Write(Report(1003)));  // 1001 ahead of 2: also refused
  ASSERT_TRUE(stream.Write(Report(3)));
  ASSERT_TRUE(stream.Write(Report(1002)));  // exactly 999 ahead of 3: plausible
  ASSERT_TRUE(stream.WaitCommitted("b", 1002));
  ASSERT_TRUE(stream.WaitRejections(2));
  EXPECT_TRUE(stream.Finish().ok());
  EXPECT_EQ(stream.committed("b"), 1002u) << "never acked past what was stored";
  auto rejections = stream.rejections();
  ASSERT_EQ(rejections.size(), 2u);
  std::sort(rejections.begin(), rejections.end(),
            [](const auto& a, const auto& b) { return a.seq() < b.seq(); });
  EXPECT_EQ(rejections[0].seq(), 1003u);
  EXPECT_EQ(rejections[1].seq(), uint64_t{1} << 62);
  EXPECT_EQ(rejections[1].code(), 3);
  EXPECT_EQ(rejections[1].message(),
            "seq: 4611686018427387904 is 4611686018427387902 ahead of the highest stored seq 2 "
            "of this boot_id (at most 1000 ahead is plausible; --max-seq-jump)");
  auto node = WaitRejected("node-1", 2);
  EXPECT_EQ(node.reports_stored(), 4u) << "1, 2, 3 and 1002";
  EXPECT_EQ(node.last_seq(), 1002u);
  EXPECT_EQ(node.reports_rejected(), 2u);
  EXPECT_TRUE(absl::StrContains(Metrics(), "prov_reports_rejected_total{field=\"seq\"} 2"));
}

// A node whose stream is open but whose reports are all refused shows as REJECTING: metric,
// the node's record, until a report is stored again.
TEST_F(IngestHostileTest, NodeSendingOnlyRejectedReportsIsVisible) {
  StartServer();
  AgentStream stream(channel_);
  ASSERT_TRUE(stream.Write(Report(1)));
  ASSERT_TRUE(stream.WaitCommitted("b", 1));
  clock_.Advance(absl::Seconds(10));
  const absl::Time rejected_at = clock_.Now();
  NodeReport bad = Report(2);
  bad.mutable_accelerators(1)->set_pci_address("zz");
  ASSERT_TRUE(stream.Write(bad));
  ASSERT_TRUE(stream.WriteBytes("\xff\xff"));
  auto node = WaitRejected("node-1", 2);
  EXPECT_EQ(node.reports_rejected(), 2u);
  EXPECT_EQ(node.last_rejection(),
            "frame: 2 bytes are not a NodeReport (not protobuf wire format at byte 0)");
  EXPECT_EQ(node.last_rejected().seconds(), absl::ToUnixSeconds(rejected_at));
  ASSERT_TRUE(node.has_rejecting_since());
  EXPECT_EQ(node.rejecting_since().seconds(), absl::ToUnixSeconds(rejected_at));
  EXPECT_TRUE(node.rejecting());
  EXPECT_TRUE(absl::StrContains(Metrics(), "prov_nodes_rejecting 1")) << Metrics();

  clock_.Advance(absl::Seconds(10));
  ASSERT_TRUE(stream.Write(Report(3)));
  ASSERT_TRUE(stream.WaitCommitted("b", 3));
  EXPECT_TRUE(stream.Finish().ok());
  node = GetNode("node-1").node();
  EXPECT_FALSE(node.has_rejecting_since()) << "a stored report ends the spell";
  EXPECT_FALSE(node.rejecting());
  EXPECT_EQ(node.reports_rejected(), 2u);
  EXPECT_TRUE(absl::StrContains(Metrics(), "prov_nodes_rejecting 0"));
}

// Issue 14: a node whose every report is refused for the policy's node_health.rejecting_after
// (10 min by default, provd's clock) while it keeps sending raises node_reports_rejected; a stored
// report resolves it with a note; a new spell reopens it.
TEST_F(IngestHostileTest, NodeRejectingForLongRaisesAFlagThatResolvesWhenReportsAreStored) {
  StartServer();
  auto analysis = provenance::v1::AnalysisService::NewStub(channel_);
  auto list = [&] {
    server_->FlushAnalysis();
    grpc::ClientContext ctx;
    provenance::v1::ListFlagsRequest request;
    request.set_rule("node_reports_rejected");
    provenance::v1::ListFlagsResponse response;
    EXPECT_TRUE(analysis->ListFlags(&ctx, request, &response).ok());
    return std::vector<provenance::v1::Flag>(response.flags().begin(), response.flags().end());
  };
  // The writer hands its rejection rounds to the engine after recording them: poll (bounded) until
  // `done` holds, or return what is there.
  auto flags = [&](const std::function<bool(const std::vector<provenance::v1::Flag>&)>& done) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    std::vector<provenance::v1::Flag> got = list();
    while (!done(got) && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(10));
      got = list();
    }
    return got;
  };
  auto status_is = [](provenance::v1::FlagStatus st) {
    return [st](const std::vector<provenance::v1::Flag>& f) {
      return f.size() == 1 && f[0].status() == st;
    };
  };
  AgentStream stream(channel_);
  ASSERT_TRUE(stream.Write(Report(1)));
  ASSERT_TRUE(stream.WaitCommitted("b", 1));
  const absl::Time since = clock_.Now() + absl::Seconds(30);
  uint64_t rejected = 0;
  auto refuse_for = [&](absl::Duration d) {
    for (absl::Duration t; t <= d; t += absl::Minutes(1)) {
      if (t > absl::ZeroDuration()) clock_.Advance(absl::Minutes(1));
      ASSERT_TRUE(stream.WriteBytes("\xff\xff"));
      WaitRejected("node-1", ++rejected);
    }
  };
  clock_.Advance(absl::Seconds(30));
  refuse_for(absl::Minutes(9));
  absl::SleepFor(absl::Milliseconds(200));  // what the writer still had in hand
  EXPECT_TRUE(list().empty()) << "9 minutes of refusals: not yet (rejecting_after is 10m)";
  refuse_for(absl::Minutes(1));
  std::vector<provenance::v1::Flag> raised = flags(status_is(provenance::v1::FLAG_STATUS_OPEN));
  ASSERT_EQ(raised.size(), 1u);
  EXPECT_EQ(raised[0].subject(), "node:node-1");
  EXPECT_EQ(raised[0].severity(), provenance::v1::SEVERITY_HIGH);
  EXPECT_EQ(raised[0].status(), provenance::v1::FLAG_STATUS_OPEN);
  EXPECT_EQ(raised[0].first_time().seconds(), absl::ToUnixSeconds(since));
  EXPECT_TRUE(absl::StrContains(raised[0].summary(), "every report refused for 10 min"))
      << raised[0].summary();
  ASSERT_GE(raised[0].evidence_size(), 1);
  EXPECT_TRUE(absl::StrContains(raised[0].evidence(0).sentence(), "none of its compute"))
      << raised[0].evidence(0).sentence();

  clock_.Advance(absl::Minutes(1));
  ASSERT_TRUE(stream.Write(Report(3)));
  ASSERT_TRUE(stream.WaitCommitted("b", 3));
  std::vector<provenance::v1::Flag> after = flags(status_is(provenance::v1::FLAG_STATUS_RESOLVED));
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].status(), provenance::v1::FLAG_STATUS_RESOLVED) << after[0].summary();
  EXPECT_EQ(after[0].evidence(after[0].evidence_size() - 1).kind(), "recovered");

  // A second spell reopens the same flag, keeping the first spell in the evidence.
  clock_.Advance(absl::Minutes(1));
  refuse_for(absl::Minutes(12));
  std::vector<provenance::v1::Flag> again = flags(status_is(provenance::v1::FLAG_STATUS_OPEN));
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].flag_id(), raised[0].flag_id());
  EXPECT_EQ(again[0].status(), provenance::v1::FLAG_STATUS_OPEN);
  int spells = 0;
  for (const auto& e : again[0].evidence()) spells += e.kind() == "rejections";
  EXPECT_EQ(spells, 2);
  EXPECT_TRUE(stream.Finish().ok());
}

// Issue 14: the transport's per-message limit is the report limit plus a margin (5 MiB by default),
// not the 65 MiB an import used to need; imports larger than that come as streamed parts.
TEST_F(IngestHostileTest, MessagesAreLimitedToReportSizeAndLargeImportsStream) {
  StartServer();
  std::string csv =
      "account_id,legal_entity,country_of_incorporation,beneficial_owners,addresses,"
      "payment_fingerprint,email_domains,source_ips,parent_account,is_reseller\n";
  for (int i = 0; csv.size() < (6u << 20); ++i) {
    absl::StrAppend(&csv, "acct-", i, ",Company Number ", i,
                    " Limited,GB,Owner Person (GB),\"1 Long Street, Bristol\",pf:", i,
                    ",example.com,203.0.113.10,,no\n");
  }
  auto identity = provenance::v1::IdentityService::NewStub(channel_);
  provenance::v1::ImportAccountsRequest request;
  request.set_source_name("big.csv");
  request.set_content(csv);
  {
    grpc::ClientContext ctx;
    provenance::v1::ImportAccountsResponse response;
    grpc::Status s = identity->ImportAccounts(&ctx, request, &response);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  }
  grpc::ClientContext ctx;
  provenance::v1::ImportAccountsResponse response;
  grpc::Status s = SendInParts(identity->ImportAccountsStream(&ctx, &response), request);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_GT(response.accepted(), 40000u);
  EXPECT_EQ(response.errors_size(), 0);
}

TEST(IngestHostileStartTest, BadLimitsNameTheOption) {
  TempDir dir;
  ProvdOptions options;
  options.data_dir = dir.path();
  options.max_report_bytes = 10;
  EXPECT_EQ(ProvdServer::Start(options).status().message(),
            "max_report_bytes: must be in [1024, 67108864]");
  options.max_report_bytes = 4 << 20;
  options.max_seq_jump = 0;
  EXPECT_EQ(ProvdServer::Start(options).status().message(), "max_seq_jump: must be >= 1");
  options.max_seq_jump = 1;
  options.queue_max_bytes = 0;
  EXPECT_EQ(ProvdServer::Start(options).status().message(), "queue_max_bytes: must be >= 1");
}

}  // namespace
}  // namespace prov::server
