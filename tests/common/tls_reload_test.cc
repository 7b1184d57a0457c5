// Server TLS with certificate rotation (common/grpc/tls.h with a TlsFileStager): a real gRPC
// server on 127.0.0.1 with the standard health service; each check opens a new connection and
// reads the common name of the certificate the server presented. The files are rewritten in place
// as a certificate manager would; the stager looks every second and gRPC's file watcher reads its
// checked copies every second (real time).
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "common/fs.h"
#include "common/grpc/tls.h"
#include "common/grpc/tls_stager.h"
#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "gtest/gtest.h"
#include "tests/compliance/test_certs.h"
#include "tests/server/temp_dir.h"
#include "tests/server/unary_bytes.h"

namespace prov {
namespace {

class TlsReloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    files_.cert_file = dir_.path() + "/server.pem";
    files_.key_file = dir_.path() + "/server.key";
    Write(ca_.IssueWithKey("first", "DNS:localhost,IP:127.0.0.1", "serverAuth"));
  }
  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown(std::chrono::system_clock::now());
  }

  void Write(const testing::TestCa::KeyPair& pair) {
    ASSERT_TRUE(WriteFileAtomically(files_.cert_file, pair.cert_pem).ok());
    ASSERT_TRUE(WriteFileAtomically(files_.key_file, pair.key_pem).ok());
  }

  void Start(bool rotate) {
    if (rotate) {
      auto stager = TlsFileStager::Start({.source = files_,
                                          .stage_dir = dir_.path() + "/stage",
                                          .name = "grpc",
                                          .check_every = absl::Seconds(1)});
      ASSERT_TRUE(stager.ok()) << stager.status();
      stager_ = *std::move(stager);
    }
    auto credentials = MakeServerCredentials(files_, /*insecure=*/false,
                                             /*require_client_cert=*/false, stager_.get());
    ASSERT_TRUE(credentials.ok()) << credentials.status();
    grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", *credentials, &port_);
    // A server needs one service of its own for gRPC to serve the health service on the callback
    // API; the generic one answers UNIMPLEMENTED to anything else.
    builder.RegisterCallbackGenericService(&generic_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }

  // The common name the server presents to a new connection; "" when the call failed.
  std::string ServedName() {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = ca_.pem();
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a new connection every time
    args.SetSslTargetNameOverride("localhost");
    auto channel = grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port_),
                                             grpc::SslCredentials(ssl), args);
    grpc::ClientContext ctx;
    std::string reply;
    grpc::Status status =
        testing::UnaryBytes(channel, "/grpc.health.v1.Health/Check", "", &reply, &ctx);
    if (!status.ok()) {
      last_error_ = status.error_message();
      return "";
    }
    auto names = ctx.auth_context()->FindPropertyValues("x509_common_name");
    return names.empty() ? "" : std::string(names.front().data(), names.front().size());
  }

  // Re-checks `done` every 50 ms for up to 20 s.
  static bool PollFor(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return done();
  }

  // Checks until the server presents `name` (true) or `timeout` passes (false).
  bool ServesWithin(const std::string& name, std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (ServedName() == name) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  server::testing::TempDir dir_;
  testing::TestCa ca_{"provd-ca"};
  TlsFiles files_;
  int port_ = 0;
  std::string last_error_;  // of the last failed check
  std::unique_ptr<TlsFileStager> stager_;
  grpc::CallbackGenericService generic_;
  std::unique_ptr<grpc::Server> server_;
};

TEST_F(TlsReloadTest, RotatedFilesAreServedToNewConnectionsWithoutARestart) {
  Start(/*rotate=*/true);
  ASSERT_EQ(ServedName(), "first") << last_error_;
  Write(ca_.IssueWithKey("second", "DNS:localhost,IP:127.0.0.1", "serverAuth"));
  EXPECT_TRUE(ServesWithin("second", std::chrono::seconds(20))) << "still served: " << ServedName();
}

// A rotation caught halfway (the new certificate written, its key not yet) must not break
// handshakes: the previous pair stays until the key follows.
TEST_F(TlsReloadTest, ACertificateWithoutItsKeyKeepsThePreviousPair) {
  Start(/*rotate=*/true);
  ASSERT_EQ(ServedName(), "first") << last_error_;
  auto next = ca_.IssueWithKey("next", "DNS:localhost,IP:127.0.0.1", "serverAuth");
  ASSERT_TRUE(WriteFileAtomically(files_.cert_file, next.cert_pem).ok());
  ASSERT_TRUE(PollFor([&] { return stager_->counts().failed >= 2; }))
      << "the stager looks at the half-written pair at each check";
  EXPECT_EQ(stager_->counts().reloads, 0u);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // a watcher period and a half
  EXPECT_EQ(ServedName(), "first");
  ASSERT_TRUE(WriteFileAtomically(files_.key_file, next.key_pem).ok());
  EXPECT_TRUE(ServesWithin("next", std::chrono::seconds(20))) << "still served: " << ServedName();
  EXPECT_EQ(stager_->counts().reloads, 1u);
}

TEST_F(TlsReloadTest, StartNamesTheFlagOfAPairThatDoesNotBelongTogether) {
  auto other = ca_.IssueWithKey("other", "DNS:localhost", "serverAuth");
  Write(ca_.IssueWithKey("first", "DNS:localhost", "serverAuth"));
  ASSERT_TRUE(WriteFileAtomically(files_.key_file, other.key_pem).ok());
  auto stager =
      TlsFileStager::Start({.source = files_, .stage_dir = dir_.path() + "/stage", .name = "grpc"});
  ASSERT_FALSE(stager.ok());
  EXPECT_NE(stager.status().message().find("--tls-key"), std::string::npos) << stager.status();
  EXPECT_NE(stager.status().message().find("does not belong to the certificate"), std::string::npos)
      << stager.status();
  files_.ca_file = dir_.path() + "/missing-ca.pem";
  Write(ca_.IssueWithKey("first", "DNS:localhost", "serverAuth"));
  stager =
      TlsFileStager::Start({.source = files_, .stage_dir = dir_.path() + "/stage", .name = "grpc"});
  ASSERT_FALSE(stager.ok());
  EXPECT_NE(stager.status().message().find("--tls-client-ca"), std::string::npos)
      << stager.status();
}

TEST_F(TlsReloadTest, WithoutReloadTheFilesAreReadOnce) {
  Start(/*rotate=*/false);
  ASSERT_EQ(ServedName(), "first") << last_error_;
  Write(ca_.IssueWithKey("second", "DNS:localhost,IP:127.0.0.1", "serverAuth"));
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  EXPECT_EQ(ServedName(), "first");
}

}  // namespace
}  // namespace prov
