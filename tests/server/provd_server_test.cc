// In-process integration tests: a real ProvdServer on port 0, a real SQLite file in a temp dir,
// plain gRPC clients, and /metrics over HTTP.
#include "server/provd_server.h"

#include <iostream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/fs.h"
#include "common/grpc/bearer_channel.h"
#include "common/testing/fake_clock.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "provenance/v1/audit.grpc.pb.h"
#include "provenance/v1/identity.pb.h"
#include "server/store/sqlite.h"
#include "server/store/store.h"
#include "server/store/store_reader.h"
#include "tests/server/agent_stream.h"
#include "tests/server/temp_dir.h"
#include "tests/server/test_reports.h"
#include "tests/server/unary_bytes.h"

namespace prov::server {
namespace {

using ::prov::testing::UnaryBytes;

using provenance::v1::NodeReport;
using testing::AgentStream;
using testing::HttpGet;
using testing::MakeReport;
using testing::TempDir;

class ProvdServerTest : public ::testing::Test {
 protected:
  // Metrics only where a test reads them: civetweb takes ~2 s to stop.
  void StartServer(size_t queue_capacity = 65536, size_t max_batch = 4096, bool metrics = true,
                   bool reflection = false) {
    ProvdOptions options;
    options.grpc_reflection = reflection;
    options.data_dir = dir_.path() + "/data";
    if (metrics) options.metrics_address = "127.0.0.1:0";
    options.clock = &clock_;
    options.queue_capacity = queue_capacity;
    options.max_batch = max_batch;
    auto server = ProvdServer::Start(std::move(options));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    channel_ = CreateBearerChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                   grpc::InsecureChannelCredentials(), server_->internal_token());
    audit_ = provenance::v1::AuditService::NewStub(channel_);
  }
  NodeReport Report(const std::string& node, const std::string& boot, uint64_t seq) {
    return MakeReport(node, boot, seq, clock_.Now());
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
  std::string Metrics() { return HttpGet(server_->metrics_port(), "/metrics"); }

  TempDir dir_;
  FakeClock clock_{absl::FromUnixSeconds(1'700'000'000)};
  std::unique_ptr<ProvdServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<provenance::v1::AuditService::Stub> audit_;
};

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST_F(ProvdServerTest, CommitsAndAcksWithCommittedSeq) {
  StartServer(65536, 4096, /*metrics=*/false);
  ASSERT_GT(server_->port(), 0);
  EXPECT_EQ(server_->metrics_port(), 0) << "no metrics address, no endpoint";
  AgentStream stream(channel_);
  for (uint64_t seq = 1; seq <= 5; ++seq)
    ASSERT_TRUE(stream.Write(Report("node-1", "boot-a", seq)));
  ASSERT_TRUE(stream.WaitCommitted("boot-a", 5));
  EXPECT_LE(stream.acks(), 5) << "acks are cumulative, at most one per batch";
  grpc::Status status = stream.Finish();
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(stream.committed("boot-a"), 5u);
  auto node = GetNode("node-1");
  EXPECT_EQ(node.node().reports_stored(), 5u);
  EXPECT_EQ(node.node().last_seq(), 5u);
  EXPECT_EQ(node.accelerators_size(), 2);
}

// Issue 14 through the real stream: the ledger credits the time provd's clock saw pass, not the
// claimed interval; a silence of ten minutes is an evidence gap shown by AuditService and counted.
TEST_F(ProvdServerTest, LedgerCreditsElapsedTimeAndShowsEvidenceGaps) {
  StartServer();
  AgentStream inflate(channel_);
  for (uint64_t seq = 1; seq <= 120; ++seq) {
    NodeReport r = Report("node-inflate", "b", seq);
    r.set_interval_seconds(3600);
    ASSERT_TRUE(inflate.Write(r));
  }
  ASSERT_TRUE(inflate.WaitCommitted("b", 120));
  AgentStream gap(channel_);
  ASSERT_TRUE(gap.Write(Report("node-gap", "b", 1)));
  ASSERT_TRUE(gap.WaitCommitted("b", 1));
  clock_.Advance(absl::Minutes(10));
  ASSERT_TRUE(gap.Write(Report("node-gap", "b", 2)));
  ASSERT_TRUE(gap.WaitCommitted("b", 2));

  {
    grpc::ClientContext ctx;
    provenance::v1::ListWorkloadsRequest request;
    request.set_node_id("node-inflate");
    provenance::v1::ListWorkloadsResponse workloads;
    ASSERT_TRUE(audit_->ListWorkloads(&ctx, request, &workloads).ok());
    ASSERT_EQ(workloads.workloads_size(), 1);
    // The first report's claimed hour on 2 accelerators; the other 119 claims got no time.
    EXPECT_DOUBLE_EQ(workloads.workloads(0).accelerator_hours(), 2.0);
  }
  auto node = GetNode("node-gap");
  EXPECT_EQ(node.node().evidence_gaps(), 1u);
  EXPECT_DOUBLE_EQ(node.node().evidence_gap_seconds(), 590);
  ASSERT_EQ(node.evidence_gaps_size(), 1);
  EXPECT_EQ(node.evidence_gaps(0).seq(), 2u);
  EXPECT_EQ(node.evidence_gaps(0).claimed_interval_seconds(), 10u);
  EXPECT_EQ(node.evidence_gaps(0).end().seconds() - node.evidence_gaps(0).start().seconds(), 600);
  EXPECT_DOUBLE_EQ(node.evidence_gaps(0).accelerator_hours(), 2 * 590 / 3600.0);
  {
    grpc::ClientContext ctx;
    provenance::v1::ListWorkloadsRequest request;
    request.set_node_id("node-gap");
    provenance::v1::ListWorkloadsResponse workloads;
    ASSERT_TRUE(audit_->ListWorkloads(&ctx, request, &workloads).ok());
    ASSERT_EQ(workloads.workloads_size(), 1);
    EXPECT_DOUBLE_EQ(workloads.workloads(0).accelerator_hours(), 2 * 610 / 3600.0);
    EXPECT_DOUBLE_EQ(workloads.workloads(0).gap_accelerator_hours(), 2 * 590 / 3600.0);
    EXPECT_TRUE(absl::StrContains(workloads.workloads(0).flop().method(), "evidence_gap"));
  }
  const std::string metrics = Metrics();
  EXPECT_TRUE(Contains(metrics, "prov_ledger_claimed_seconds_total 432020")) << metrics;
  EXPECT_TRUE(Contains(metrics, "prov_ledger_credited_seconds_total 4210")) << metrics;
  EXPECT_TRUE(Contains(metrics, "prov_ledger_evidence_gaps_total 1")) << metrics;
  EXPECT_TRUE(Contains(metrics, "prov_ledger_evidence_gap_seconds_total 590")) << metrics;
}

TEST_F(ProvdServerTest, ResentReportIsStoredOnce) {
  StartServer();
  {
    AgentStream first(channel_);
    for (uint64_t seq = 1; seq <= 3; ++seq) ASSERT_TRUE(first.Write(Report("node-1", "b", seq)));
    ASSERT_TRUE(first.WaitCommitted("b", 3));
    EXPECT_TRUE(first.Finish().ok());
  }
  // The agent reconnects without having seen the acks and resends everything, then seq 4.
  AgentStream second(channel_);
  for (uint64_t seq = 1; seq <= 4; ++seq) ASSERT_TRUE(second.Write(Report("node-1", "b", seq)));
  ASSERT_TRUE(second.WaitCommitted("b", 4));
  EXPECT_TRUE(second.Finish().ok());
  EXPECT_EQ(GetNode("node-1").node().reports_stored(), 4u);
  std::string metrics = Metrics();
  EXPECT_TRUE(Contains(metrics, "prov_reports_duplicate_total 3")) << metrics;
  EXPECT_TRUE(Contains(metrics, "prov_reports_ingested_total 4")) << metrics;
  // provd's own log records (server/metrics/log_collector.h), from the process's logger.
  EXPECT_TRUE(Contains(metrics, "prov_log_records_total{level=\"error\"}")) << metrics;
  EXPECT_TRUE(Contains(metrics, "prov_log_records_suppressed_total")) << metrics;
}

TEST_F(ProvdServerTest, InvalidReportIsRejectedInStreamOthersUnaffected) {
  StartServer();
  AgentStream bad(channel_);
  AgentStream good(channel_);
  ASSERT_TRUE(bad.Write(Report("node-bad", "b", 1)));
  ASSERT_TRUE(good.Write(Report("node-good", "g", 1)));
  NodeReport invalid = Report("node-bad", "b", 2);
  invalid.mutable_accelerators(1)->set_pci_address("zz");
  ASSERT_TRUE(bad.Write(invalid));
  ASSERT_TRUE(good.Write(Report("node-good", "g", 2)));
  ASSERT_TRUE(bad.Write(Report("node-bad", "b", 3)));
  ASSERT_TRUE(good.Write(Report("node-good", "g", 3)));

  ASSERT_TRUE(bad.WaitRejections(1));
  auto rejections = bad.rejections();
  ASSERT_EQ(rejections.size(), 1u);
  EXPECT_EQ(rejections[0].seq(), 2u);
  EXPECT_EQ(rejections[0].code(), 3);
  EXPECT_EQ(rejections[0].message(),
            "accelerators[1].pci_address: \"zz\" is not a PCI address (DDDD:BB:DD.F)");
  ASSERT_TRUE(bad.WaitCommitted("b", 3)) << "the stream goes on after a rejection";
  ASSERT_TRUE(good.WaitCommitted("g", 3));
  EXPECT_TRUE(bad.Finish().ok());
  EXPECT_TRUE(good.Finish().ok());
  EXPECT_TRUE(good.rejections().empty());
  EXPECT_EQ(GetNode("node-good").node().reports_stored(), 3u);
  EXPECT_EQ(GetNode("node-bad").node().reports_stored(), 2u);
  EXPECT_TRUE(
      Contains(Metrics(), "prov_reports_rejected_total{field=\"accelerators[].pci_address\"} 1"));
}

TEST_F(ProvdServerTest, NodeIdChangeMidStreamFinishesWithInvalidArgument) {
  StartServer(65536, 4096, /*metrics=*/false);
  AgentStream stream(channel_);
  ASSERT_TRUE(stream.Write(Report("node-1", "b", 1)));
  ASSERT_TRUE(stream.WaitCommitted("b", 1));
  stream.Write(Report("node-2", "b", 2));  // may fail once the server has finished the stream
  grpc::Status status = stream.Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(Contains(status.error_message(), "node.node_id: changed mid-stream"))
      << status.error_message();
  grpc::ClientContext ctx;
  provenance::v1::GetNodeRequest request;
  request.set_node_id("node-2");
  provenance::v1::GetNodeResponse response;
  EXPECT_EQ(audit_->GetNode(&ctx, request, &response).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(ProvdServerTest, BackPressureWithATinyQueueStillIngestsEverything) {
  StartServer(/*queue_capacity=*/1, /*max_batch=*/1);
  constexpr int kStreams = 8;
  constexpr uint64_t kReports = 100;
  std::vector<std::unique_ptr<AgentStream>> streams;
  for (int i = 0; i < kStreams; ++i) streams.push_back(std::make_unique<AgentStream>(channel_));
  std::vector<std::thread> writers;
  for (int i = 0; i < kStreams; ++i) {
    writers.emplace_back([&, i] {
      for (uint64_t seq = 1; seq <= kReports; ++seq) {
        streams[i]->Write(MakeReport(absl::StrCat("node-", i), "b", seq, clock_.Now()));
      }
    });
  }
  for (auto& w : writers) w.join();
  for (int i = 0; i < kStreams; ++i) {
    EXPECT_TRUE(streams[i]->WaitCommitted("b", kReports)) << "stream " << i;
    EXPECT_TRUE(streams[i]->Finish().ok());
  }
  for (int i = 0; i < kStreams; ++i) {
    EXPECT_EQ(GetNode(absl::StrCat("node-", i)).node().reports_stored(), kReports);
  }
  std::string metrics = Metrics();
  EXPECT_TRUE(Contains(metrics, absl::StrCat("prov_reports_ingested_total ", kStreams * kReports)))
      << metrics;
  EXPECT_FALSE(Contains(metrics, "prov_ingest_parks_total 0")) << "queue of 1 never filled?";
  EXPECT_TRUE(Contains(metrics, "prov_ingest_parked_streams 0"));
}

TEST_F(ProvdServerTest, AuditServiceAnswersFromTheStore) {
  StartServer(65536, 4096, /*metrics=*/false);
  AgentStream a(channel_);
  AgentStream b(channel_);
  ASSERT_TRUE(a.Write(Report("node-a", "b", 1)));
  NodeReport other = MakeReport("node-b", "b", 1, clock_.Now(), "ams2");
  other.mutable_workloads(0)->set_workload_id("slurm:42");
  other.mutable_workloads(0)->mutable_attribution()->set_account("globex");
  ASSERT_TRUE(b.Write(other));
  ASSERT_TRUE(a.WaitCommitted("b", 1));
  ASSERT_TRUE(b.WaitCommitted("b", 1));

  {
    grpc::ClientContext ctx;
    provenance::v1::ListNodesResponse nodes;
    ASSERT_TRUE(audit_->ListNodes(&ctx, {}, &nodes).ok());
    ASSERT_EQ(nodes.nodes_size(), 2);
    EXPECT_FALSE(nodes.nodes(0).silent());
  }
  clock_.Advance(absl::Seconds(61));
  {
    grpc::ClientContext ctx;
    provenance::v1::ListNodesRequest request;
    request.set_datacenter("ams2");
    provenance::v1::ListNodesResponse nodes;
    ASSERT_TRUE(audit_->ListNodes(&ctx, request, &nodes).ok());
    ASSERT_EQ(nodes.nodes_size(), 1);
    EXPECT_EQ(nodes.nodes(0).node_id(), "node-b");
    EXPECT_TRUE(nodes.nodes(0).silent()) << "no report for 61 s > 60 s threshold";
  }
  {
    grpc::ClientContext ctx;
    provenance::v1::ListWorkloadsRequest request;
    request.set_account("globex");
    provenance::v1::ListWorkloadsResponse workloads;
    ASSERT_TRUE(audit_->ListWorkloads(&ctx, request, &workloads).ok());
    ASSERT_EQ(workloads.workloads_size(), 1);
    const auto& w = workloads.workloads(0);
    EXPECT_EQ(w.workload_id(), "slurm:42");
    EXPECT_EQ(w.node_id(), "node-b");
    EXPECT_EQ(w.datacenter(), "ams2");
    EXPECT_EQ(w.accelerator_count(), 2u);
    EXPECT_EQ(w.accelerator_model(), "H100 SXM5 80GB");
    EXPECT_DOUBLE_EQ(w.accelerator_hours(), 20.0 / 3600);
    EXPECT_DOUBLE_EQ(w.flop().high(), 20 * 989e12);
  }
  {
    grpc::ClientContext ctx;
    provenance::v1::GetAccountUsageResponse usage;
    ASSERT_TRUE(audit_->GetAccountUsage(&ctx, {}, &usage).ok());
    ASSERT_EQ(usage.accounts_size(), 2);
    EXPECT_EQ(usage.accounts(0).account(), "acme");
    EXPECT_EQ(usage.accounts(1).account(), "globex");
    EXPECT_EQ(usage.accounts(1).datacenters_size(), 1);
    EXPECT_DOUBLE_EQ(usage.accounts(1).training_accelerator_hours(), 20.0 / 3600);
  }
  {
    grpc::ClientContext ctx;
    provenance::v1::ListNodesRequest request;
    request.set_limit(1'000'000);
    provenance::v1::ListNodesResponse nodes;
    grpc::Status status = audit_->ListNodes(&ctx, request, &nodes);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(Contains(status.error_message(), "limit: "));
  }
  EXPECT_TRUE(a.Finish().ok());
  EXPECT_TRUE(b.Finish().ok());
}

TEST_F(ProvdServerTest, MetricsEndpointShowsCountersAndInventory) {
  StartServer();
  AgentStream stream(channel_);
  ASSERT_TRUE(stream.Write(Report("node-1", "b", 1)));
  NodeReport bad = Report("node-1", "b", 2);
  bad.set_interval_seconds(0);
  ASSERT_TRUE(stream.Write(bad));
  ASSERT_TRUE(stream.WaitCommitted("b", 1));
  ASSERT_TRUE(stream.WaitRejections(1));
  std::string metrics = Metrics();
  for (const char* expected : {
           "# HELP prov_reports_ingested_total ",
           "prov_reports_ingested_total 1",
           "prov_reports_rejected_total{field=\"interval_seconds\"} 1",
           "prov_ingest_streams 1",
           "prov_nodes 1",
           "prov_accelerators{model=\"H100 SXM5 80GB\",vendor=\"nvidia\"} 2",
           "prov_commit_latency_seconds_count 1",
           "prov_commit_batch_reports_count 1",
           "prov_ingest_queue_depth 0",
           "# HELP prov_acks_sent_total ",
       }) {
    EXPECT_TRUE(Contains(metrics, expected)) << "missing: " << expected << "\n" << metrics;
  }
  EXPECT_TRUE(stream.Finish().ok());
}

TEST_F(ProvdServerTest, ShutdownIsIdempotentAndDataSurvivesRestart) {
  StartServer();
  {
    AgentStream stream(channel_);
    ASSERT_TRUE(stream.Write(Report("node-1", "b", 1)));
    ASSERT_TRUE(stream.WaitCommitted("b", 1));
    // Shutdown with the stream still open: it is cancelled, the server stops cleanly.
    server_->Shutdown();
    server_->Shutdown();
  }
  server_.reset();
  StartServer();
  AgentStream stream(channel_);
  ASSERT_TRUE(stream.Write(Report("node-1", "b", 1)));  // resent after the restart
  ASSERT_TRUE(stream.Write(Report("node-1", "b", 2)));
  ASSERT_TRUE(stream.WaitCommitted("b", 2));
  EXPECT_TRUE(stream.Finish().ok());
  EXPECT_EQ(GetNode("node-1").node().reports_stored(), 2u);
}

// About 2 KB like a real report: 8 accelerators with samples, 10 workloads with peers.
NodeReport BigReport(const std::string& node, uint64_t seq, absl::Time now) {
  NodeReport r = MakeReport(node, "b", seq, now);
  r.clear_accelerators();
  r.clear_samples();
  r.clear_workloads();
  for (int i = 0; i < 8; ++i) {
    auto* a = r.add_accelerators();
    a->set_pci_address(absl::StrFormat("0000:%02x:00.0", 0x18 + i));
    a->set_vendor_id(0x10de);
    a->set_device_id(0x2330);
    a->set_vendor("nvidia");
    a->set_model("H100 SXM5 80GB");
    a->set_uuid(absl::StrCat("GPU-6c3c2a1e-0000-4000-8000-00000000000", i));
    auto* s = r.add_samples();
    s->set_pci_address(a->pci_address());
    s->set_utilization_pct(98);
    s->set_tensor_activity(0.41);
    s->set_power_watts(612);
  }
  for (int i = 0; i < 10; ++i) {
    auto* w = r.add_workloads();
    w->set_workload_id(absl::StrCat("k8s:pod-", node, "-", i));
    w->mutable_attribution()->set_account(absl::StrCat("account-", i % 3));
    w->set_workload_class(provenance::v1::WORKLOAD_CLASS_TRAINING);
    w->set_cmdline_digest(std::string(64, 'a'));
    w->add_accelerator_pci_addresses(r.accelerators(i % 8).pci_address());
    auto* peer = w->add_peers();
    peer->set_remote_address("10.0.0.1");
    peer->set_remote_port(29500);
  }
  return r;
}

// Not a performance assertion: checks that many concurrent streams are all stored, and prints
// the rough rate (client and server share this machine's cores).
// Issue 14: a stored KYC record with a Windows-1252 byte (accepted before imports checked UTF-8)
// made every later start fail with "stored record does not parse". Now it is moved aside.
TEST_F(ProvdServerTest, UnparseableStoredRecordIsQuarantinedNotFatal) {
  const std::string data_dir = dir_.path() + "/data";
  ASSERT_TRUE(CreateDirectories(data_dir).ok());
  {
    auto store = Store::Open(data_dir + "/provd.db");  // creates and migrates provd.db
    ASSERT_TRUE(store.ok()) << store.status();
    auto db = SqliteDb::Open(data_dir + "/provd.db", SqliteDb::kReadWrite);
    ASSERT_TRUE(db.ok());
    provenance::v1::AccountIdentity good;
    good.set_account_id("good-1");
    good.set_legal_entity("Good One Ltd");
    // What the old import stored: a proto3 string holding "Soci\xe9t\xe9" is written, but
    // ParseFromString refuses it. Hand-encoded (field 1 account_id, field 2 legal_entity).
    const std::string bad = std::string("\x0a\x04sg-1\x12\x07Soci\xe9t\xe9", 15);
    ASSERT_FALSE(provenance::v1::AccountIdentity().ParseFromString(bad));
    ASSERT_TRUE((*db)
                    ->Exec("INSERT INTO kyc_imports(imported_at_us, source, actor, content_digest, "
                           "accepted, errors) VALUES (1, 'old.csv', 'alice', 'x', 2, 0)")
                    .ok());
    for (const auto& [id, blob] : std::vector<std::pair<std::string, std::string>>{
             {"good-1", good.SerializeAsString()}, {"sg-1", bad}}) {
      for (const char* sql :
           {"INSERT INTO account_identities(account_id, version, identity) VALUES (?1, 1, ?2)",
            "INSERT INTO accounts(account_id, version, legal_entity, country, parent_account, "
            "identity) VALUES (?1, 1, '', '', '', ?2)"}) {
        auto st = (*db)->Prepare(sql);
        ASSERT_TRUE(st.ok()) << st.status();
        (*st)->BindText(1, id);
        (*st)->BindBlob(2, blob);
        ASSERT_TRUE((*st)->Run().ok());
      }
    }
  }
  StartServer();  // used to fail: "accounts row sg-1: stored record does not parse"
  std::string metrics = Metrics();
  EXPECT_TRUE(Contains(metrics, "prov_records_quarantined_total{table=\"accounts\"} 1")) << metrics;
  EXPECT_TRUE(Contains(metrics, "prov_records_quarantined_total{table=\"account_identities\"} 1"))
      << metrics;
  server_->Shutdown();
  auto db = SqliteDb::Open(data_dir + "/provd.db", SqliteDb::kReadOnly);
  ASSERT_TRUE(db.ok());
  auto st = (*db)->Prepare(
      "SELECT table_name, row_key, reason, length(record) FROM quarantined_records ORDER BY id");
  ASSERT_TRUE(st.ok());
  std::vector<std::string> rows;
  while (*(*st)->Step()) {
    rows.push_back(absl::StrCat((*st)->ColumnText(0), " | ", (*st)->ColumnText(1), " | ",
                                (*st)->ColumnText(2), " | ", (*st)->ColumnInt64(3)));
  }
  EXPECT_EQ(rows, (std::vector<std::string>{
                      "accounts | account_id=sg-1, version=1 | stored AccountIdentity does not "
                      "parse | 15",
                      "account_identities | account_id=sg-1, version=1 | stored AccountIdentity "
                      "does not parse | 15"}));
  auto left = (*db)->Prepare("SELECT group_concat(account_id) FROM accounts");
  ASSERT_TRUE(left.ok() && *(*left)->Step());
  EXPECT_EQ((*left)->ColumnText(0), "good-1");
  // The next start finds nothing more to move.
  st->reset();
  left->reset();
  db->reset();
  StartServer(65536, 4096, /*metrics=*/false);
}

TEST_F(ProvdServerTest, ManyStreamsAllStoredAndRatePrinted) {
  StartServer(65536, 4096, /*metrics=*/true);
  constexpr int kStreams = 16;
  constexpr uint64_t kReports = 1000;
  std::vector<std::unique_ptr<AgentStream>> streams;
  for (int i = 0; i < kStreams; ++i) streams.push_back(std::make_unique<AgentStream>(channel_));
  std::vector<std::vector<NodeReport>> reports(kStreams);
  for (int i = 0; i < kStreams; ++i) {
    for (uint64_t seq = 1; seq <= kReports; ++seq) {
      reports[i].push_back(BigReport(absl::StrCat("node-", i), seq, clock_.Now()));
    }
  }
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> writers;
  for (int i = 0; i < kStreams; ++i) {
    writers.emplace_back([&, i] {
      for (const NodeReport& r : reports[i]) streams[i]->Write(r);
    });
  }
  for (auto& w : writers) w.join();
  for (int i = 0; i < kStreams; ++i) EXPECT_TRUE(streams[i]->WaitCommitted("b", kReports));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (int i = 0; i < kStreams; ++i) EXPECT_TRUE(streams[i]->Finish().ok());
  std::cout << "[ rate ] " << kStreams * kReports << " reports of " << reports[0][0].ByteSizeLong()
            << " bytes over " << kStreams << " streams in " << seconds
            << " s: " << kStreams * kReports / seconds << " reports/s committed+acked\n";
  auto reader = StoreReader::Open(dir_.path() + "/data/provd.db");
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ(*(*reader)->CountReports(), static_cast<int64_t>(kStreams * kReports));
  for (absl::string_view line : absl::StrSplit(Metrics(), '\n')) {
    if (absl::StartsWith(line, "prov_commit_") && !absl::StrContains(line, "bucket")) {
      std::cout << "[ rate ] " << line << "\n";
    }
  }
}

// One unary call of `method` carrying `request` (serialized bytes) through a generic stub (no
// generated code needed); the response's bytes into *response.
TEST_F(ProvdServerTest, StandardHealthServiceSaysServingPerService) {
  StartServer(65536, 4096, /*metrics=*/false);
  // grpc.health.v1.Health/Check: a HealthCheckRequest{service} (field 1, bytes); the answer
  // HealthCheckResponse{status: SERVING} is bytes 08 01.
  auto check = [&](const std::string& service, std::string* bytes) {
    std::string wire;
    if (!service.empty()) {
      wire.push_back('\x0a');
      wire.push_back(static_cast<char>(service.size()));
      wire += service;
    }
    return UnaryBytes(channel_, "/grpc.health.v1.Health/Check", wire, bytes);
  };
  std::string bytes;
  ASSERT_TRUE(check("", &bytes).ok());
  EXPECT_EQ(bytes, std::string("\x08\x01", 2));
  for (const char* service : {"provenance.v1.AgentGateway", "provenance.v1.AnalysisService",
                              "provenance.v1.InventoryService"}) {
    grpc::Status status = check(service, &bytes);
    ASSERT_TRUE(status.ok()) << service << ": " << status.error_message();
    EXPECT_EQ(bytes, std::string("\x08\x01", 2)) << service;
  }
  EXPECT_EQ(check("provenance.v1.NoSuchService", &bytes).error_code(), grpc::StatusCode::NOT_FOUND);
}

// Without --grpc-reflection the method does not exist (UNIMPLEMENTED); with it, it answers. A unary
// call carrying one empty ServerReflectionRequest, then half-close.
grpc::Status CallReflection(const std::shared_ptr<grpc::Channel>& channel) {
  std::string ignored;
  return UnaryBytes(channel, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", "",
                    &ignored);
}

TEST_F(ProvdServerTest, ServerReflectionIsOffByDefault) {
  StartServer(65536, 4096, /*metrics=*/false);
  EXPECT_EQ(CallReflection(channel_).error_code(), grpc::StatusCode::UNIMPLEMENTED);
}

TEST_F(ProvdServerTest, ServerReflectionOnRequest) {
  StartServer(65536, 4096, /*metrics=*/false, /*reflection=*/true);
  EXPECT_NE(CallReflection(channel_).error_code(), grpc::StatusCode::UNIMPLEMENTED);
}

TEST(ProvdServerStartTest, BadOptionsNameTheOption) {
  ProvdOptions options;
  auto server = ProvdServer::Start(options);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().message(), "data_dir: is required");
  TempDir dir;
  options.data_dir = dir.path();
  options.default_utilization = 1.5;
  EXPECT_EQ(ProvdServer::Start(options).status().message(),
            "default_utilization: 1.5 is not in (0, 1]");
  options.default_utilization = 0.3;
  options.listen_address = "256.1.1.1:1";
  server = ProvdServer::Start(options);
  ASSERT_FALSE(server.ok());
  EXPECT_TRUE(Contains(std::string(server.status().message()), "listen_address: cannot listen"))
      << server.status();
}

}  // namespace
}  // namespace prov::server
