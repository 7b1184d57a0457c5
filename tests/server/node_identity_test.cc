// Issue 10 §1, a node speaks only for itself: a real in-process provd on port 0 with mutual TLS
// (certificates made with OpenSSL in the test) binds each agent stream to the node its client
// certificate names, refuses, counts, audits and flags a report of any other node, refuses
// people's certificates on the agent stream, and refuses contradictory --node-identity settings.
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/testing/fake_clock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "provenance/v1/analysis.grpc.pb.h"
#include "provenance/v1/node_admin.grpc.pb.h"
#include "server/auditlog/audit_log.h"
#include "server/provd_server.h"
#include "tests/compliance/test_certs.h"
#include "tests/server/agent_stream.h"
#include "tests/server/temp_dir.h"
#include "tests/server/test_reports.h"

namespace prov::server {
namespace {

using prov::testing::TestCa;
using testing::AgentStream;
using testing::HttpGet;
using testing::MakeReport;
using testing::TempDir;

class NodeIdentityTest : public ::testing::Test {
 protected:
  void StartServer(const std::string& node_identity = "") {
    const TestCa::KeyPair server =
        agents_.IssueWithKey("prov-test-server", "DNS:localhost,IP:127.0.0.1", "serverAuth");
    grpc::SslServerCredentialsOptions tls(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    tls.pem_key_cert_pairs.push_back({server.key_pem, server.cert_pem});
    tls.pem_root_certs = agents_.pem() + people_.pem();
    ProvdOptions options;
    options.data_dir = dir_.path() + "/data";
    options.metrics_address = "127.0.0.1:0";
    options.clock = &clock_;
    options.credentials = grpc::SslServerCredentials(tls);
    options.client_certificates = true;
    options.node_identity = node_identity;
    options.trust_domain = "prov.test";
    options.cert_roles_file = dir_.path() + "/cert-roles";
    options.people_ca_file = dir_.path() + "/people-ca.pem";
    WriteFile(options.cert_roles_file, "cn:alice viewer\n");
    WriteFile(options.people_ca_file, people_.pem());
    auto started = ProvdServer::Start(std::move(options));
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = *std::move(started);
  }
  static void WriteFile(const std::string& path, const std::string& text) {
    FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs(text.c_str(), f);
    std::fclose(f);
  }
  std::shared_ptr<grpc::Channel> Channel(const TestCa::KeyPair& client) {
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = agents_.pem();
    tls.pem_cert_chain = client.cert_pem;
    tls.pem_private_key = client.key_pem;
    return grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                               grpc::SslCredentials(tls));
  }
  TestCa::KeyPair NodeCert(const std::string& node) {
    return agents_.IssueWithKey(node, "URI:spiffe://prov.test/node/" + node, "clientAuth");
  }
  std::string Metrics() { return HttpGet(server_->metrics_port(), "/metrics"); }
  // The writer audits refusals after its round, on its own thread: poll (bounded).
  std::vector<integrity::ChainEntry> WaitAudit(const std::string& prefix) {
    auto reader = AuditLogReader::Open(dir_.path() + "/data/provd.db");
    EXPECT_TRUE(reader.ok()) << reader.status();
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    std::vector<integrity::ChainEntry> entries;
    do {
      auto listed = (*reader)->List(0, 100, prefix);
      EXPECT_TRUE(listed.ok()) << listed.status();
      if (listed.ok()) entries = *std::move(listed);
      if (!entries.empty()) break;
      absl::SleepFor(absl::Milliseconds(5));
    } while (absl::Now() < deadline);
    return entries;
  }

  TempDir dir_;
  // Real time: revocation compares provd's clock with the certificates' notBefore (TestCa: an
  // hour ago).
  FakeClock clock_{absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()))};
  TestCa agents_{"agents-ca"};
  TestCa people_{"people-ca"};
  std::unique_ptr<ProvdServer> server_;
};

TEST_F(NodeIdentityTest, NodeReportingForItselfIsAccepted) {
  StartServer();  // --tls-client-ca without --node-identity: cert
  AgentStream stream(Channel(NodeCert("n1")));
  ASSERT_TRUE(stream.Write(MakeReport("n1", "boot-a", 1, clock_.Now())));
  ASSERT_TRUE(stream.WaitCommitted("boot-a", 1));
  EXPECT_TRUE(stream.Finish().ok());
}

TEST_F(NodeIdentityTest, CommonNameNamesTheNodeWithoutASpiffeUri) {
  StartServer("cert");
  AgentStream stream(Channel(agents_.IssueWithKey("n-cn", "", "clientAuth")));
  ASSERT_TRUE(stream.Write(MakeReport("n-cn", "boot-a", 1, clock_.Now())));
  ASSERT_TRUE(stream.WaitCommitted("boot-a", 1));
  EXPECT_TRUE(stream.Finish().ok());
}

TEST_F(NodeIdentityTest, ReportForAnotherNodeIsRefusedCountedAndAudited) {
  StartServer();
  const TestCa::KeyPair n1 = NodeCert("n1");
  {  // n1 is known (has a record), so the refusal shows on it.
    AgentStream own(Channel(n1));
    ASSERT_TRUE(own.Write(MakeReport("n1", "boot-a", 1, clock_.Now())));
    ASSERT_TRUE(own.WaitCommitted("boot-a", 1));
    ASSERT_TRUE(own.Finish().ok());
  }
  AgentStream stream(Channel(n1));
  stream.Write(MakeReport("victim", "boot-v", 1, clock_.Now()));
  grpc::Status status = stream.Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
  EXPECT_NE(status.error_message().find("\"victim\" is not this client certificate's node \"n1\""),
            std::string::npos)
      << status.error_message();
  EXPECT_EQ(stream.committed("boot-v"), 0u);
  EXPECT_TRUE(absl::StrContains(Metrics(),
                                "prov_reports_rejected_total{field=\"node_identity_mismatch\"} 1"))
      << Metrics();
  std::vector<integrity::ChainEntry> audit = WaitAudit("node.identity_mismatch");
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].actor, "node:n1");
  EXPECT_TRUE(absl::StrContains(audit[0].payload, R"("claimed_node_id":"victim")"))
      << audit[0].payload;
  EXPECT_TRUE(absl::StrContains(audit[0].payload, R"("cert_node_id":"n1")")) << audit[0].payload;
  // Flagged on the certificate's node, naming the node it claimed to be.
  // (The writer hands the refusal to the engine right after auditing it: poll, bounded.)
  auto analysis = provenance::v1::AnalysisService::NewStub(server_->InProcessChannel());
  provenance::v1::ListFlagsRequest flags_request;
  flags_request.set_rule("node_identity_mismatch");
  provenance::v1::ListFlagsResponse flags;
  for (const absl::Time deadline = absl::Now() + absl::Seconds(30);
       flags.flags().empty() && absl::Now() < deadline;) {
    server_->FlushAnalysis();
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer " + server_->internal_token());
    grpc::Status listed = analysis->ListFlags(&ctx, flags_request, &flags);
    ASSERT_TRUE(listed.ok()) << listed.error_message();
  }
  ASSERT_EQ(flags.flags_size(), 1);
  EXPECT_EQ(flags.flags(0).subject(), "node:n1");
  EXPECT_EQ(flags.flags(0).severity(), provenance::v1::SEVERITY_CRITICAL);
  EXPECT_TRUE(absl::StrContains(flags.flags(0).summary(), "report as node victim"))
      << flags.flags(0).summary();
  // The victim got nothing stored under its name.
  AgentStream victim(Channel(NodeCert("victim")));
  ASSERT_TRUE(victim.Write(MakeReport("victim", "boot-v", 1, clock_.Now())));
  ASSERT_TRUE(victim.WaitCommitted("boot-v", 1));  // seq 1 is new, not a duplicate
  EXPECT_TRUE(victim.Finish().ok());
}

TEST_F(NodeIdentityTest, PeopleCertificatesNeverOpenTheAgentStream) {
  StartServer();
  for (const TestCa::KeyPair& cert :
       {people_.IssueWithKey("alice", "", "clientAuth"),
        agents_.IssueWithKey("bob", "email:bob@example.com", "clientAuth")}) {
    AgentStream stream(Channel(cert));
    stream.Write(MakeReport("alice", "boot-p", 1, clock_.Now()));
    grpc::Status status = stream.Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
    EXPECT_TRUE(absl::StrContains(status.error_message(), "person")) << status.error_message();
    EXPECT_EQ(stream.committed("boot-p"), 0u);
  }
  EXPECT_TRUE(
      absl::StrContains(Metrics(), "prov_reports_rejected_total{field=\"node_certificate\"} 2"))
      << Metrics();
}

// provctl nodes revoke's RPC: ends the node's open stream, refuses its certificate on reconnect
// and after a restart, and is audited.
TEST_F(NodeIdentityTest, RevokedNodeStreamsEndAndReconnectsAreRefused) {
  StartServer();
  const TestCa::KeyPair n1 = NodeCert("n1");
  AgentStream open(Channel(n1));
  ASSERT_TRUE(open.Write(MakeReport("n1", "boot-a", 1, clock_.Now())));
  ASSERT_TRUE(open.WaitCommitted("boot-a", 1));
  auto admin = provenance::v1::NodeAdminService::NewStub(server_->InProcessChannel());
  auto call = [&](auto method, const auto& request, auto* response) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer " + server_->internal_token());
    return (admin.get()->*method)(&ctx, request, response);
  };
  provenance::v1::RevokeNodeRequest revoke;
  revoke.set_node_id("n1");
  revoke.set_reason("certificate copied to another host");
  provenance::v1::NodeRevocation revoked;
  grpc::Status status = call(&provenance::v1::NodeAdminService::Stub::RevokeNode, revoke, &revoked);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(revoked.node_id(), "n1");
  EXPECT_EQ(revoked.streams_ended(), 1u);
  status = open.Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
  EXPECT_TRUE(absl::StrContains(status.error_message(), "\"n1\" is revoked"))
      << status.error_message();
  auto refused_now = [&] {
    AgentStream again(Channel(n1));
    again.Write(MakeReport("n1", "boot-a", 2, clock_.Now()));
    grpc::Status s = again.Finish();
    EXPECT_EQ(again.committed("boot-a"), 0u);
    return s.error_code() == grpc::StatusCode::PERMISSION_DENIED &&
           absl::StrContains(s.error_message(), "is revoked");
  };
  EXPECT_TRUE(refused_now());
  // Other nodes are unaffected.
  AgentStream n2(Channel(NodeCert("n2")));
  ASSERT_TRUE(n2.Write(MakeReport("n2", "boot-b", 1, clock_.Now())));
  ASSERT_TRUE(n2.WaitCommitted("boot-b", 1));
  EXPECT_TRUE(n2.Finish().ok());
  std::vector<integrity::ChainEntry> audit = WaitAudit("node.revoke");
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_TRUE(absl::StrContains(audit[0].payload, R"("node_id":"n1")")) << audit[0].payload;
  // Stored: survives a restart.
  server_->Shutdown();
  server_.reset();
  StartServer();
  admin = provenance::v1::NodeAdminService::NewStub(server_->InProcessChannel());
  EXPECT_TRUE(refused_now());
  provenance::v1::ListNodeRevocationsResponse list;
  status = call(&provenance::v1::NodeAdminService::Stub::ListNodeRevocations,
                provenance::v1::ListNodeRevocationsRequest(), &list);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(list.revocations_size(), 1);
  EXPECT_EQ(list.revocations(0).node_id(), "n1");
  EXPECT_EQ(list.revocations(0).reason(), "certificate copied to another host");
}

TEST(NodeIdentityOptionsTest, ContradictorySettingsAreConfigErrors) {
  ProvdOptions o;
  o.data_dir = "/tmp/unused";
  o.node_identity = "cert";
  absl::Status s = ValidateOptions(o);
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_TRUE(absl::StrContains(s.message(), "node_identity: cert needs client certificates")) << s;
  o.node_identity = "report";
  o.client_certificates = true;
  s = ValidateOptions(o);
  EXPECT_TRUE(absl::StrContains(s.message(), "node_identity: report is only for --insecure")) << s;
  o.node_identity = "trust";
  EXPECT_TRUE(absl::StrContains(ValidateOptions(o).message(), "is not one of cert, report"));
  o.node_identity = "";
  EXPECT_EQ(*ResolveNodeIdentity(o), NodeIdentityMode::kCert);
  o.client_certificates = false;
  EXPECT_EQ(*ResolveNodeIdentity(o), NodeIdentityMode::kReport);
}

}  // namespace
}  // namespace prov::server
