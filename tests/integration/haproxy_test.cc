// Agents behind HAProxy (issue 12): deploy/haproxy/provd.cfg, as shipped, in front of two provd
// replicas with mutual TLS. The configuration is TCP passthrough, so the agent's node
// certificate reaches provd (a report is accepted only for the certificate's node); when the
// replica holding an agent's stream is SIGKILLed, HAProxy marks it down and the agent's next
// stream reaches the other one; every acked report is stored exactly once across the two.
//
// The replicas here are two provd on their own SQLite files (what this test checks is the load
// balancer, not the shared store; two replicas on one PostgreSQL come with provd on PostgreSQL).
// Skipped when haproxy is not installed, failed instead with PROV_REQUIRE_HAPROXY=1 (CI).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "agent/uplink/uplink.h"
#include "common/clock.h"
#include "common/grpc/tls.h"
#include "gtest/gtest.h"
#include "tests/integration/ledger_rows.h"
#include "tests/integration/provd_process.h"
#include "tests/integration/subprocess.h"
#include "tests/integration/test_certs.h"
#include "tests/uplink/test_util.h"

namespace prov {
namespace {

using testing::RunCommand;

bool Accepts(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

std::string SourceDir() {
  const char* dir = std::getenv("PROV_SOURCE_DIR");
  return dir != nullptr ? dir : ".";
}

class HaproxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const bool required = std::getenv("PROV_REQUIRE_HAPROXY") != nullptr &&
                          std::string(std::getenv("PROV_REQUIRE_HAPROXY")) == "1";
    if (RunCommand({"haproxy", "-v"}).first != 0) {
      if (required) FAIL() << "haproxy not installed (PROV_REQUIRE_HAPROXY=1)";
      GTEST_SKIP() << "haproxy not installed (Debian package haproxy)";
    }
    if (RunCommand({"openssl", "version"}).first != 0) GTEST_SKIP() << "openssl CLI not found";
    ASSERT_EQ(testing::MakeCertificates(dir_.path()), "");
    for (const std::string name : {"a", "b"}) {
      const std::string data = dir_.Sub("provd-" + name);
      ASSERT_EQ(::mkdir(data.c_str(), 0755), 0);
      auto provd = std::make_unique<testing::ProvdProcess>(
          data, 0,
          std::vector<std::string>{"--tls-cert", dir_.Sub("server.pem"), "--tls-key",
                                   dir_.Sub("server.key"), "--tls-client-ca",
                                   dir_.Sub("client-cas.pem")});
      ASSERT_TRUE(provd->ok()) << provd->log();
      data_dirs_.push_back(data);
      provds_.push_back(std::move(provd));
    }
    lb_port_ = testing::PickFreePort();
    const std::string config = SourceDir() + "/deploy/haproxy/provd.cfg";
    std::vector<std::string> argv = {"/usr/bin/env",
                                     "PROV_LB_BIND=127.0.0.1:" + std::to_string(lb_port_),
                                     "PROVD_A=" + provds_[0]->address(),
                                     "PROVD_B=" + provds_[1]->address(),
                                     "PROV_LB_STATS=" + dir_.Sub("haproxy.sock"),
                                     "haproxy",
                                     "-db",  // foreground
                                     "-f",
                                     config};
    // The shipped file must pass HAProxy's own check first.
    std::vector<std::string> check = argv;
    check.back() = config;
    check.insert(check.end() - 2, "-c");
    auto [rc, out] = RunCommand(check);
    ASSERT_EQ(rc, 0) << out;
    haproxy_ = std::make_unique<testing::Subprocess>(argv, dir_.Sub("haproxy.log"));
    ASSERT_TRUE(testing::PollUntil([&] { return Accepts(lb_port_); }, [] {}))
        << testing::ReadFile(dir_.Sub("haproxy.log"));
  }

  std::unique_ptr<agent::Uplink> MakeUplink(const std::string& spool) {
    auto creds = MakeClientCredentials(
        {dir_.Sub("ca.pem"), dir_.Sub("client.pem"), dir_.Sub("client.key")}, /*insecure=*/false);
    EXPECT_TRUE(creds.ok()) << creds.status();
    agent::UplinkOptions options;
    // The certificate names 127.0.0.1, which is also HAProxy's address: the TLS session is
    // between the agent and provd; HAProxy only relays its bytes.
    options.server_address = "127.0.0.1:" + std::to_string(lb_port_);
    options.credentials = *creds;
    options.spool_dir = dir_.Sub(spool);
    options.spool_fsync = false;
    options.initial_backoff = absl::Milliseconds(100);
    options.max_backoff = absl::Milliseconds(500);
    auto uplink = agent::Uplink::Create(options, RealClock::Get());
    EXPECT_TRUE(uplink.ok()) << uplink.status();
    return *std::move(uplink);
  }

  static provenance::v1::NodeReport Report(const std::string& node_id) {
    provenance::v1::NodeReport r;
    r.mutable_node()->set_node_id(node_id);
    r.mutable_node()->set_hostname(node_id);
    r.mutable_node()->set_boot_id("boot-1");
    r.set_interval_seconds(10);
    r.mutable_collected_at()->set_seconds(absl::ToUnixSeconds(absl::Now()));
    return r;
  }

  std::string Logs() {
    std::string out = "haproxy:\n" + testing::ReadFile(dir_.Sub("haproxy.log"));
    for (auto& p : provds_) out += "\nprovd:\n" + p->log();
    return out;
  }

  testing::TempDir dir_;
  std::vector<std::string> data_dirs_;
  std::vector<std::unique_ptr<testing::ProvdProcess>> provds_;
  std::unique_ptr<testing::Subprocess> haproxy_;
  int lb_port_ = 0;
};

TEST_F(HaproxyTest, NodeIdentityPassesThroughAndAgentsFailOverWithNothingLost) {
  auto uplink = MakeUplink("spool");
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(uplink->Submit(Report("mtls-node")).ok());
  ASSERT_TRUE(testing::PollUntil([&] { return uplink->Stats().spool_depth == 0; },
                                 [&] { uplink->Poll(); }, std::chrono::seconds(60)))
      << Logs();
  ASSERT_EQ(uplink->Stats().acked_seq, 5u);

  // Exactly one replica holds the stream's reports.
  std::string error;
  int holder = -1;
  for (int i = 0; i < 2; ++i) {
    auto ledger = testing::ReadLedger(data_dirs_[i] + "/provd.db", &error);
    if (ledger.count("mtls-node") > 0) {
      ASSERT_EQ(holder, -1) << "both replicas stored the node's reports";
      holder = i;
      EXPECT_EQ(ledger["mtls-node"].rows, 5);
      EXPECT_EQ(ledger["mtls-node"].distinct_seqs, 5);
    }
  }
  ASSERT_NE(holder, -1) << error << Logs();

  // Through the balancer, provd still sees the agent's certificate: a report for another node
  // is refused on whichever replica the stream lands, and nothing of it is acked.
  {
    auto spoof = MakeUplink("spool-spoof");
    ASSERT_TRUE(spoof->Submit(Report("someone-else")).ok());
    ASSERT_TRUE(testing::PollUntil([&] { return spoof->Stats().reconnects >= 2; },
                                   [&] { spoof->Poll(); }, std::chrono::seconds(60)))
        << Logs();
    EXPECT_EQ(spoof->Stats().acked_seq, 0u);
    EXPECT_EQ(spoof->Stats().spool_depth, 1u);
  }

  // The replica holding the stream dies (the kernel resets its sockets, which ends the agent's
  // stream through HAProxy); HAProxy marks it down, and the agent's next stream reaches the other
  // replica.
  provds_[holder]->Kill(SIGKILL);
  ASSERT_TRUE(provds_[holder]->Wait(std::chrono::seconds(10)).has_value());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(uplink->Submit(Report("mtls-node")).ok());
  ASSERT_TRUE(testing::PollUntil([&] { return uplink->Stats().spool_depth == 0; },
                                 [&] { uplink->Poll(); }, std::chrono::seconds(60)))
      << Logs();
  EXPECT_EQ(uplink->Stats().acked_seq, 10u);

  // Every acked report stored exactly once across the two: 1..5 on the dead one, 6..10 on the
  // survivor (acked reports are never resent, so neither holds the other's).
  auto dead = testing::ReadLedger(data_dirs_[holder] + "/provd.db", &error)["mtls-node"];
  auto live = testing::ReadLedger(data_dirs_[1 - holder] + "/provd.db", &error)["mtls-node"];
  EXPECT_EQ(dead.rows, 5);
  EXPECT_EQ(dead.max_seq, 5);
  EXPECT_EQ(live.rows, 5) << error;
  EXPECT_EQ(live.distinct_seqs, 5);
  EXPECT_EQ(live.min_seq, 6);
  EXPECT_EQ(live.max_seq, 10);
}

}  // namespace
}  // namespace prov
