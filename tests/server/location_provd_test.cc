// Issue 11, end to end in provd: a real in-process provd on port 0 with real SQLite, mutual TLS
// (certificates made with OpenSSL in the test) and --location-config. Two agents bind streams with
// their node certificates (provd records their keys) and report their location responders; a
// test-side landmark client (the generated LandmarkGateway stub: the real prov-landmark is
// another component) fetches its assignment and submits signed records: an honest node is
// verified, a node declared in Singapore but 1 ms from Frankfurt is contradicted and flagged, a
// forged answer is refused and flagged, a replay and an unknown landmark are refused (and
// audited), and the audit export carries the five location files.
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/location/probe_sig.h"
#include "common/testing/fake_clock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "provenance/v1/analysis.grpc.pb.h"
#include "provenance/v1/compliance.grpc.pb.h"
#include "provenance/v1/location.grpc.pb.h"
#include "server/auditlog/audit_log.h"
#include "server/provd_server.h"
#include "tests/compliance/test_certs.h"
#include "tests/server/agent_stream.h"
#include "tests/server/location_fixture.h"
#include "tests/server/temp_dir.h"
#include "tests/server/test_reports.h"

namespace prov::server {
namespace {

using prov::testing::TestCa;
using provenance::v1::LandmarkGateway;
using provenance::v1::LocationService;
using testing::AgentStream;
using testing::HttpGet;
using testing::NodeMeasurement;
using testing::SignRecord;

class LocationProvdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const TestCa::KeyPair server =
        ca_.IssueWithKey("prov-test-server", "DNS:localhost,IP:127.0.0.1", "serverAuth");
    grpc::SslServerCredentialsOptions tls(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    tls.pem_key_cert_pairs.push_back({server.key_pem, server.cert_pem});
    tls.pem_root_certs = ca_.pem();
    ProvdOptions options;
    options.data_dir = dir_.path() + "/data";
    options.metrics_address = "127.0.0.1:0";
    options.clock = &clock_;
    options.credentials = grpc::SslServerCredentials(tls);
    options.client_certificates = true;
    options.trust_domain = "prov.test";
    options.location_config_file = dir_.path() + "/location.yaml";
    options.location_tick = absl::Milliseconds(20);
    std::ofstream(options.location_config_file) << keys_.Yaml(2);
    auto started = ProvdServer::Start(std::move(options));
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = *std::move(started);
  }
  std::shared_ptr<grpc::Channel> Channel(const TestCa::KeyPair& client) {
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = ca_.pem();
    tls.pem_cert_chain = client.cert_pem;
    tls.pem_private_key = client.key_pem;
    return grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                               grpc::SslCredentials(tls));
  }
  // An agent binds a stream with its certificate and reports its responder and datacenter.
  void Agent(const TestCa::KeyPair& cert, const std::string& node, const std::string& dc) {
    AgentStream stream(Channel(cert));
    provenance::v1::NodeReport r = testing::MakeReport(node, "boot-a", 1, clock_.Now(), dc);
    r.mutable_node()->set_location_responder("127.0.0.1:7700");
    ASSERT_TRUE(stream.Write(r));
    ASSERT_TRUE(stream.WaitCommitted("boot-a", 1));
    EXPECT_TRUE(stream.Finish().ok());
  }
  provenance::v1::SubmitMeasurementsResponse Submit(
      LandmarkGateway::Stub& gw, std::initializer_list<provenance::v1::SignedMeasurement> recs) {
    provenance::v1::SubmitMeasurementsRequest req;
    for (const auto& r : recs) *req.add_records() = r;
    provenance::v1::SubmitMeasurementsResponse res;
    grpc::ClientContext ctx;
    grpc::Status s = gw.SubmitMeasurements(&ctx, req, &res);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return res;
  }
  std::vector<provenance::v1::Flag> WaitFlags(const std::string& rule) {
    auto analysis = provenance::v1::AnalysisService::NewStub(server_->InProcessChannel());
    provenance::v1::ListFlagsRequest req;
    req.set_rule(rule);
    provenance::v1::ListFlagsResponse flags;
    for (const absl::Time deadline = absl::Now() + absl::Seconds(30);
         flags.flags().empty() && absl::Now() < deadline;) {
      server_->FlushAnalysis();
      grpc::ClientContext ctx;
      ctx.AddMetadata("authorization", "Bearer " + server_->internal_token());
      EXPECT_TRUE(analysis->ListFlags(&ctx, req, &flags).ok());
      if (flags.flags().empty()) absl::SleepFor(absl::Milliseconds(10));
    }
    return {flags.flags().begin(), flags.flags().end()};
  }
  provenance::v1::NodeLocation Location(const std::string& node) {
    auto svc = LocationService::NewStub(server_->InProcessChannel());
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer " + server_->internal_token());
    provenance::v1::GetNodeLocationRequest req;
    req.set_node_id(node);
    provenance::v1::NodeLocation out;
    grpc::Status s = svc->GetNodeLocation(&ctx, req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  testing::TempDir dir_;
  // Real time: the records' measured_at must be within the clock tolerance of provd's clock.
  FakeClock clock_{absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()))};
  TestCa ca_{"prov-ca"};
  testing::LocationKeys keys_;
  std::unique_ptr<ProvdServer> server_;
};

TEST_F(LocationProvdTest, LandmarkRecordsBecomeVerdictsFlagsAndExports) {
  const TestCa::KeyPair n1 = ca_.IssueWithKey("n1", "URI:spiffe://prov.test/node/n1", "clientAuth");
  const TestCa::KeyPair n2 = ca_.IssueWithKey("n2", "URI:spiffe://prov.test/node/n2", "clientAuth");
  Agent(n1, "n1", "fra1");
  Agent(n2, "n2", "sin1");
  auto n1_signer = prov::location::NodeAnswerSigner::FromKeyPem(n1.key_pem);
  auto n2_signer = prov::location::NodeAnswerSigner::FromKeyPem(n2.key_pem);
  ASSERT_TRUE(n1_signer.ok() && n2_signer.ok());

  // The landmark: its own certificate (SPIFFE landmark URI) and its Ed25519 key in the file.
  auto gw = LandmarkGateway::NewStub(
      Channel(ca_.IssueWithKey("lm-fra", "URI:spiffe://prov.test/landmark/lm-fra", "clientAuth")));
  provenance::v1::Assignment assignment;
  for (const absl::Time deadline = absl::Now() + absl::Seconds(30);
       assignment.targets_size() < 3 && absl::Now() < deadline;) {
    grpc::ClientContext ctx;
    provenance::v1::GetAssignmentRequest req;
    req.set_landmark_id("lm-fra");
    ASSERT_TRUE(gw->GetAssignment(&ctx, req, &assignment).ok());
    if (assignment.targets_size() < 3) absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_EQ(assignment.targets_size(), 3) << assignment.DebugString();
  EXPECT_EQ(assignment.targets(0).target_id(), "n1");
  // The key provd hands out is the one of the certificate that bound n1's stream.
  EXPECT_EQ(assignment.targets(0).public_key(), (*n1_signer)->public_key_der());

  const absl::Time now = clock_.Now();
  const auto honest =
      SignRecord(keys_.fra, NodeMeasurement("lm-fra", "n1", 1, now, 0.5, n1_signer->get()));
  const auto far =
      SignRecord(keys_.fra, NodeMeasurement("lm-fra", "n2", 2, now, 1.0, n2_signer->get()));
  auto res = Submit(*gw, {honest, far});
  EXPECT_EQ(res.accepted(), 2u);
  EXPECT_EQ(Location("n1").verdict(), provenance::v1::LOCATION_VERDICT_VERIFIED);
  const provenance::v1::NodeLocation n2_loc = Location("n2");
  EXPECT_EQ(n2_loc.verdict(), provenance::v1::LOCATION_VERDICT_CONTRADICTED) << n2_loc.reason();

  auto contradicted = WaitFlags("location_contradicted");
  ASSERT_EQ(contradicted.size(), 1u);
  EXPECT_EQ(contradicted[0].subject(), "node:n2");
  EXPECT_EQ(contradicted[0].severity(), provenance::v1::SEVERITY_CRITICAL);
  ASSERT_GE(contradicted[0].evidence_size(), 1);
  EXPECT_TRUE(absl::StrContains(contradicted[0].evidence(0).sentence(), "lm-fra"))
      << contradicted[0].evidence(0).sentence();

  // Forged: an answer for n1 signed with n2's key. Replay: the honest record again.
  auto bad = Submit(
      *gw, {SignRecord(keys_.fra, NodeMeasurement("lm-fra", "n1", 3, now, 0.4, n2_signer->get())),
            honest});
  EXPECT_EQ(bad.accepted(), 0u);
  ASSERT_EQ(bad.refused_size(), 2);
  EXPECT_TRUE(absl::StartsWith(bad.refused(0).reason(), "forged_answer"))
      << bad.refused(0).reason();
  EXPECT_TRUE(absl::StartsWith(bad.refused(1).reason(), "replay")) << bad.refused(1).reason();
  auto forged = WaitFlags("location_answer_forged");
  ASSERT_EQ(forged.size(), 1u);
  EXPECT_EQ(forged[0].subject(), "node:n1");

  // An unknown landmark: its records are refused, its assignment does not exist.
  auto stranger = LandmarkGateway::NewStub(
      Channel(ca_.IssueWithKey("x", "URI:spiffe://prov.test/landmark/lm-zzz", "clientAuth")));
  {
    grpc::ClientContext ctx;
    provenance::v1::GetAssignmentRequest req;
    req.set_landmark_id("lm-zzz");
    provenance::v1::Assignment a;
    EXPECT_EQ(stranger->GetAssignment(&ctx, req, &a).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  auto unknown = NodeMeasurement("lm-zzz", "n1", 1, now, 0.5, n1_signer->get());
  auto refused = Submit(*stranger, {SignRecord(keys_.fra, unknown)});
  ASSERT_EQ(refused.refused_size(), 1);
  EXPECT_TRUE(absl::StartsWith(refused.refused(0).reason(), "unknown_landmark"));
  // A node's certificate is not a landmark's.
  {
    auto as_node = LandmarkGateway::NewStub(Channel(n1));
    grpc::ClientContext ctx;
    provenance::v1::SubmitMeasurementsResponse r;
    EXPECT_EQ(as_node->SubmitMeasurements(&ctx, {}, &r).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  // The people-facing views: viewer role, one verdict at a time or filtered, the landmarks.
  {
    auto svc = LocationService::NewStub(server_->InProcessChannel());
    grpc::ClientContext anonymous;
    provenance::v1::ListNodeLocationsResponse none;
    EXPECT_EQ(svc->ListNodeLocations(&anonymous, {}, &none).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer " + server_->internal_token());
    provenance::v1::ListNodeLocationsRequest req;
    req.set_verdict(provenance::v1::LOCATION_VERDICT_CONTRADICTED);
    provenance::v1::ListNodeLocationsResponse list;
    ASSERT_TRUE(svc->ListNodeLocations(&ctx, req, &list).ok());
    ASSERT_EQ(list.nodes_size(), 1);
    EXPECT_EQ(list.nodes(0).node_id(), "n2");
    EXPECT_EQ(list.nodes(0).disks(0).landmark_id(), "lm-fra");
    grpc::ClientContext ctx2;
    ctx2.AddMetadata("authorization", "Bearer " + server_->internal_token());
    provenance::v1::ListLandmarksResponse landmarks;
    ASSERT_TRUE(svc->ListLandmarks(&ctx2, {}, &landmarks).ok());
    ASSERT_EQ(landmarks.landmarks_size(), 3);
    EXPECT_EQ(landmarks.landmarks(0).landmark_id(), "lm-fra");
    EXPECT_EQ(landmarks.landmarks(0).records_accepted(), 2u);
    EXPECT_EQ(landmarks.landmarks(0).records_refused(), 2u);
  }
  // Refused records are audited (one entry per landmark and call, rate-limited).
  {
    auto audit = AuditLogReader::Open(dir_.path() + "/data/provd.db");
    ASSERT_TRUE(audit.ok()) << audit.status();
    auto entries = (*audit)->List(0, 100, "location.records_refused");
    ASSERT_TRUE(entries.ok()) << entries.status();
    ASSERT_EQ(entries->size(), 2u);
    EXPECT_EQ((*entries)[0].actor, "landmark:lm-fra");
    EXPECT_TRUE(absl::StrContains((*entries)[0].payload, "forged_answer:1,replay:1"))
        << (*entries)[0].payload;
    EXPECT_EQ((*entries)[1].actor, "landmark:lm-zzz");
  }
  const std::string metrics = HttpGet(server_->metrics_port(), "/metrics");
  EXPECT_TRUE(absl::StrContains(metrics, "prov_location_records_accepted_total 2")) << metrics;
  EXPECT_TRUE(
      absl::StrContains(metrics, "prov_location_records_refused_total{reason=\"replay\"} 1"));
  EXPECT_TRUE(absl::StrContains(metrics, "prov_location_verdicts{verdict=\"contradicted\"} 1"));

  // The audit export carries what an auditor needs to re-derive the verdicts.
  auto exports = provenance::v1::ExportService::NewStub(server_->InProcessChannel());
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", "Bearer " + server_->internal_token());
  auto reader = exports->Export(&ctx, provenance::v1::ExportRequest());
  provenance::v1::ExportEvent event;
  std::string folder;
  while (reader->Read(&event)) {
    if (event.has_done()) folder = event.done().server_path();
  }
  ASSERT_TRUE(reader->Finish().ok());
  ASSERT_FALSE(folder.empty());
  auto read = [&](const std::string& name) {
    std::ifstream in(folder + "/" + name);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  EXPECT_TRUE(absl::StrContains(read("location_landmarks.jsonl"), "\"landmark_id\":\"lm-fra\""));
  EXPECT_TRUE(absl::StrContains(read("location_sites.jsonl"), "\"datacenter\":\"sin1\""));
  EXPECT_TRUE(absl::StrContains(read("location_node_keys.jsonl"), "\"node_id\":\"n1\""));
  const std::string verdicts = read("location_verdicts.jsonl");
  EXPECT_TRUE(absl::StrContains(verdicts, "\"verdict\":\"contradicted\"")) << verdicts;
  EXPECT_TRUE(absl::StrContains(verdicts, "\"disk_measurement_ids\":[1]")) << verdicts;
  const std::string records = read("location_measurements.jsonl");
  EXPECT_TRUE(absl::StrContains(records, "\"measurement_b64\"")) << records;
  EXPECT_EQ(std::count(records.begin(), records.end(), '\n'), 2);
}

// Review #9: with server-only TLS (no --tls-client-ca) the LandmarkGateway refuses callers
// without a landmark certificate instead of handing out node ids, addresses and keys.
TEST(LocationProvdTlsTest, ServerOnlyTlsRefusesAnonymousLandmarkCalls) {
  testing::TempDir dir;
  TestCa ca{"prov-ca"};
  testing::LocationKeys keys;
  FakeClock clock{absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()))};
  const TestCa::KeyPair server =
      ca.IssueWithKey("prov-test-server", "DNS:localhost,IP:127.0.0.1", "serverAuth");
  grpc::SslServerCredentialsOptions tls(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  tls.pem_key_cert_pairs.push_back({server.key_pem, server.cert_pem});
  ProvdOptions options;
  options.data_dir = dir.path() + "/data";
  options.metrics_address = "127.0.0.1:0";
  options.clock = &clock;
  options.credentials = grpc::SslServerCredentials(tls);
  options.client_certificates = false;
  options.node_identity = "report";
  options.location_config_file = dir.path() + "/location.yaml";
  std::ofstream(options.location_config_file) << keys.Yaml(2);
  auto started = ProvdServer::Start(std::move(options));
  ASSERT_TRUE(started.ok()) << started.status();
  grpc::SslCredentialsOptions client;
  client.pem_root_certs = ca.pem();
  auto gw = LandmarkGateway::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", (*started)->port()), grpc::SslCredentials(client)));
  grpc::ClientContext ctx;
  provenance::v1::GetAssignmentRequest req;
  req.set_landmark_id("lm-fra");
  provenance::v1::Assignment a;
  const grpc::Status s = gw->GetAssignment(&ctx, req, &a);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  EXPECT_TRUE(absl::StrContains(s.error_message(), "--tls-client-ca")) << s.error_message();
}

}  // namespace
}  // namespace prov::server
