// Issue 10 §1, the agent's side of enrolment against a real in-process provd (port 0, real
// SQLite): NodeEnroller generates the node's key (0600, never sent), enrols with a one-time
// token, and the uplink's reports are acked over mTLS with the certificate it got; a restart
// reuses the stored certificate; at 2/3 of the lifetime (injected clock) it renews with its
// current certificate and the uplink takes the new credentials at its next connection; a revoked
// node's renewal fails and keeps the current files.
#include <sys/stat.h>

#include <string>

#include "agent/uplink/node_enroller.h"
#include "agent/uplink/uplink.h"
#include "common/fs.h"
#include "common/node_key.h"
#include "common/testing/fake_clock.h"
#include "gtest/gtest.h"
#include "provenance/v1/node_admin.grpc.pb.h"
#include "tests/server/enrollment_harness.h"
#include "tests/server/temp_dir.h"
#include "tests/uplink/test_util.h"

namespace prov::server {
namespace {

using agent::NodeEnroller;
using agent::NodeEnrollerOptions;

class EnrollmentAgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(provd_.Start().ok());
    ASSERT_TRUE(WriteFileAtomically(ca_file_, provd_.tls_ca().pem()).ok());
  }
  std::string NewToken(const std::string& node) {
    auto admin = provenance::v1::NodeAdminService::NewStub(provd_.server().InProcessChannel());
    provenance::v1::CreateEnrollTokenRequest request;
    request.set_node_id(node);
    provenance::v1::EnrollToken token;
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer " + provd_.server().internal_token());
    EXPECT_TRUE(admin->CreateEnrollToken(&ctx, request, &token).ok());
    return token.token();
  }
  NodeEnrollerOptions Options(const std::string& token_file) {
    return {.enroll_server = absl::StrCat("127.0.0.1:", provd_.server().enroll_port()),
            .ca_file = ca_file_,
            .cert_dir = cert_dir_,
            .token_file = token_file};
  }
  std::unique_ptr<agent::Uplink> MakeUplink(std::shared_ptr<grpc::ChannelCredentials> creds) {
    agent::UplinkOptions options;
    options.server_address = absl::StrCat("127.0.0.1:", provd_.server().port());
    options.credentials = std::move(creds);
    options.spool_dir = dir_.path() + "/spool";
    options.spool_fsync = false;
    options.initial_backoff = absl::Milliseconds(50);
    options.max_backoff = absl::Milliseconds(200);
    auto uplink = agent::Uplink::Create(options, RealClock::Get());
    EXPECT_TRUE(uplink.ok()) << uplink.status();
    return *std::move(uplink);
  }
  static provenance::v1::NodeReport Report(const std::string& node) {
    provenance::v1::NodeReport r;
    r.mutable_node()->set_node_id(node);
    r.mutable_node()->set_hostname(node);
    r.mutable_node()->set_boot_id("boot-1");
    r.set_interval_seconds(10);
    r.mutable_collected_at()->set_seconds(absl::ToUnixSeconds(absl::Now()));
    return r;
  }
  static mode_t Mode(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return st.st_mode & 0777;
  }
  std::string Read(const std::string& path) { return ReadFileToString(path).value_or(""); }

  server::testing::TempDir dir_;
  FakeClock provd_clock_{absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()))};
  FakeClock agent_clock_{absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()))};
  server::testing::EnrollmentProvd provd_{dir_.path(), &provd_clock_};
  const std::string ca_file_ = dir_.path() + "/ca.pem";
  const std::string cert_dir_ = dir_.path() + "/tls";
};

TEST_F(EnrollmentAgentTest, EnrolsReportsRenewsAndSwapsCredentials) {
  const std::string token_file = dir_.path() + "/enroll.token";
  ASSERT_TRUE(WriteFileAtomically(token_file, NewToken("gpu-017") + "\n").ok());
  NodeEnroller enroller(Options(token_file), agent_clock_);
  absl::StatusOr<TlsFiles> files = enroller.EnsureCredentials();
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(enroller.node_id(), "gpu-017");
  EXPECT_EQ(Mode(files->key_file), 0600u);
  EXPECT_EQ(Mode(cert_dir_), 0700u);
  const std::string first_cert = Read(files->cert_file);
  EXPECT_TRUE(CertMatchesKey(first_cert, Read(files->key_file)));
  ASSERT_TRUE(enroller.renew_at().has_value());
  EXPECT_LE(absl::AbsDuration(*enroller.renew_at() - (agent_clock_.Now() + absl::Hours(16))),
            absl::Seconds(1));

  // A restart reuses the stored key and certificate (the token is used up).
  NodeEnroller restarted(Options(token_file), agent_clock_);
  ASSERT_TRUE(restarted.EnsureCredentials().ok());
  EXPECT_EQ(restarted.node_id(), "gpu-017");
  EXPECT_EQ(Read(files->cert_file), first_cert);

  // The uplink first has no client certificate (refused), then takes the enrolled ones.
  TlsFiles server_only;
  server_only.ca_file = ca_file_;
  auto no_cert = MakeClientCredentials(server_only, false);
  ASSERT_TRUE(no_cert.ok());
  auto uplink = MakeUplink(*no_cert);
  ASSERT_TRUE(uplink->Submit(Report("gpu-017")).ok());
  ASSERT_TRUE(prov::testing::PollUntil([&] { return uplink->Stats().reconnects >= 1; },
                                       [&] { uplink->Poll(); }));
  EXPECT_EQ(uplink->Stats().acked_seq, 0u);
  auto enrolled = MakeClientCredentials(*files, false);
  ASSERT_TRUE(enrolled.ok());
  uplink->SetCredentials(*enrolled);
  ASSERT_TRUE(prov::testing::PollUntil([&] { return uplink->Stats().acked_seq >= 1; },
                                       [&] { uplink->Poll(); }));

  // Renewal: not before 2/3 of the lifetime, then with the current certificate.
  EXPECT_FALSE(enroller.RenewDue());
  agent_clock_.Advance(absl::Hours(16));
  ASSERT_TRUE(enroller.RenewDue());
  const std::string first_key = Read(files->key_file);
  absl::StatusOr<TlsFiles> renewed = enroller.Renew();
  ASSERT_TRUE(renewed.ok()) << renewed.status();
  EXPECT_NE(Read(renewed->cert_file), first_cert);
  EXPECT_NE(Read(renewed->key_file), first_key);
  EXPECT_EQ(Mode(renewed->key_file), 0600u);
  // The next renewal is 2/3 into the new certificate.
  absl::StatusOr<CertValidity> validity = ReadCertValidity(Read(renewed->cert_file));
  ASSERT_TRUE(validity.ok());
  EXPECT_EQ(*enroller.renew_at(), RenewAt(*validity));
  auto fresh = MakeUplink(*MakeClientCredentials(*renewed, false));
  ASSERT_TRUE(fresh->Submit(Report("gpu-017")).ok());
  EXPECT_TRUE(prov::testing::PollUntil([&] { return fresh->Stats().spool_depth == 0; },
                                       [&] { fresh->Poll(); }));
  uplink->Shutdown();
  fresh->Shutdown();
}

TEST_F(EnrollmentAgentTest, RevokedNodeRenewalFailsAndKeepsItsFiles) {
  const std::string token_file = dir_.path() + "/enroll.token";
  ASSERT_TRUE(WriteFileAtomically(token_file, NewToken("n1")).ok());
  NodeEnroller enroller(Options(token_file), agent_clock_);
  absl::StatusOr<TlsFiles> files = enroller.EnsureCredentials();
  ASSERT_TRUE(files.ok()) << files.status();
  const std::string cert = Read(files->cert_file);
  auto admin = provenance::v1::NodeAdminService::NewStub(provd_.server().InProcessChannel());
  provenance::v1::RevokeNodeRequest revoke;
  revoke.set_node_id("n1");
  provenance::v1::NodeRevocation revoked;
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", "Bearer " + provd_.server().internal_token());
  ASSERT_TRUE(admin->RevokeNode(&ctx, revoke, &revoked).ok());
  agent_clock_.Advance(absl::Hours(17));
  absl::StatusOr<TlsFiles> renewed = enroller.Renew();
  EXPECT_EQ(renewed.status().code(), absl::StatusCode::kPermissionDenied) << renewed.status();
  EXPECT_EQ(Read(files->cert_file), cert);
  EXPECT_FALSE(enroller.RenewDue());  // retried after retry_after
  agent_clock_.Advance(absl::Minutes(1));
  EXPECT_TRUE(enroller.RenewDue());
}

TEST_F(EnrollmentAgentTest, WithoutTokenOrCertificateItSaysWhatIsMissing) {
  NodeEnroller enroller(Options(""), agent_clock_);
  absl::StatusOr<TlsFiles> files = enroller.EnsureCredentials();
  EXPECT_EQ(files.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(files.status().message().find("--enroll-token-file"), std::string::npos);
  // A bad token is refused by provd, and nothing is written.
  const std::string token_file = dir_.path() + "/bad.token";
  ASSERT_TRUE(WriteFileAtomically(token_file, "E-00.ff\n").ok());
  NodeEnroller bad(Options(token_file), agent_clock_);
  files = bad.EnsureCredentials();
  EXPECT_EQ(files.status().code(), absl::StatusCode::kPermissionDenied) << files.status();
  EXPECT_FALSE(PathExists(cert_dir_ + "/node.key"));
}

}  // namespace
}  // namespace prov::server
