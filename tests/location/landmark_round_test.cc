// prov-landmark's round against an in-test LandmarkGateway on port 0 over TLS (provd's real
// gateway is tested with provd): records arrive, their signatures verify with the landmark's
// public key, landmark_seq rises across a restart with the same state file; retries; batches.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "absl/synchronization/mutex.h"
#include "agent/location/responder.h"
#include "common/grpc/bearer_channel.h"
#include "common/grpc/tls.h"
#include "common/testing/fake_clock.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "tests/compliance/test_certs.h"
#include "tests/location/fake_landmark_gateway.h"
#include "tests/location/location_test_util.h"
#include "tests/server/temp_dir.h"
#include "tools/prov-landmark/landmark.h"

namespace prov::landmark {
namespace {

namespace pb = provenance::v1;
using testing::Nonce;
using testing::TestLandmark;
using testing::TestNode;

class LandmarkRoundTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_key_ = ca_.IssueWithKey("localhost", "DNS:localhost,IP:127.0.0.1", "serverAuth");
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({server_key_.key_pem, server_key_.cert_pem});
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::SslServerCredentials(ssl), &port);
    builder.RegisterService(&gateway_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    address_ = "localhost:" + std::to_string(port);
    ca_file_ = dir_.path() + "/ca.pem";
    std::ofstream(ca_file_) << ca_.pem();
    landmark_ = TestLandmark::Make("lm-fra-1");
    state_file_ = dir_.path() + "/lm.key.state";
  }
  void TearDown() override { server_->Shutdown(); }

  std::unique_ptr<GatewayClient> Client(RetryPolicy retry = {}) {
    auto creds = MakeClientCredentials({ca_file_, "", ""}, /*insecure=*/false);
    EXPECT_TRUE(creds.ok()) << creds.status();
    return std::make_unique<GatewayClient>(
        pb::LandmarkGateway::NewStub(CreateBearerChannel(address_, *creds, "lm-token")),
        std::move(retry));
  }

  prov::testing::TestCa ca_{"landmark-test-ca"};
  prov::testing::TestCa::KeyPair server_key_;
  server::testing::TempDir dir_;
  FakeGateway gateway_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_, ca_file_, state_file_;
  TestLandmark landmark_;
  FakeClock clock_{absl::FromUnixSeconds(1'800'000'000)};
};

TEST_F(LandmarkRoundTest, RecordsArriveSignedAndSeqRisesAcrossRestart) {
  TestNode node = TestNode::Make();
  TestLandmark other = TestLandmark::Make("lm-ams-1");
  auto node_responder =
      agent::Responder::Start("127.0.0.1:0",
                              {.self_id = "gpu-017",
                               .landmark_keys = {{landmark_.id, landmark_.key.public_key}},
                               .limits = {}},
                              node.Signer(), clock_);
  auto other_responder =
      agent::Responder::Start("127.0.0.1:0",
                              {.self_id = other.id,
                               .landmark_keys = {{landmark_.id, landmark_.key.public_key}},
                               .limits = {}},
                              other.Signer(), clock_);
  ASSERT_TRUE(node_responder.ok() && other_responder.ok());
  // This landmark's own responder starts with no keys; the assignment gives it lm-ams-1's.
  auto own_responder = agent::Responder::Start(
      "127.0.0.1:0", {.self_id = landmark_.id, .landmark_keys = {}, .limits = {}},
      landmark_.Signer(), clock_);
  ASSERT_TRUE(own_responder.ok());
  {
    absl::MutexLock lock(&gateway_.mu);
    pb::Assignment& a = gateway_.assignment;
    a.set_landmark_id(landmark_.id);
    a.set_probes_per_burst(4);
    a.set_probe_spacing_ms(2);
    a.set_round_interval_seconds(30);
    pb::ProbeTarget* n = a.add_targets();
    n->set_kind(pb::PROBE_TARGET_KIND_NODE);
    n->set_target_id("gpu-017");
    n->set_udp_address((*node_responder)->local_address().ToString());
    n->set_public_key(node.spki);
    pb::ProbeTarget* l = a.add_targets();
    l->set_kind(pb::PROBE_TARGET_KIND_LANDMARK);
    l->set_target_id(other.id);
    l->set_udp_address((*other_responder)->local_address().ToString());
    l->set_public_key(other.key.public_key);
    pb::ProbeTarget* bad = a.add_targets();  // an unusable address is skipped, not fatal
    bad->set_kind(pb::PROBE_TARGET_KIND_NODE);
    bad->set_target_id("gpu-018");
    bad->set_udp_address("no-port");
  }
  auto run_round = [&](uint64_t expect_first_seq) {
    auto client = Client();
    auto signer = RecordSigner::Open(landmark_.id, landmark_.key.secret_key, state_file_, clock_);
    ASSERT_TRUE(signer.ok()) << signer.status();
    EXPECT_EQ(signer->last_seq(), expect_first_seq - 1);
    Prober prober(testing::ClientSocket(), landmark_.id, landmark_.key.secret_key, 1);
    Landmark lm(*client, prober, *signer, own_responder->get(), {}, absl::Milliseconds(300));
    auto round = lm.RunRound(landmark_.id);
    ASSERT_TRUE(round.ok()) << round.status();
    EXPECT_EQ(round->targets, 3u);
    EXPECT_EQ(round->skipped, 1u);
    EXPECT_EQ(round->submitted.accepted, 2u);
    EXPECT_EQ(round->interval, absl::Seconds(30));
  };
  run_round(1);
  run_round(3);  // a restart: new signer, same state file

  absl::MutexLock lock(&gateway_.mu);
  EXPECT_EQ(gateway_.requested_id, "lm-fra-1");
  EXPECT_EQ(gateway_.token, "Bearer lm-token");
  ASSERT_EQ(gateway_.records.size(), 4u);
  uint64_t expect_seq = 1;
  for (const pb::SignedMeasurement& r : gateway_.records) {
    EXPECT_TRUE(location::VerifyEd25519Raw(landmark_.key.public_key,
                                           location::MeasurementSigningMessage(r.measurement()),
                                           r.landmark_signature()));
    EXPECT_FALSE(location::VerifyEd25519Raw(other.key.public_key,
                                            location::MeasurementSigningMessage(r.measurement()),
                                            r.landmark_signature()));
    pb::Measurement m;
    ASSERT_TRUE(m.ParseFromString(r.measurement()));
    EXPECT_EQ(m.landmark_id(), "lm-fra-1");
    EXPECT_EQ(m.landmark_seq(), expect_seq++);
    EXPECT_EQ(m.measured_at().seconds(), 1'800'000'000);
    EXPECT_EQ(m.probes_sent(), 4u);
    EXPECT_EQ(m.answers_valid(), 4u) << m.target_id();
    EXPECT_GT(m.rtt_min_ms(), 0.0);
  }
  // The assignment gave this landmark's responder lm-ams-1's key: it now answers its probes.
  location::UdpSocket client = testing::ClientSocket();
  ASSERT_TRUE(
      client.SendTo(other.Probe(landmark_.id, Nonce('x'), 1), (*own_responder)->local_address())
          .ok());
  auto answer = client.Receive(absl::Milliseconds(500));
  ASSERT_TRUE(answer.ok() && answer->has_value());
  auto parsed = location::ParseAnswer((*answer)->bytes);
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(location::VerifyEd25519Raw(
      landmark_.key.public_key, location::AnswerMessage(Nonce('x'), other.id, landmark_.id, 1),
      parsed->signature));
}

TEST_F(LandmarkRoundTest, RetriesUnavailableWithBackoffButNotOtherErrors) {
  std::vector<absl::Duration> slept;
  RetryPolicy retry{.max_attempts = 4,
                    .initial_backoff = absl::Milliseconds(200),
                    .max_backoff = absl::Milliseconds(300),
                    .sleep = [&](absl::Duration d) { slept.push_back(d); }};
  {
    absl::MutexLock lock(&gateway_.mu);
    gateway_.unavailable_left = 2;
  }
  auto client = Client(retry);
  EXPECT_TRUE(client->GetAssignment("lm-fra-1").ok());
  EXPECT_EQ(slept, (std::vector<absl::Duration>{absl::Milliseconds(200), absl::Milliseconds(300)}));

  slept.clear();
  {
    absl::MutexLock lock(&gateway_.mu);
    gateway_.unavailable_left = 10;
  }
  auto gave_up = client->GetAssignment("lm-fra-1");
  ASSERT_FALSE(gave_up.ok());
  EXPECT_TRUE(absl::IsUnavailable(gave_up.status()));
  EXPECT_NE(gave_up.status().message().find("after 4 attempts"), std::string::npos);
  EXPECT_EQ(slept.size(), 3u);

  slept.clear();
  {
    absl::MutexLock lock(&gateway_.mu);
    gateway_.unavailable_left = 0;
    gateway_.deny = true;
  }
  auto denied = client->GetAssignment("lm-fra-1");
  ASSERT_FALSE(denied.ok());
  EXPECT_TRUE(absl::IsPermissionDenied(denied.status()));
  EXPECT_NE(denied.status().message().find("not a landmark"), std::string::npos);
  EXPECT_TRUE(slept.empty());
}

TEST_F(LandmarkRoundTest, SubmitsInBatchesOfAtMostOneThousand) {
  {
    absl::MutexLock lock(&gateway_.mu);
    gateway_.refuse_first_of_batch = true;
  }
  std::vector<pb::SignedMeasurement> records(2500);
  for (size_t i = 0; i < records.size(); ++i) records[i].set_measurement(std::to_string(i));
  auto summary = Client()->Submit(records);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->batches, 3u);
  EXPECT_EQ(summary->accepted, 2497u);
  ASSERT_EQ(summary->refused.size(), 3u);
  EXPECT_EQ(summary->refused[1].first, 1000u);  // indices are into the whole list
  EXPECT_EQ(summary->refused[2].first, 2000u);
  EXPECT_EQ(summary->refused[2].second, "landmark_seq not rising");
  absl::MutexLock lock(&gateway_.mu);
  EXPECT_EQ(gateway_.batch_sizes, (std::vector<int>{1000, 1000, 500}));
}

TEST_F(LandmarkRoundTest, MalformedStateFileIsAnErrorNamingIt) {
  std::ofstream(state_file_) << "garbage\n";
  auto signer = RecordSigner::Open(landmark_.id, landmark_.key.secret_key, state_file_, clock_);
  ASSERT_FALSE(signer.ok());
  EXPECT_NE(signer.status().message().find(state_file_), std::string::npos);
}

}  // namespace
}  // namespace prov::landmark
