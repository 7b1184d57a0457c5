// Issue 10 §1, enrolment: a real in-process provd on port 0 (real SQLite) with mutual TLS on its
// main listener and an enrolment listener that requests but does not require a client
// certificate. A one-time token and a CSR made on the "node" give a certificate for exactly the
// token's node, which then opens an agent stream over mTLS; a used, expired, wrong or unknown
// token is refused alike; a node renews with its current certificate unless it is revoked; the
// enrolment listener serves nothing else.
#include <cstdio>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/node_key.h"
#include "common/testing/fake_clock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "provenance/v1/audit.grpc.pb.h"
#include "provenance/v1/node_admin.grpc.pb.h"
#include "server/auditlog/audit_log.h"
#include "server/provd_server.h"
#include "tests/compliance/test_certs.h"
#include "tests/server/agent_stream.h"
#include "tests/server/enrollment_harness.h"
#include "tests/server/temp_dir.h"
#include "tests/server/test_reports.h"

namespace prov::server {
namespace {

using prov::testing::TestCa;
using provenance::v1::EnrollRequest;
using provenance::v1::EnrollResponse;
using testing::AgentStream;
using testing::HttpGet;
using testing::MakeReport;
using testing::TempDir;

struct NodeCreds {
  std::string key_pem;
  std::string cert_pem;
};

class EnrollmentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(provd_.Start().ok());
    server_ = &provd_.server();
    ASSERT_GT(server_->enroll_port(), 0);
  }

  std::unique_ptr<provenance::v1::NodeAdminService::Stub> Admin() {
    return provenance::v1::NodeAdminService::NewStub(server_->InProcessChannel());
  }
  void AsAdmin(grpc::ClientContext* ctx) {
    ctx->AddMetadata("authorization", "Bearer " + server_->internal_token());
  }
  std::string NewToken(const std::string& node, uint32_t ttl_seconds = 0) {
    provenance::v1::CreateEnrollTokenRequest request;
    request.set_node_id(node);
    request.set_ttl_seconds(ttl_seconds);
    provenance::v1::EnrollToken token;
    grpc::ClientContext ctx;
    AsAdmin(&ctx);
    grpc::Status status = Admin()->CreateEnrollToken(&ctx, request, &token);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return token.token();
  }
  // The enrolment listener; with `current`, the call presents that client certificate.
  std::shared_ptr<grpc::Channel> EnrollChannel(const NodeCreds* current = nullptr) {
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = tls_.pem();
    if (current != nullptr) {
      tls.pem_cert_chain = current->cert_pem;
      tls.pem_private_key = current->key_pem;
    }
    return grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->enroll_port()),
                               grpc::SslCredentials(tls));
  }
  // Generates a key "on the node", sends its CSR (CN: a lie the CA must ignore).
  grpc::Status Enroll(const std::string& token, NodeCreds* out,
                      const NodeCreds* current = nullptr) {
    auto key = GenerateNodeKeyPem();
    EXPECT_TRUE(key.ok()) << key.status();
    auto csr = MakeCsrPem(*key, "somebody-else");
    EXPECT_TRUE(csr.ok()) << csr.status();
    EnrollRequest request;
    request.set_token(token);
    request.set_csr_pem(*csr);
    EnrollResponse response;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    grpc::Status status = provenance::v1::NodeEnrollmentService::NewStub(EnrollChannel(current))
                              ->Enroll(&ctx, request, &response);
    if (status.ok()) {
      out->key_pem = *key;
      out->cert_pem = response.certificate_pem();
      last_ = response;
    }
    return status;
  }
  std::shared_ptr<grpc::Channel> MainChannel(const NodeCreds& creds) {
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = tls_.pem();
    tls.pem_cert_chain = creds.cert_pem;
    tls.pem_private_key = creds.key_pem;
    return grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                               grpc::SslCredentials(tls));
  }
  std::string Metrics() { return HttpGet(server_->metrics_port(), "/metrics"); }
  std::vector<integrity::ChainEntry> Audit(const std::string& prefix) {
    auto reader = AuditLogReader::Open(dir_.path() + "/data/provd.db");
    EXPECT_TRUE(reader.ok()) << reader.status();
    auto listed = (*reader)->List(0, 100, prefix);
    EXPECT_TRUE(listed.ok()) << listed.status();
    return listed.ok() ? *listed : std::vector<integrity::ChainEntry>{};
  }

  TempDir dir_;
  // Real time (to the second): TLS checks the certificates' validity against the real clock.
  FakeClock clock_{absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()))};
  testing::EnrollmentProvd provd_{dir_.path(), &clock_};
  const TestCa& tls_ = provd_.tls_ca();
  const TestCa& node_ca_ = provd_.node_ca();
  ProvdServer* server_ = nullptr;
  EnrollResponse last_;
};

TEST_F(EnrollmentTest, TokenEnrolsExactlyItsNodeAndReportsAreAcceptedOverMtls) {
  const std::string token = NewToken("gpu-017");
  ASSERT_FALSE(token.empty());
  NodeCreds node;
  grpc::Status status = Enroll(token, &node);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(last_.node_id(), "gpu-017");
  EXPECT_FALSE(last_.serial().empty());
  EXPECT_EQ(last_.not_after().seconds() - last_.not_before().seconds(), 24 * 3600);
  EXPECT_TRUE(absl::StrContains(node.cert_pem, node_ca_.pem())) << "chain ends with the node CA";

  AgentStream stream(MainChannel(node));
  ASSERT_TRUE(stream.Write(MakeReport("gpu-017", "boot-a", 1, clock_.Now())));
  ASSERT_TRUE(stream.WaitCommitted("boot-a", 1));
  EXPECT_TRUE(stream.Finish().ok());
  // The CSR's CN ("somebody-else") named nothing: the certificate speaks for gpu-017 only.
  AgentStream other(MainChannel(node));
  other.Write(MakeReport("somebody-else", "boot-b", 1, clock_.Now()));
  EXPECT_EQ(other.Finish().error_code(), grpc::StatusCode::PERMISSION_DENIED);

  EXPECT_TRUE(absl::StrContains(Metrics(), "prov_node_enrollments_total{result=\"issued\"} 1"));
  std::vector<integrity::ChainEntry> created = Audit("node.enroll_token");
  ASSERT_EQ(created.size(), 1u);
  EXPECT_TRUE(absl::StrContains(created[0].payload, R"("node_id":"gpu-017")"));
  EXPECT_FALSE(absl::StrContains(created[0].payload, token.substr(token.find('.') + 1)))
      << "the secret is never written down";
  std::vector<integrity::ChainEntry> enrolled = Audit("node.enroll");
  ASSERT_GE(enrolled.size(), 1u);
  bool found = false;
  for (const auto& e : enrolled) {
    found = found || (e.action == "node.enroll" &&
                      absl::StrContains(e.payload, absl::StrCat("\"", last_.serial(), "\"")));
  }
  EXPECT_TRUE(found) << "the issued serial is recorded with the enrolment";
}

TEST_F(EnrollmentTest, UsedWrongAndUnknownTokensAreRefusedAlike) {
  const std::string token = NewToken("n1");
  NodeCreds node;
  ASSERT_TRUE(Enroll(token, &node).ok());
  const std::string id = token.substr(0, token.find('.'));
  for (const std::string& bad :
       {token, id + ".00ff", std::string("E-0000000000000000.abcd"), std::string("no-dot")}) {
    NodeCreds unused;
    grpc::Status status = Enroll(bad, &unused);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << bad;
    EXPECT_EQ(status.error_message(), "enrolment refused") << bad;
  }
  EXPECT_TRUE(absl::StrContains(Metrics(), "prov_node_enrollments_total{result=\"refused\"} 4"))
      << Metrics();
  std::vector<integrity::ChainEntry> refused = Audit("node.enroll_refused");
  ASSERT_EQ(refused.size(), 4u);
  std::string reasons;
  for (const auto& e : refused) reasons += e.payload;
  EXPECT_TRUE(absl::StrContains(reasons, "used already")) << reasons;
  EXPECT_TRUE(absl::StrContains(reasons, "wrong secret")) << reasons;
  EXPECT_TRUE(absl::StrContains(reasons, "unknown token id")) << reasons;
}

TEST_F(EnrollmentTest, ExpiredTokenIsRefused) {
  const std::string token = NewToken("n1", /*ttl_seconds=*/60);
  clock_.Advance(absl::Seconds(61));
  NodeCreds node;
  grpc::Status status = Enroll(token, &node);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(status.error_message(), "enrolment refused");
  std::vector<integrity::ChainEntry> refused = Audit("node.enroll_refused");
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_TRUE(absl::StrContains(refused[0].payload, "expired")) << refused[0].payload;
}

TEST_F(EnrollmentTest, NodeRenewsWithItsCurrentCertificate) {
  NodeCreds first;
  ASSERT_TRUE(Enroll(NewToken("n1"), &first).ok());
  const std::string first_serial = last_.serial();
  NodeCreds renewed;
  grpc::Status status = Enroll("", &renewed, &first);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(last_.node_id(), "n1");
  EXPECT_NE(last_.serial(), first_serial);
  EXPECT_NE(renewed.key_pem, first.key_pem);
  AgentStream stream(MainChannel(renewed));
  ASSERT_TRUE(stream.Write(MakeReport("n1", "boot-a", 1, clock_.Now())));
  ASSERT_TRUE(stream.WaitCommitted("boot-a", 1));
  EXPECT_TRUE(stream.Finish().ok());
  EXPECT_TRUE(absl::StrContains(Metrics(), "prov_node_enrollments_total{result=\"renewed\"} 1"));
  std::vector<integrity::ChainEntry> renewals = Audit("node.renew");
  ASSERT_EQ(renewals.size(), 1u);
  EXPECT_EQ(renewals[0].actor, "node:n1");
}

TEST_F(EnrollmentTest, WithoutTokenOrCertificateNothingIsIssued) {
  NodeCreds node;
  grpc::Status status = Enroll("", &node);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << status.error_message();
}

TEST_F(EnrollmentTest, RevokedNodeCannotRenew) {
  NodeCreds node;
  ASSERT_TRUE(Enroll(NewToken("n1"), &node).ok());
  provenance::v1::RevokeNodeRequest revoke;
  revoke.set_node_id("n1");
  provenance::v1::NodeRevocation revoked;
  grpc::ClientContext ctx;
  AsAdmin(&ctx);
  ASSERT_TRUE(Admin()->RevokeNode(&ctx, revoke, &revoked).ok());
  NodeCreds renewed;
  grpc::Status status = Enroll("", &renewed, &node);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
  EXPECT_EQ(status.error_message(), "enrolment refused");
  std::vector<integrity::ChainEntry> refused = Audit("node.enroll_refused");
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_TRUE(absl::StrContains(refused[0].payload, "revoked")) << refused[0].payload;
}

TEST_F(EnrollmentTest, EnrolmentListenerServesNothingElse) {
  auto audit = provenance::v1::AuditService::NewStub(EnrollChannel());
  provenance::v1::ListNodesRequest request;
  provenance::v1::ListNodesResponse response;
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", "Bearer " + server_->internal_token());
  EXPECT_EQ(audit->ListNodes(&ctx, request, &response).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
}

TEST_F(EnrollmentTest, CreatingATokenNeedsAnAdminAndAPlainNodeId) {
  provenance::v1::CreateEnrollTokenRequest request;
  request.set_node_id("a/b");
  provenance::v1::EnrollToken token;
  {
    grpc::ClientContext ctx;
    AsAdmin(&ctx);
    EXPECT_EQ(Admin()->CreateEnrollToken(&ctx, request, &token).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  request.set_node_id("n1");
  grpc::ClientContext ctx;  // no credentials
  EXPECT_EQ(Admin()->CreateEnrollToken(&ctx, request, &token).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST(EnrollmentConfigTest, HalfConfiguredEnrolmentIsRefusedNamingWhatIsMissing) {
  TempDir dir;
  ProvdOptions o;
  o.data_dir = dir.path() + "/data";
  o.enroll_listen_address = "127.0.0.1:0";
  absl::Status s = ValidateOptions(o);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(s.message(), "enroll_listen:")) << s;
  o.node_ca_cert_file = dir.path() + "/missing-ca.pem";
  o.node_ca_key_file = dir.path() + "/missing-ca.key";
  s = ValidateOptions(o);
  EXPECT_TRUE(absl::StartsWith(s.message(), "trust_domain:")) << s;
  o.trust_domain = "prov.test";
  o.node_cert_ttl = absl::Minutes(1);
  s = ValidateOptions(o);
  EXPECT_TRUE(absl::StartsWith(s.message(), "node_cert_ttl:")) << s;
  o.node_cert_ttl = absl::Hours(24);
  EXPECT_TRUE(ValidateOptions(o).ok());
  auto started = ProvdServer::Start(o);  // the CA files do not exist
  ASSERT_FALSE(started.ok());
  EXPECT_TRUE(absl::StartsWith(started.status().message(), "--node-ca-cert:")) << started.status();
}

}  // namespace
}  // namespace prov::server
