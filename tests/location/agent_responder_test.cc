// The real prov-agent binary with --location-listen: bad flags and keys files stop it with an
// error naming the line; a running agent answers a configured landmark's probe with a signature of
// its node key, and its reports (spooled: provd is unreachable here) carry the advertised address
// and the responder's counters.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/fs.h"
#include "gtest/gtest.h"
#include "provenance/v1/report.pb.h"
#include "tests/location/location_test_util.h"
#include "tests/server/temp_dir.h"

namespace prov {
namespace {

using testing::Nonce;
using testing::TestLandmark;
using testing::TestNode;

std::string AgentPath() {
  const char* bin = std::getenv("PROV_BIN_DIR");
  return std::string(bin != nullptr ? bin : "build/release/bin") + "/prov-agent";
}

class AgentResponderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    landmark_ = TestLandmark::Make("lm-fra-1");
    node_ = TestNode::Make();
    key_file_ = dir_.path() + "/node.key";
    keys_file_ = dir_.path() + "/landmarks.txt";
    std::ofstream(key_file_) << node_.key_pem;
    std::ofstream(keys_file_) << "# test landmarks\nlm-fra-1 ed25519-public "
                              << absl::BytesToHexString(landmark_.key.public_key) << "\n";
  }
  void TearDown() override {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }

  // Starts the agent in the background (stderr to a file); returns immediately.
  void Start(const std::vector<std::string>& extra) {
    std::vector<std::string> args = {AgentPath(),
                                     "--server=127.0.0.1:1",
                                     "--insecure",
                                     "--interval=1s",
                                     "--node-id=gpu-017",
                                     "--nvml-library=/nonexistent/libnvidia-ml.so.1",
                                     "--spool-dir=" + dir_.path() + "/spool"};
    args.insert(args.end(), extra.begin(), extra.end());
    err_file_ = dir_.path() + "/stderr.txt";
    pid_ = ::fork();
    if (pid_ == 0) {
      FILE* err = std::freopen(err_file_.c_str(), "w", stderr);
      (void)err;
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      std::_Exit(127);
    }
  }
  int Wait() {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  std::string Err() { return ReadFileToString(err_file_).value_or(""); }

  server::testing::TempDir dir_;
  TestLandmark landmark_;
  TestNode node_;
  std::string key_file_, keys_file_, err_file_;
  pid_t pid_ = -1;
};

TEST_F(AgentResponderTest, BadKeysFileStopsTheAgentNamingTheLine) {
  std::ofstream(keys_file_) << "# comment\nlm-fra-1 ed25519-public abcd\n";
  Start({"--location-listen=127.0.0.1:0", "--landmark-keys=" + keys_file_,
         "--node-key=" + key_file_});
  EXPECT_EQ(Wait(), 2);
  EXPECT_TRUE(
      absl::StrContains(Err(), "--landmark-keys: " + keys_file_ + ": line 2: key has 4 hex digits"))
      << Err();
}

TEST_F(AgentResponderTest, BadFlagsAreClearErrors) {
  Start({"--location-listen=127.0.0.1:0", "--node-key=" + key_file_});
  EXPECT_EQ(Wait(), 2);
  EXPECT_TRUE(absl::StrContains(Err(), "--location-listen: needs --landmark-keys")) << Err();
  Start({"--location-listen=nonsense", "--landmark-keys=" + keys_file_, "--node-key=" + key_file_});
  EXPECT_EQ(Wait(), 2);
  EXPECT_TRUE(absl::StrContains(Err(), "--location-listen: address 'nonsense'")) << Err();
  // UDP addresses are numeric (finding 12): a host name is named, never looked up.
  Start({"--location-listen=localhost:0", "--landmark-keys=" + keys_file_,
         "--node-key=" + key_file_});
  EXPECT_EQ(Wait(), 2);
  EXPECT_TRUE(absl::StrContains(Err(),
                                "--location-listen: address 'localhost:0': host "
                                "'localhost' is not a numeric"))
      << Err();
  Start({"--location-listen=127.0.0.1:0", "--location-advertise=gpu-017.example:7701",
         "--landmark-keys=" + keys_file_, "--node-key=" + key_file_});
  EXPECT_EQ(Wait(), 2);
  EXPECT_TRUE(absl::StrContains(Err(),
                                "--location-advertise: address 'gpu-017.example:7701': "
                                "host 'gpu-017.example' is not a numeric"))
      << Err();
  Start({"--location-listen=127.0.0.1:0", "--landmark-keys=" + keys_file_,
         "--node-key=" + keys_file_});
  EXPECT_EQ(Wait(), 2);
  EXPECT_TRUE(absl::StrContains(Err(), "not a PEM private key")) << Err();
}

TEST_F(AgentResponderTest, AnswersProbesAndReportsCarryAddressAndCounters) {
  // Pick a free UDP port so the advertised address is known in advance.
  uint16_t port = 0;
  {
    auto probe_socket = testing::ClientSocket();
    port = probe_socket.local_address().port();
  }
  const std::string listen = absl::StrCat("127.0.0.1:", port);
  Start(
      {"--location-listen=" + listen, "--landmark-keys=" + keys_file_, "--node-key=" + key_file_});
  const auto target = *location::ResolveUdpAddress(listen);
  location::UdpSocket client = testing::ClientSocket();
  std::optional<std::string> answer;
  for (int attempt = 0; attempt < 50 && !answer.has_value(); ++attempt) {
    ASSERT_TRUE(client.SendTo(landmark_.Probe("gpu-017", Nonce('q'), 3), target).ok());
    auto got = client.Receive(absl::Milliseconds(100));
    if (got.ok() && got->has_value()) answer = (*got)->bytes;
  }
  ASSERT_TRUE(answer.has_value()) << Err();
  auto parsed = location::ParseAnswer(*answer);
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(location::VerifyNodeAnswer(
      node_.spki, location::AnswerMessage(Nonce('q'), "lm-fra-1", "gpu-017", 3),
      parsed->signature));
  // One refused probe (wrong target) for the counters. Nothing answers it; a late answer to one
  // of the retried probes above may still arrive (a starved responder), and is not its answer.
  ASSERT_TRUE(client.SendTo(landmark_.Probe("gpu-999", Nonce('r'), 4), target).ok());
  while (true) {
    auto got = client.Receive(absl::Milliseconds(200));
    ASSERT_TRUE(got.ok()) << got.status();
    if (!got->has_value()) break;
    auto late = location::ParseAnswer((*got)->bytes);
    ASSERT_TRUE(late.ok()) << late.status();
    EXPECT_EQ(late->nonce, Nonce('q')) << "the probe for another node was answered";
  }

  // Reports are spooled (provd is unreachable); wait for one collected after both probes.
  provenance::v1::NodeReport last;
  for (int i = 0; i < 60; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto names = ListDirectory(dir_.path() + "/spool");
    if (!names.ok()) continue;
    for (const std::string& name : *names) {
      if (!absl::StartsWith(name, "report-")) continue;
      auto bytes = ReadFileToString(dir_.path() + "/spool/" + name);
      provenance::v1::NodeReport r;
      if (bytes.ok() && r.ParseFromString(*bytes)) last = r;
    }
    if (last.health().location_responder().refused_wrong_target() == 1) break;
  }
  EXPECT_EQ(last.node().location_responder(), listen);
  EXPECT_GE(last.health().location_responder().answered(), 1u);
  EXPECT_EQ(last.health().location_responder().refused_wrong_target(), 1u);
  EXPECT_TRUE(absl::StrContains(Err(), "location responder on " + listen)) << Err();
}

}  // namespace
}  // namespace prov
