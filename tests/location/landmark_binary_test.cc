// The real prov-landmark binary, --once, against an in-test LandmarkGateway (plain text on
// 127.0.0.1, `insecure: true`): config, key file, state file, responder and prober wired by
// main.cc. Two runs: landmark_seq continues from the state file; a bad config exits 2 naming it.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/location/responder.h"
#include "common/clock.h"
#include "common/fs.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "tests/location/fake_landmark_gateway.h"
#include "tests/location/location_test_util.h"
#include "tests/server/temp_dir.h"

namespace prov::landmark {
namespace {

using testing::TestLandmark;
using testing::TestNode;

struct RunResult {
  int exit_code = -1;
  std::string err;
};

RunResult RunLandmark(const std::string& config, const std::string& err_file) {
  const char* bin = std::getenv("PROV_BIN_DIR");
  const std::string cmd = absl::StrCat(bin != nullptr ? bin : "build/release/bin",
                                       "/prov-landmark --once --config ", config, " 2>", err_file);
  RunResult r;
  const int status = std::system(cmd.c_str());
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = ReadFileToString(err_file).value_or("");
  return r;
}

TEST(LandmarkBinaryTest, OneRoundThenSeqContinuesAcrossRuns) {
  server::testing::TempDir dir;
  TestLandmark lm = TestLandmark::Make("lm-fra-1");
  const std::string key_file = dir.path() + "/lm.key";
  ASSERT_TRUE(integrity::SaveSigningKey(key_file, lm.key).ok());
  TestNode node = TestNode::Make();
  auto responder = agent::Responder::Start(
      "127.0.0.1:0",
      {.self_id = "gpu-017", .landmark_keys = {{lm.id, lm.key.public_key}}, .limits = {}},
      node.Signer(), RealClock::Get());
  ASSERT_TRUE(responder.ok());

  FakeGateway gateway;
  {
    absl::MutexLock lock(&gateway.mu);
    gateway.assignment.set_probes_per_burst(4);
    gateway.assignment.set_probe_spacing_ms(1);
    pb::ProbeTarget* t = gateway.assignment.add_targets();
    t->set_kind(pb::PROBE_TARGET_KIND_NODE);
    t->set_target_id("gpu-017");
    t->set_udp_address((*responder)->local_address().ToString());
    t->set_public_key(node.spki);
  }
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&gateway);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);

  const std::string config = dir.path() + "/lm.yaml";
  std::ofstream(config) << "id: lm-fra-1\nkey_file: " << key_file
                        << "\nudp_listen: \"127.0.0.1:0\"\nanswer_timeout_ms: 300\n"
                        << "provd: {address: \"127.0.0.1:" << port << "\", insecure: true}\n";
  const std::string err_file = dir.path() + "/err.txt";
  RunResult first = RunLandmark(config, err_file);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_TRUE(absl::StrContains(first.err, "1 records accepted")) << first.err;
  EXPECT_TRUE(absl::StrContains(first.err, "answering on 127.0.0.1:")) << first.err;
  EXPECT_EQ(ReadFileToString(key_file + ".state").value_or(""), "landmark_seq 1\n");
  RunResult second = RunLandmark(config, err_file);
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(ReadFileToString(key_file + ".state").value_or(""), "landmark_seq 2\n");

  absl::MutexLock lock(&gateway.mu);
  ASSERT_EQ(gateway.records.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const pb::SignedMeasurement& r = gateway.records[i];
    EXPECT_TRUE(location::VerifyEd25519Raw(lm.key.public_key,
                                           location::MeasurementSigningMessage(r.measurement()),
                                           r.landmark_signature()));
    pb::Measurement m;
    ASSERT_TRUE(m.ParseFromString(r.measurement()));
    EXPECT_EQ(m.landmark_seq(), i + 1);
    EXPECT_EQ(m.answers_valid(), 4u);
  }
  server->Shutdown();
}

TEST(LandmarkBinaryTest, BadConfigExitsTwoNamingTheKey) {
  server::testing::TempDir dir;
  const std::string config = dir.path() + "/lm.yaml";
  std::ofstream(config) << "id: lm-fra-1\nkey_file: k\nprovd: {address: a:1, tsl_ca: x}\n";
  RunResult r = RunLandmark(config, dir.path() + "/err.txt");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(r.err, "unknown key 'provd.tsl_ca'")) << r.err;
}

}  // namespace
}  // namespace prov::landmark
