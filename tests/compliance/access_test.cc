// TokenStore, Authenticator and cert-roles parsing on a real SQLite file.
#include <sys/stat.h>

#include "common/testing/fake_clock.h"
#include "gtest/gtest.h"
#include "server/access/authenticator.h"
#include "server/access/token_store.h"
#include "server/auditlog/audit_log.h"
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
  Authenticator auth(*tokens, {});
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

TEST(CertRolesTest, ParsesLinesAndNamesTheBadOne) {
  auto roles = ParseCertRoles("# people\nalice analyst\n\n  bob   ADMIN \n", "roles");
  ASSERT_TRUE(roles.ok()) << roles.status();
  EXPECT_EQ(roles->at("alice"), ROLE_ANALYST);
  EXPECT_EQ(roles->at("bob"), ROLE_ADMIN);
  auto bad = ParseCertRoles("alice analyst\ncarol boss\n", "roles");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("roles:2: role: 'boss'"), std::string::npos)
      << bad.status();
  EXPECT_FALSE(ParseCertRoles("justone\n", "roles").ok());
}

}  // namespace
}  // namespace prov::server
