// Location verification on two provd replicas sharing one real PostgreSQL (in process, mutual
// TLS, --location-config on both; docs/design/scale-out.md section 4). The agents bind their
// streams and the landmark sends its records to the standby only: the standby stores them, the
// leader's hub takes them in and judges (the key it hands out is the one the standby's stream
// bound), its flags reach the standby's engine, and the standby answers the location queries
// from the stored verdicts. A forged answer the standby refuses is flagged by the leader's
// engine (through the ingest batch log). When the leader stops, the standby leads and judges on
// from the stored verdicts.
#include <sys/stat.h>

#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/location/probe_sig.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "provenance/v1/analysis.grpc.pb.h"
#include "provenance/v1/location.grpc.pb.h"
#include "server/provd_server.h"
#include "tests/compliance/test_certs.h"
#include "tests/server/agent_stream.h"
#include "tests/server/location_fixture.h"
#include "tests/server/temp_dir.h"
#include "tests/server/test_reports.h"
#include "tests/store/pg_server.h"

namespace prov::server {
namespace {

using prov::testing::TestCa;
using provenance::v1::LandmarkGateway;
using provenance::v1::LocationService;
using testing::AgentStream;
using testing::HttpGet;
using testing::NodeMeasurement;
using testing::SignRecord;

constexpr absl::Duration kWait = absl::Seconds(60);

class LocationReplicasTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PROV_PG_SERVER_OR_SKIP(pg);
    auto conninfo = pg->FreshDatabase();
    ASSERT_TRUE(conninfo.ok()) << conninfo.status();
    conninfo_ = *conninfo;
    key_ = dir_.path() + "/export-signing.key";
    std::ofstream(key_) << "ed25519-seed "
                           "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";
    ASSERT_EQ(::chmod(key_.c_str(), 0600), 0);
    location_ = dir_.path() + "/location.yaml";
    std::ofstream(location_) << keys_.Yaml(2);
    server_ = ca_.IssueWithKey("prov-test-server", "DNS:localhost,IP:127.0.0.1", "serverAuth");
    Start("a");
    ASSERT_FALSE(HasFatalFailure());
    ASSERT_TRUE(WaitFor([&] { return replicas_["a"]->leading(); })) << "a never led";
    Start("b");
  }
  void TearDown() override {
    for (auto& [name, r] : replicas_) {
      if (r != nullptr) r->Shutdown();
    }
  }

  void Start(const std::string& name) {
    grpc::SslServerCredentialsOptions tls(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    tls.pem_key_cert_pairs.push_back({server_.key_pem, server_.cert_pem});
    tls.pem_root_certs = ca_.pem();
    ProvdOptions options;
    options.data_dir = dir_.path() + "/data-" + name;
    options.metrics_address = "127.0.0.1:0";
    options.store = "postgresql:" + conninfo_;
    options.replica_name = name;
    // Long enough that a leader slowed by a sanitizer on a loaded machine keeps its lease (this
    // test stops the leader itself; under tsan a 2 s takeover once let b take over early).
    options.leader_takeover = absl::Seconds(10);
    options.export_signing_key_file = key_;
    options.credentials = grpc::SslServerCredentials(tls);
    options.client_certificates = true;
    options.trust_domain = "prov.test";
    options.location_config_file = location_;
    options.location_tick = absl::Milliseconds(50);
    auto started = ProvdServer::Start(std::move(options));
    ASSERT_TRUE(started.ok()) << started.status();
    replicas_[name] = *std::move(started);
  }

  template <typename F>
  static bool WaitFor(F done) {
    for (const absl::Time deadline = absl::Now() + kWait; absl::Now() < deadline;) {
      if (done()) return true;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return done();
  }

  std::shared_ptr<grpc::Channel> Channel(const std::string& replica,
                                         const TestCa::KeyPair& client) {
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = ca_.pem();
    tls.pem_cert_chain = client.cert_pem;
    tls.pem_private_key = client.key_pem;
    return grpc::CreateChannel(absl::StrCat("127.0.0.1:", replicas_[replica]->port()),
                               grpc::SslCredentials(tls));
  }
  // An agent binds a stream on `replica` with its certificate and reports its responder.
  void Agent(const std::string& replica, const TestCa::KeyPair& cert, const std::string& node,
             const std::string& dc) {
    AgentStream stream(Channel(replica, cert));
    provenance::v1::NodeReport r = testing::MakeReport(node, "boot-a", 1, absl::Now(), dc);
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
  std::vector<provenance::v1::Flag> Flags(const std::string& replica, const std::string& rule) {
    auto analysis =
        provenance::v1::AnalysisService::NewStub(replicas_[replica]->InProcessChannel());
    provenance::v1::ListFlagsRequest req;
    req.set_rule(rule);
    provenance::v1::ListFlagsResponse flags;
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer " + replicas_[replica]->internal_token());
    EXPECT_TRUE(analysis->ListFlags(&ctx, req, &flags).ok());
    return {flags.flags().begin(), flags.flags().end()};
  }
  grpc::Status Location(const std::string& replica, const std::string& node,
                        provenance::v1::NodeLocation* out) {
    auto svc = LocationService::NewStub(replicas_[replica]->InProcessChannel());
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer " + replicas_[replica]->internal_token());
    provenance::v1::GetNodeLocationRequest req;
    req.set_node_id(node);
    return svc->GetNodeLocation(&ctx, req, out);
  }
  provenance::v1::LocationVerdict Verdict(const std::string& replica, const std::string& node) {
    provenance::v1::NodeLocation loc;
    return Location(replica, node, &loc).ok() ? loc.verdict()
                                              : provenance::v1::LOCATION_VERDICT_UNSPECIFIED;
  }

  testing::TempDir dir_;
  std::string conninfo_, key_, location_;
  TestCa ca_{"prov-ca"};
  TestCa::KeyPair server_;
  testing::LocationKeys keys_;
  std::map<std::string, std::unique_ptr<ProvdServer>> replicas_;
};

TEST_F(LocationReplicasTest, TheLeaderJudgesWhatTheStandbyReceivedAndTheStandbyTakesOver) {
  ASSERT_FALSE(replicas_["b"]->leading());
  const TestCa::KeyPair n1 = ca_.IssueWithKey("n1", "URI:spiffe://prov.test/node/n1", "clientAuth");
  const TestCa::KeyPair n2 = ca_.IssueWithKey("n2", "URI:spiffe://prov.test/node/n2", "clientAuth");
  Agent("b", n1, "n1", "fra1");
  Agent("b", n2, "n2", "sin1");
  auto n1_signer = prov::location::NodeAnswerSigner::FromKeyPem(n1.key_pem);
  auto n2_signer = prov::location::NodeAnswerSigner::FromKeyPem(n2.key_pem);
  ASSERT_TRUE(n1_signer.ok() && n2_signer.ok());

  // The landmark calls the standby only; both replicas hand out the key b's stream bound.
  const TestCa::KeyPair lm =
      ca_.IssueWithKey("lm-fra", "URI:spiffe://prov.test/landmark/lm-fra", "clientAuth");
  auto assignment_on = [&](const std::string& replica) {
    auto gw = LandmarkGateway::NewStub(Channel(replica, lm));
    provenance::v1::Assignment assignment;
    WaitFor([&] {
      grpc::ClientContext ctx;
      provenance::v1::GetAssignmentRequest req;
      req.set_landmark_id("lm-fra");
      return gw->GetAssignment(&ctx, req, &assignment).ok() && assignment.targets_size() == 3;
    });
    return assignment;
  };
  for (const std::string replica : {"b", "a"}) {
    const provenance::v1::Assignment assignment = assignment_on(replica);
    ASSERT_EQ(assignment.targets_size(), 3) << replica << ": " << assignment.DebugString();
    EXPECT_EQ(assignment.targets(0).target_id(), "n1");
    EXPECT_EQ(assignment.targets(0).public_key(), (*n1_signer)->public_key_der()) << replica;
  }
  auto gw = LandmarkGateway::NewStub(Channel("b", lm));
  const absl::Time now = absl::Now();
  auto res = Submit(
      *gw, {SignRecord(keys_.fra, NodeMeasurement("lm-fra", "n1", 1, now, 0.5, n1_signer->get())),
            SignRecord(keys_.fra, NodeMeasurement("lm-fra", "n2", 2, now, 1.0, n2_signer->get()))});
  EXPECT_EQ(res.accepted(), 2u);

  // The leader judges them and flags n2; the flag reaches the standby's engine; both answer.
  ASSERT_TRUE(WaitFor([&] { return Flags("a", "location_contradicted").size() == 1; }))
      << "the leader never flagged n2";
  const provenance::v1::Flag flag = Flags("a", "location_contradicted")[0];
  EXPECT_EQ(flag.subject(), "node:n2");
  ASSERT_GE(flag.evidence_size(), 1);
  EXPECT_TRUE(absl::StrContains(flag.evidence(0).sentence(), "lm-fra"))
      << flag.evidence(0).sentence();
  ASSERT_TRUE(WaitFor([&] { return Flags("b", "location_contradicted").size() == 1; }))
      << "the standby never showed the leader's flag";
  EXPECT_EQ(Verdict("b", "n1"), provenance::v1::LOCATION_VERDICT_VERIFIED);
  EXPECT_EQ(Verdict("b", "n2"), provenance::v1::LOCATION_VERDICT_CONTRADICTED);
  EXPECT_EQ(Verdict("a", "n2"), provenance::v1::LOCATION_VERDICT_CONTRADICTED);
  provenance::v1::NodeLocation none;
  EXPECT_EQ(Location("b", "n9", &none).error_code(), grpc::StatusCode::NOT_FOUND);
  // The verdict gauges are the leader's (a standby judges nothing).
  EXPECT_TRUE(absl::StrContains(HttpGet(replicas_["a"]->metrics_port(), "/metrics"),
                                "prov_location_verdicts{verdict=\"contradicted\"} 1"));

  // A forged answer refused by the standby is flagged by the leader's engine.
  auto bad = Submit(*gw, {SignRecord(keys_.fra, NodeMeasurement("lm-fra", "n1", 3, absl::Now(), 0.4,
                                                                n2_signer->get()))});
  ASSERT_EQ(bad.refused_size(), 1);
  EXPECT_TRUE(absl::StartsWith(bad.refused(0).reason(), "forged_answer"))
      << bad.refused(0).reason();
  ASSERT_TRUE(WaitFor([&] { return Flags("a", "location_answer_forged").size() == 1; }))
      << "the forged answer the standby saw was never flagged";
  EXPECT_EQ(Flags("a", "location_answer_forged")[0].subject(), "node:n1");

  // The leader stops: b leads, loads the stored verdicts and judges on; its gauges say so.
  replicas_["a"]->Shutdown();
  replicas_["a"].reset();
  ASSERT_TRUE(WaitFor([&] { return replicas_["b"]->leading(); })) << "b never took over";
  ASSERT_TRUE(WaitFor([&] {
    return absl::StrContains(HttpGet(replicas_["b"]->metrics_port(), "/metrics"),
                             "prov_location_verdicts{verdict=\"contradicted\"} 1");
  })) << "b's hub never judged after the takeover";
  EXPECT_EQ(Verdict("b", "n2"), provenance::v1::LOCATION_VERDICT_CONTRADICTED);
  // New records on the new leader are judged at once: n1 again from lm-fra, still verified.
  auto more = Submit(*gw, {SignRecord(keys_.fra, NodeMeasurement("lm-fra", "n1", 4, absl::Now(),
                                                                 0.5, n1_signer->get()))});
  EXPECT_EQ(more.accepted(), 1u);
  EXPECT_EQ(Verdict("b", "n1"), provenance::v1::LOCATION_VERDICT_VERIFIED);
  EXPECT_EQ(Flags("b", "location_contradicted").size(), 1u);
}

}  // namespace
}  // namespace prov::server
