// Issue 10 §1: which node a client certificate speaks for on the agent stream.
#include "server/access/node_cert.h"

#include "gtest/gtest.h"
#include "server/access/cert_identity.h"
#include "server/access/node_revocation_list.h"
#include "tests/compliance/test_certs.h"

namespace prov::server {
namespace {

TEST(NodeIdentityModeTest, ParsesCertAndReportOnly) {
  EXPECT_EQ(*ParseNodeIdentityMode("cert"), NodeIdentityMode::kCert);
  EXPECT_EQ(*ParseNodeIdentityMode("report"), NodeIdentityMode::kReport);
  auto bad = ParseNodeIdentityMode("trust");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("\"trust\" is not one of cert, report"), std::string::npos);
}

TEST(NodeIdFromSpiffeUriTest, TakesTheIdAfterNode) {
  EXPECT_EQ(*NodeIdFromSpiffeUri("spiffe://prov.test/node/gpu-017", ""), "gpu-017");
  EXPECT_EQ(*NodeIdFromSpiffeUri("spiffe://prov.test/node/gpu-017", "prov.test"), "gpu-017");
  auto other_domain = NodeIdFromSpiffeUri("spiffe://evil.test/node/gpu-017", "prov.test");
  ASSERT_FALSE(other_domain.ok());
  EXPECT_NE(other_domain.status().message().find("trust domain 'evil.test'"), std::string::npos);
  EXPECT_FALSE(NodeIdFromSpiffeUri("spiffe://prov.test/node", "").ok());
  EXPECT_FALSE(NodeIdFromSpiffeUri("spiffe://prov.test/node/", "").ok());
  EXPECT_FALSE(NodeIdFromSpiffeUri("spiffe://prov.test/node/a/b", "").ok());
  EXPECT_FALSE(NodeIdFromSpiffeUri("spiffe://prov.test/person/alice", "").ok());
}

class NodeCertBinderTest : public ::testing::Test {
 protected:
  std::unique_ptr<NodeCertBinder> Binder(const std::string& trust_domain,
                                         const PeopleCertMapper* people = nullptr) {
    auto b = NodeCertBinder::Create({.trust_domain = trust_domain}, people);
    EXPECT_TRUE(b.ok()) << b.status();
    return *std::move(b);
  }
  prov::testing::TestCa agents_{"agents-ca"};
};

TEST_F(NodeCertBinderTest, SpiffeNodeUriNamesTheNodeBeforeTheCommonName) {
  auto binder = Binder("prov.test");
  auto node = binder->Bind(agents_.Issue("hostname-cn", "URI:spiffe://prov.test/node/n1"), "");
  ASSERT_TRUE(node.ok()) << node.status();
  EXPECT_EQ(node->node_id, "n1");
}

TEST_F(NodeCertBinderTest, CommonNameWhenNoSan) {
  auto node = Binder("")->Bind(agents_.Issue("n2", ""), "");
  ASSERT_TRUE(node.ok()) << node.status();
  EXPECT_EQ(node->node_id, "n2");
}

TEST_F(NodeCertBinderTest, RefusesPeopleAndOtherDomains) {
  auto binder = Binder("prov.test");
  auto person_uri = binder->Bind(agents_.Issue("n3", "URI:spiffe://prov.test/person/alice"), "");
  ASSERT_FALSE(person_uri.ok());
  EXPECT_EQ(person_uri.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(person_uri.status().message().find("not a node"), std::string::npos);
  auto email = binder->Bind(agents_.Issue("n3", "email:alice@example.com"), "");
  ASSERT_FALSE(email.ok());
  EXPECT_NE(email.status().message().find("names a person (alice@example.com)"), std::string::npos);
  auto domain = binder->Bind(agents_.Issue("n3", "URI:spiffe://other.test/node/n3"), "");
  ASSERT_FALSE(domain.ok());
  EXPECT_NE(domain.status().message().find("not provd's 'prov.test'"), std::string::npos);
  auto two = binder->Bind(
      agents_.Issue("n3", "URI:spiffe://prov.test/node/a,URI:spiffe://prov.test/node/b"), "");
  ASSERT_FALSE(two.ok());
  EXPECT_NE(two.status().message().find("names two nodes"), std::string::npos);
}

TEST_F(NodeCertBinderTest, PeopleCaCertificatesNeverBindANode) {
  prov::testing::TestCa people_ca("people-ca");
  auto roles = ParseCertRoles("cn:alice viewer\n", "cert-roles");
  ASSERT_TRUE(roles.ok());
  auto people = PeopleCertMapper::Create(*roles, people_ca.pem());
  ASSERT_TRUE(people.ok()) << people.status();
  auto binder = Binder("", people->get());
  // Even a person's certificate that carries a node URI is a person's.
  auto refused = binder->Bind(people_ca.Issue("alice", "URI:spiffe://prov.test/node/n4"), "");
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("is a person's"), std::string::npos);
  EXPECT_TRUE(binder->Bind(agents_.Issue("n4", ""), "").ok());
}

TEST_F(NodeCertBinderTest, RevokedNodesCertificatesIssuedBeforeAreRefused) {
  NodeRevocationList revoked;
  auto b = NodeCertBinder::Create({.trust_domain = "", .revoked = &revoked}, nullptr);
  ASSERT_TRUE(b.ok());
  const std::string cert = agents_.Issue("n5", "URI:spiffe://prov.test/node/n5");
  ASSERT_TRUE((*b)->Bind(cert, "").ok());
  // TestCa certificates are issued an hour ago: a revocation now refuses them.
  revoked.Add("n5", absl::Now());
  auto refused = (*b)->Bind(cert, "");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(refused.status().message().find("\"n5\" is revoked"), std::string::npos);
  EXPECT_TRUE((*b)->Bind(agents_.Issue("n6", ""), "").ok());  // other nodes unaffected
  // A certificate issued after the revocation (re-issued) is accepted.
  NodeRevocationList long_ago;
  long_ago.Add("n5", absl::Now() - absl::Hours(2));
  auto b2 = NodeCertBinder::Create({.trust_domain = "", .revoked = &long_ago}, nullptr);
  EXPECT_TRUE((*b2)->Bind(cert, "").ok());
}

}  // namespace
}  // namespace prov::server
