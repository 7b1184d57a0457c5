// TokenStore, Authenticator and cert-roles parsing on a real SQLite file.
#include <sys/stat.h>

#include "common/testing/fake_clock.h"
#include "gtest/gtest.h"
#include "server/access/authenticator.h"
#include "server/access/cert_identity.h"
#include "server/access/denial_auditor.h"
#include "server/access/failed_auth_limiter.h"
#include "server/access/token_store.h"
#include "server/auditlog/audit_log.h"
#include "tests/compliance/test_certs.h"
#include "tests/server/temp_dir.h"

namespace prov::server {
namespace {

using provenance::v1::ROLE_ADMIN;
using provenance::v1::ROLE_ANALYST;
using provenance::v1::ROLE_VIEWER;

class AccessTest : public ::testing::Test {
 protected:
  std::string db() const { return dir_.path() + "/provd.db"; }
  std::unique_ptr<TokenStore> Open() {
    auto store = TokenStore::Open(db(), clock_);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }
  testing::TempDir dir_;
  FakeClock clock_;
};

TEST_F(AccessTest, IssuedTokenAuthenticatesUntilRevokedAndSurvivesRestart) {
  std::string secret, id;
  {
    auto tokens = Open();
    auto issued = tokens->Issue("alice", ROLE_ANALYST, "token:root");
    ASSERT_TRUE(issued.ok()) << issued.status();
    secret = issued->token();
    id = issued->info().token_id();
    EXPECT_EQ(secret.rfind("prov_", 0), 0u);
    EXPECT_EQ(secret.size(), 5u + 64u);
    auto who = tokens->Lookup(secret);
    ASSERT_TRUE(who.has_value());
    EXPECT_EQ(who->name(), "alice");
    EXPECT_EQ(who->role(), ROLE_ANALYST);
    EXPECT_FALSE(tokens->Lookup(secret + "x").has_value());
    EXPECT_FALSE(tokens->Lookup("").has_value());
  }
  auto tokens = Open();  // a new process: the hash is on disk, the secret is not
  ASSERT_TRUE(tokens->Lookup(secret).has_value());
  auto revoked = tokens->Revoke(id, "token:root");
  ASSERT_TRUE(revoked.ok()) << revoked.status();
  EXPECT_TRUE(revoked->revoked());
  EXPECT_FALSE(tokens->Lookup(secret).has_value());
  EXPECT_EQ(tokens->Revoke("T-999", "token:root").status().code(), absl::StatusCode::kNotFound);
  // Both changes are in the audit log, by the actor that made them.
  auto reader = AuditLogReader::Open(db());
  ASSERT_TRUE(reader.ok());
  auto entries = (*reader)->List(0, 100, "token.");
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].action, "token.issue");
  EXPECT_EQ((*entries)[1].action, "token.revoke");
  EXPECT_EQ((*entries)[1].actor, "token:root");
  EXPECT_EQ((*entries)[0].payload.find(secret), std::string::npos);  // never the secret
}

// Issue 13: tokens issued with a ttl stop working when it has passed, also after a restart.
TEST_F(AccessTest, ATokenWithATtlExpiresOnTheClock) {
  std::string secret;
  {
    auto tokens = Open();
    auto issued = tokens->Issue("ci-bot", ROLE_VIEWER, "token:root", absl::Hours(1));
    ASSERT_TRUE(issued.ok()) << issued.status();
    secret = issued->token();
    ASSERT_TRUE(issued->info().has_expires_at());
    EXPECT_TRUE(tokens->Lookup(secret).has_value());
    auto forever = tokens->Issue("alice", ROLE_ADMIN, "token:root");
    ASSERT_TRUE(forever.ok());
    EXPECT_FALSE(forever->info().has_expires_at());
    EXPECT_EQ(tokens->Issue("x", ROLE_VIEWER, "token:root", -absl::Hours(1)).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
  clock_.Advance(absl::Minutes(59));
  auto tokens = Open();  // after a restart the expiry is read back from the store
  EXPECT_TRUE(tokens->Lookup(secret).has_value());
  clock_.Advance(absl::Minutes(1));
  EXPECT_FALSE(tokens->Lookup(secret).has_value());
  bool listed = false;
  for (const auto& t : tokens->List()) listed |= t.name() == "ci-bot" && t.has_expires_at();
  EXPECT_TRUE(listed) << "an expired token is still listed, with its expiry";
}

TEST_F(AccessTest, BadNamesAndRolesAreRefusedNamingTheField) {
  auto tokens = Open();
  auto bad = tokens->Issue("a b", ROLE_VIEWER, "x");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("name:"), std::string::npos);
  EXPECT_EQ(tokens->Issue("bob", provenance::v1::ROLE_UNSPECIFIED, "x").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(tokens->Issue(std::string(65, 'a'), ROLE_VIEWER, "x").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(AccessTest, BootstrapAdminIsWrittenOnceWithOwnerOnlyMode) {
  const std::string path = dir_.path() + "/admin.token";
  auto tokens = Open();
  auto wrote = tokens->EnsureBootstrapAdmin(path);
  ASSERT_TRUE(wrote.ok()) << wrote.status();
  EXPECT_TRUE(*wrote);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  auto again = tokens->EnsureBootstrapAdmin(path);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);  // an admin exists
  EXPECT_EQ(tokens->List().size(), 1u);
}

TEST_F(AccessTest, AuthenticatorChecksBearerHeadersAndRoles) {
  auto tokens = Open();
  auto viewer = tokens->Issue("vera", ROLE_VIEWER, "x");
  ASSERT_TRUE(viewer.ok());
  Authenticator auth(*tokens, AuthenticatorOptions{});
  auto who = auth.AuthenticateBearer("Bearer " + viewer->token());
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_EQ(who->actor(), "token:vera");
  EXPECT_TRUE(auth.Check(who, ROLE_VIEWER).ok());
  absl::Status denied = auth.Check(who, ROLE_ANALYST);
  EXPECT_EQ(denied.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(denied.message(), "this needs the analyst role; token:vera is viewer");
  EXPECT_EQ(auth.Check(auth.AuthenticateBearer(""), ROLE_VIEWER).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(auth.Check(auth.AuthenticateBearer("Basic abc"), ROLE_VIEWER).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(auth.Check(auth.AuthenticateBearer("Bearer prov_nope"), ROLE_VIEWER).code(),
            absl::StatusCode::kUnauthenticated);
  auto internal = auth.AuthenticateBearer("Bearer " + auth.internal_token());
  ASSERT_TRUE(internal.ok());
  EXPECT_EQ(internal->actor(), "provd");
  EXPECT_EQ(internal->role(), ROLE_ADMIN);
  EXPECT_EQ(auth.counters().unauthenticated, 3u);
  EXPECT_EQ(auth.counters().denied, 1u);
}

TEST(CertRolesTest, ParsesKeyedLinesAndNamesTheBadOne) {
  auto roles = ParseCertRoles(
      "# people\nuri:spiffe://prov.test/person/alice analyst\n\n  email:Bob@Example.com   ADMIN "
      "\ncn:carol viewer\ndave viewer\n",
      "roles");
  ASSERT_TRUE(roles.ok()) << roles.status();
  EXPECT_EQ(roles->by_uri.at("spiffe://prov.test/person/alice"), ROLE_ANALYST);
  EXPECT_EQ(roles->by_email.at("bob@example.com"), ROLE_ADMIN);
  EXPECT_EQ(roles->by_cn.at("carol"), ROLE_VIEWER);
  EXPECT_EQ(roles->by_cn.at("dave"), ROLE_VIEWER);  // a bare key is a common name
  auto bad = ParseCertRoles("cn:alice analyst\ncn:carol boss\n", "roles");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("roles:2: role: 'boss'"), std::string::npos)
      << bad.status();
  EXPECT_FALSE(ParseCertRoles("justone\n", "roles").ok());
  EXPECT_FALSE(ParseCertRoles("email:nobody viewer\n", "roles").ok());
  // A node identity can never be given a person's role.
  auto node = ParseCertRoles("uri:spiffe://prov.test/node/gpu-7 admin\n", "roles");
  EXPECT_EQ(node.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(node.status().message().find("node identity"), std::string::npos) << node.status();
}

TEST(CertRolesTest, SpiffeNodeUris) {
  EXPECT_TRUE(IsSpiffeNodeUri("spiffe://prov.test/node/gpu-7"));
  EXPECT_TRUE(IsSpiffeNodeUri("SPIFFE://prov.test/Node/gpu-7"));
  EXPECT_TRUE(IsSpiffeNodeUri("spiffe://prov.test/node"));
  EXPECT_FALSE(IsSpiffeNodeUri("spiffe://prov.test/person/alice"));
  EXPECT_FALSE(IsSpiffeNodeUri("spiffe://prov.test/nodes/x"));
  EXPECT_FALSE(IsSpiffeNodeUri("https://prov.test/node/x"));
}

// Issue 14: one CA signs agents and people; a node certificate whose CN is alice got alice's role.
TEST(PeopleCertMapperTest, CommonNamesNeedAPeopleCa) {
  auto roles = ParseCertRoles("cn:alice analyst\n", "roles");
  ASSERT_TRUE(roles.ok());
  auto mapper = PeopleCertMapper::Create(*roles, "");
  EXPECT_EQ(mapper.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(mapper.status().message().find("need --people-ca"), std::string::npos)
      << mapper.status();
}

TEST(PeopleCertMapperTest, NodeCertificateNamedAliceGetsNoRole) {
  prov::testing::TestCa ca("one-ca");
  auto roles = ParseCertRoles(
      "uri:spiffe://prov.test/person/alice analyst\nemail:alice@example.com analyst\n", "roles");
  ASSERT_TRUE(roles.ok());
  auto mapper = PeopleCertMapper::Create(*roles, "");
  ASSERT_TRUE(mapper.ok()) << mapper.status();
  // A node certificate with alice's CN: not mapped (CN does not count without a people CA).
  auto node = (*mapper)->Map(ca.Issue("alice", "URI:spiffe://prov.test/node/gpu-7"), "");
  EXPECT_EQ(node.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(node.status().message().find("names a node"), std::string::npos) << node.status();
  // Even carrying a person's SAN too, a node certificate is never a person.
  auto both = (*mapper)->Map(
      ca.Issue("x", "URI:spiffe://prov.test/node/gpu-7,URI:spiffe://prov.test/person/alice"), "");
  EXPECT_EQ(both.status().code(), absl::StatusCode::kUnauthenticated);
  // CN alice, no SAN: nothing.
  EXPECT_EQ((*mapper)->Map(ca.Issue("alice", ""), "").status().code(),
            absl::StatusCode::kUnauthenticated);
  // People map by their own SAN.
  auto by_uri = (*mapper)->Map(ca.Issue("whatever", "URI:spiffe://prov.test/person/alice"), "");
  ASSERT_TRUE(by_uri.ok()) << by_uri.status();
  EXPECT_EQ(by_uri->actor(), "cert:spiffe://prov.test/person/alice");
  EXPECT_EQ(by_uri->role(), ROLE_ANALYST);
  EXPECT_EQ(by_uri->method(), "certificate");
  auto by_email = (*mapper)->Map(ca.Issue("whatever", "email:Alice@example.com"), "");
  ASSERT_TRUE(by_email.ok()) << by_email.status();
  EXPECT_EQ(by_email->role(), ROLE_ANALYST);
  EXPECT_FALSE((*mapper)->Map("not a certificate", "").ok());
}

TEST(PeopleCertMapperTest, WithAPeopleCaOnlyItsCertificatesArePeople) {
  prov::testing::TestCa agents("agents-ca");
  prov::testing::TestCa people("people-ca");
  auto roles = ParseCertRoles("cn:alice analyst\n", "roles");
  ASSERT_TRUE(roles.ok());
  auto mapper = PeopleCertMapper::Create(*roles, people.pem());
  ASSERT_TRUE(mapper.ok()) << mapper.status();
  auto person = (*mapper)->Map(people.Issue("alice", ""), "");
  ASSERT_TRUE(person.ok()) << person.status();
  EXPECT_EQ(person->actor(), "cert:alice");
  EXPECT_EQ(person->role(), ROLE_ANALYST);
  // The agents' CA signed a certificate named alice: not a person.
  auto node = (*mapper)->Map(agents.Issue("alice", ""), "");
  EXPECT_EQ(node.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(node.status().message().find("not issued by provd's --people-ca"), std::string::npos)
      << node.status();
  // The people CA signed a node identity by mistake: still not a person.
  EXPECT_FALSE((*mapper)->Map(people.Issue("alice", "URI:spiffe://prov.test/node/n1"), "").ok());
  EXPECT_FALSE(PeopleCertMapper::Create(*roles, "garbage").ok());
}

TEST(FailedAuthLimiterTest, BurstThenRateAndOtherPeersUnaffected) {
  FakeClock clock;
  FailedAuthLimiter limiter({.burst = 3, .per_second = 0.5, .max_peers = 100}, clock);
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(limiter.Blocked("10.0.0.1").has_value()) << i;
    limiter.RecordFailure("10.0.0.1");
  }
  std::optional<absl::Duration> wait = limiter.Blocked("10.0.0.1");
  ASSERT_TRUE(wait.has_value());
  EXPECT_EQ(*wait, absl::Seconds(2));                     // one failure per 2 s
  EXPECT_FALSE(limiter.Blocked("10.0.0.2").has_value());  // another address is unaffected
  clock.Advance(absl::Seconds(1));
  EXPECT_EQ(limiter.Blocked("10.0.0.1"), absl::Seconds(1));
  clock.Advance(absl::Seconds(1));
  EXPECT_FALSE(limiter.Blocked("10.0.0.1").has_value());  // one more try
  limiter.RecordFailure("10.0.0.1");
  EXPECT_TRUE(limiter.Blocked("10.0.0.1").has_value());
  EXPECT_EQ(limiter.limited(), 3u);
  clock.Advance(absl::Minutes(10));  // refills to the burst, no further
  for (int i = 0; i < 3; ++i) limiter.RecordFailure("10.0.0.1");
  EXPECT_TRUE(limiter.Blocked("10.0.0.1").has_value());
}

TEST(FailedAuthLimiterTest, TracksBoundedPeersForgettingTheOldest) {
  FakeClock clock;
  FailedAuthLimiter limiter({.burst = 1, .per_second = 0.01, .max_peers = 3}, clock);
  for (const char* peer : {"a", "b", "c"}) limiter.RecordFailure(peer);
  limiter.RecordFailure("a");  // a is now the most recent
  limiter.RecordFailure("d");  // b is forgotten
  EXPECT_EQ(limiter.tracked(), 3u);
  EXPECT_TRUE(limiter.Blocked("a").has_value());
  EXPECT_FALSE(limiter.Blocked("b").has_value());
  EXPECT_TRUE(limiter.Blocked("c").has_value());
  EXPECT_TRUE(limiter.Blocked("d").has_value());
}

TEST(FailedAuthLimiterTest, PeerAddressDropsThePort) {
  EXPECT_EQ(PeerAddress("ipv4:10.0.0.7:51234"), "10.0.0.7");
  EXPECT_EQ(PeerAddress("ipv6:[::1]:51234"), "::1");
  EXPECT_EQ(PeerAddress("ipv6:[::ffff:10.0.0.7]:1"), "10.0.0.7");
  EXPECT_EQ(PeerAddress("unix:/run/provd.sock"), "unix:/run/provd.sock");
  EXPECT_EQ(PeerAddress("inproc"), "inproc");
}

TEST_F(AccessTest, DenialsAreAuditedAtMostNPerActorPerMinute) {
  auto tokens = Open();  // migrates the schema
  auto auditor = DenialAuditor::Open(db(), clock_, {.per_minute = 2});
  ASSERT_TRUE(auditor.ok()) << auditor.status();
  provenance::v1::Principal vera;
  vera.set_actor("token:vera");
  vera.set_role(ROLE_VIEWER);
  provenance::v1::Principal walt = vera;
  walt.set_actor("token:walt");
  for (int i = 0; i < 5; ++i) {
    (*auditor)->Record(vera, "/provenance.v1.AccessService/IssueToken", ROLE_ADMIN);
  }
  (*auditor)->Record(walt, "/provenance.v1.CaseService/UpdateCase", ROLE_ANALYST);
  EXPECT_EQ((*auditor)->recorded(), 3u);
  EXPECT_EQ((*auditor)->suppressed(), 3u);
  clock_.Advance(absl::Minutes(1));
  (*auditor)->Record(vera, "/provenance.v1.AccessService/IssueToken", ROLE_ADMIN);
  auto reader = AuditLogReader::Open(db());
  ASSERT_TRUE(reader.ok());
  auto entries = (*reader)->List(0, 100, "access.");
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 4u);
  EXPECT_EQ((*entries)[0].actor, "token:vera");
  EXPECT_EQ((*entries)[0].action, "access.denied");
  EXPECT_EQ((*entries)[0].payload,
            R"({"need":"admin","role":"viewer","rpc":"/provenance.v1.AccessService/IssueToken"})");
  EXPECT_EQ((*entries)[2].actor, "token:walt");
  // The next minute's first entry says how many were left out before it.
  EXPECT_NE((*entries)[3].payload.find(R"("suppressed":"3")"), std::string::npos)
      << (*entries)[3].payload;
  auto verified = (*reader)->Verify(std::nullopt);
  ASSERT_TRUE(verified.ok());
  EXPECT_TRUE(verified->intact());
}

}  // namespace
}  // namespace prov::server
