// Mutual TLS end to end: a CA, a server and a client certificate made with the openssl CLI;
// provd with --tls-client-ca; the agent's uplink (and provctl) succeed with the client
// certificate and fail without it.
#include <sys/stat.h>

#include <fstream>
#include <tuple>

#include "agent/uplink/uplink.h"
#include "common/clock.h"
#include "common/grpc/tls.h"
#include "gtest/gtest.h"
#include "tests/integration/provd_process.h"
#include "tests/integration/subprocess.h"
#include "tests/integration/test_certs.h"
#include "tests/uplink/test_util.h"

namespace prov {
namespace {

using testing::MakeCertificates;
using testing::RunCommand;

class MtlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (RunCommand({"openssl", "version"}).first != 0) GTEST_SKIP() << "openssl CLI not found";
    ASSERT_EQ(MakeCertificates(dir_.path()), "");
    std::string data = dir_.Sub("provd");
    ASSERT_EQ(::mkdir(data.c_str(), 0755), 0);
    // People may authenticate with client certificates from the people CA. The agents' node
    // certificate's CN is listed too (as admin!): it must still get nothing.
    std::ofstream(dir_.Sub("cert-roles"))
        << "# key role\ncn:prov-test-person viewer\ncn:prov-test-client admin\n";
    provd_ = std::make_unique<testing::ProvdProcess>(
        data, 0,
        std::vector<std::string>{
            "--tls-cert", dir_.Sub("server.pem"), "--tls-key", dir_.Sub("server.key"),
            "--tls-client-ca", dir_.Sub("client-cas.pem"), "--people-ca", dir_.Sub("people-ca.pem"),
            "--cert-roles", dir_.Sub("cert-roles")});
    ASSERT_TRUE(provd_->ok()) << provd_->log();
  }

  std::unique_ptr<agent::Uplink> MakeUplink(const TlsFiles& files, const std::string& spool) {
    auto creds = MakeClientCredentials(files, /*insecure=*/false);
    EXPECT_TRUE(creds.ok()) << creds.status();
    agent::UplinkOptions options;
    options.server_address = provd_->address();
    options.credentials = *creds;
    options.spool_dir = dir_.Sub(spool);
    options.spool_fsync = false;
    options.initial_backoff = absl::Milliseconds(100);
    options.max_backoff = absl::Milliseconds(500);
    auto uplink = agent::Uplink::Create(options, RealClock::Get());
    EXPECT_TRUE(uplink.ok()) << uplink.status();
    return *std::move(uplink);
  }

  static provenance::v1::NodeReport Report() {
    provenance::v1::NodeReport r;
    r.mutable_node()->set_node_id("mtls-node");
    r.mutable_node()->set_hostname("mtls-node");
    r.mutable_node()->set_boot_id("boot-1");
    r.set_interval_seconds(10);
    r.mutable_collected_at()->set_seconds(absl::ToUnixSeconds(absl::Now()));
    return r;
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::ProvdProcess> provd_;
};

TEST_F(MtlsTest, UplinkWithClientCertificateIsAcked) {
  auto uplink =
      MakeUplink({dir_.Sub("ca.pem"), dir_.Sub("client.pem"), dir_.Sub("client.key")}, "spool-ok");
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(uplink->Submit(Report()).ok());
  ASSERT_TRUE(
      testing::PollUntil([&] { return uplink->Stats().spool_depth == 0; }, [&] { uplink->Poll(); }))
      << provd_->log();
  EXPECT_EQ(uplink->Stats().acked_seq, 3u);
  auto [rc, out] = RunCommand({testing::BinDir() + "/provctl", "--server", provd_->address(),
                               "--tls-ca", dir_.Sub("ca.pem"), "--tls-cert", dir_.Sub("person.pem"),
                               "--tls-key", dir_.Sub("person.key"), "nodes"});
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("mtls-node"), std::string::npos) << out;
}

TEST_F(MtlsTest, ClientCertificateRoleIsEnforced) {
  auto run_as = [&](const std::string& cert, std::vector<std::string> args) {
    const std::vector<std::string> tls = {
        "--server",   provd_->address(),       "--tls-ca",  dir_.Sub("ca.pem"),
        "--tls-cert", dir_.Sub(cert + ".pem"), "--tls-key", dir_.Sub(cert + ".key")};
    args.insert(args.begin(), tls.begin(), tls.end());
    args.insert(args.begin(), testing::BinDir() + "/provctl");
    return RunCommand(args);
  };
  auto run = [&](std::vector<std::string> args) { return run_as("person", std::move(args)); };
  auto [rc, out] = run({"whoami"});
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("cert:prov-test-person (viewer, by certificate)"), std::string::npos) << out;
  std::tie(rc, out) = run({"tokens", "issue", "mallory", "--role", "admin"});
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("needs the admin role; cert:prov-test-person is viewer"), std::string::npos)
      << out;
  // Issue 14: the node certificate's CN is in cert-roles (as admin), but a node is never a person.
  std::tie(rc, out) = run_as("client", {"whoami"});
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("names a node (spiffe://prov.test/node/mtls-node)"), std::string::npos) << out;
  // The agents' CA signed the person's CN: not from the people CA, so not a person.
  std::tie(rc, out) = run_as("impostor", {"whoami"});
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("not issued by provd's --people-ca"), std::string::npos) << out;
  // The bootstrap admin token works over the same TLS connection and outranks the certificate.
  std::tie(rc, out) = run({"--token-file", provd_->token_path(), "whoami"});
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("token:bootstrap-admin (admin"), std::string::npos) << out;
}

// Issue 10: the node certificate binds the stream. A report under another node's id is refused
// (nothing acked); `provctl nodes revoke` (admin, audited) then refuses the node's own reports.
TEST_F(MtlsTest, NodeSpeaksOnlyForItselfAndRevokedNodeIsRefused) {
  auto admin = [&](std::vector<std::string> args) {
    const std::vector<std::string> head = {testing::BinDir() + "/provctl",
                                           "--server",
                                           provd_->address(),
                                           "--tls-ca",
                                           dir_.Sub("ca.pem"),
                                           "--tls-cert",
                                           dir_.Sub("person.pem"),
                                           "--tls-key",
                                           dir_.Sub("person.key"),
                                           "--token-file",
                                           provd_->token_path()};
    args.insert(args.begin(), head.begin(), head.end());
    return RunCommand(args);
  };
  auto spoof = MakeUplink({dir_.Sub("ca.pem"), dir_.Sub("client.pem"), dir_.Sub("client.key")},
                          "spool-spoof");
  provenance::v1::NodeReport other = Report();
  other.mutable_node()->set_node_id("someone-else");
  ASSERT_TRUE(spoof->Submit(other).ok());
  // Refused and audited. Wait for the audit entry itself, not for reconnects: on a loaded machine
  // a reconnect can also be a connection attempt that timed out before the report was sent.
  int rc = 0;
  std::string out;
  ASSERT_TRUE(testing::PollUntil(
      [&] {
        std::tie(rc, out) = admin({"audit", "log", "--action", "node."});
        return rc == 0 && out.find("node.identity_mismatch") != std::string::npos;
      },
      [&] { spoof->Poll(); }, std::chrono::seconds(60)))
      << rc << " " << out;
  EXPECT_NE(out.find("someone-else"), std::string::npos) << out;
  EXPECT_EQ(spoof->Stats().acked_seq, 0u);
  spoof.reset();

  std::tie(rc, out) = admin({"nodes", "revoke", "mtls-node", "--note", "key leaked"});
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("revoked node mtls-node"), std::string::npos) << out;
  std::tie(rc, out) = admin({"nodes", "revocations"});
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("mtls-node"), std::string::npos) << out;
  EXPECT_NE(out.find("key leaked"), std::string::npos) << out;
  auto uplink = MakeUplink({dir_.Sub("ca.pem"), dir_.Sub("client.pem"), dir_.Sub("client.key")},
                           "spool-revoked");
  ASSERT_TRUE(uplink->Submit(Report()).ok());
  ASSERT_TRUE(
      testing::PollUntil([&] { return uplink->Stats().reconnects >= 2; }, [&] { uplink->Poll(); }));
  EXPECT_EQ(uplink->Stats().acked_seq, 0u);
  EXPECT_EQ(uplink->Stats().spool_depth, 1u);
}

TEST_F(MtlsTest, UplinkWithoutClientCertificateIsRefused) {
  auto uplink = MakeUplink({dir_.Sub("ca.pem"), "", ""}, "spool-refused");
  ASSERT_TRUE(uplink->Submit(Report()).ok());
  // Two failed attempts in a row: the handshake is refused, the report stays spooled.
  ASSERT_TRUE(testing::PollUntil(
      [&] { return uplink->Stats().reconnects >= 1 && uplink->NextAttemptAt().has_value(); },
      [&] { uplink->Poll(); }));
  agent::UplinkStats stats = uplink->Stats();
  EXPECT_EQ(stats.spool_depth, 1u);
  EXPECT_EQ(stats.acked_seq, 0u);
  EXPECT_FALSE(stats.connected);
  auto [rc, out] = RunCommand({testing::BinDir() + "/provctl", "--server", provd_->address(),
                               "--tls-ca", dir_.Sub("ca.pem"), "--timeout", "5", "nodes"});
  EXPECT_EQ(rc, 1) << out;
}

}  // namespace
}  // namespace prov
