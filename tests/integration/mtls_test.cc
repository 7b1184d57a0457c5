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
#include "tests/uplink/test_util.h"

namespace prov {
namespace {

using testing::RunCommand;

// Returns an error text, empty on success.
std::string MakeCertificates(const std::string& d) {
  auto run = [](const std::vector<std::string>& argv) -> std::string {
    auto [rc, out] = RunCommand(argv);
    return rc == 0 ? "" : "openssl failed (" + std::to_string(rc) + "): " + out;
  };
  std::string err =
      run({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", d + "/ca.key",
           "-out", d + "/ca.pem", "-days", "2", "-subj", "/CN=prov-test-ca"});
  if (!err.empty()) return err;
  for (const std::string name : {"server", "client"}) {
    std::string ext = d + "/" + name + ".ext";
    FILE* f = std::fopen(ext.c_str(), "w");
    std::fprintf(f, "basicConstraints=CA:FALSE\nextendedKeyUsage=%s\n%s",
                 name == "server" ? "serverAuth" : "clientAuth",
                 name == "server" ? "subjectAltName=DNS:localhost,IP:127.0.0.1\n" : "");
    std::fclose(f);
    err =
        run({"openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", d + "/" + name + ".key",
             "-out", d + "/" + name + ".csr", "-subj", "/CN=prov-test-" + name});
    if (!err.empty()) return err;
    err = run({"openssl", "x509", "-req", "-in", d + "/" + name + ".csr", "-CA", d + "/ca.pem",
               "-CAkey", d + "/ca.key", "-CAcreateserial", "-out", d + "/" + name + ".pem", "-days",
               "2", "-extfile", ext});
    if (!err.empty()) return err;
  }
  return "";
}

class MtlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (RunCommand({"openssl", "version"}).first != 0) GTEST_SKIP() << "openssl CLI not found";
    ASSERT_EQ(MakeCertificates(dir_.path()), "");
    std::string data = dir_.Sub("provd");
    ASSERT_EQ(::mkdir(data.c_str(), 0755), 0);
    // People may authenticate with client certificates: this one's common name is a viewer.
    std::ofstream(dir_.Sub("cert-roles")) << "# CN role\nprov-test-client viewer\n";
    provd_ = std::make_unique<testing::ProvdProcess>(
        data, 0,
        std::vector<std::string>{"--tls-cert", dir_.Sub("server.pem"), "--tls-key",
                                 dir_.Sub("server.key"), "--tls-client-ca", dir_.Sub("ca.pem"),
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
                               "--tls-ca", dir_.Sub("ca.pem"), "--tls-cert", dir_.Sub("client.pem"),
                               "--tls-key", dir_.Sub("client.key"), "nodes"});
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("mtls-node"), std::string::npos) << out;
}

TEST_F(MtlsTest, ClientCertificateRoleIsEnforced) {
  const std::vector<std::string> tls = {
      "--server",   provd_->address(),      "--tls-ca",  dir_.Sub("ca.pem"),
      "--tls-cert", dir_.Sub("client.pem"), "--tls-key", dir_.Sub("client.key")};
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), tls.begin(), tls.end());
    args.insert(args.begin(), testing::BinDir() + "/provctl");
    return RunCommand(args);
  };
  auto [rc, out] = run({"whoami"});
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("cert:prov-test-client (viewer, by certificate)"), std::string::npos) << out;
  std::tie(rc, out) = run({"tokens", "issue", "mallory", "--role", "admin"});
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("needs the admin role; cert:prov-test-client is viewer"), std::string::npos)
      << out;
  // The bootstrap admin token works over the same TLS connection and outranks the certificate.
  std::tie(rc, out) = run({"--token-file", provd_->token_path(), "whoami"});
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("token:bootstrap-admin (admin"), std::string::npos) << out;
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
