// The access domain (server/store/repo/api_tokens.h, node_enrollment.h, node_revocations.h,
// audit_appender.h) behaves the same on SQLite and on PostgreSQL: tokens issued, looked up,
// issued only while their role is vacant (the bootstrap admin: exactly one of racing replicas),
// expired on a fake clock, revoked (twice); enrolment tokens used once; certificates issued and
// renewed; nodes revoked and their older certificates refused; every write's audit entry present
// and the chain verifying; a write whose audit entry fails leaving neither row nor entry; two
// TokenStores on one database (two provd replicas) seeing each other's issues and revocations
// within the documented bounds. PostgreSQL only: two sessions racing to use one enrolment token
// (exactly one wins), two waiting together on the vacant-role lock (exactly one issues), and
// reconnection after pg_terminate_backend.
#include <sys/stat.h>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/sha256.h"
#include "common/testing/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/access/node_revocation_list.h"
#include "server/access/node_revocation_sync.h"
#include "server/access/token_store.h"
#include "server/store/pg/pg_api_tokens.h"
#include "server/store/pg/pg_audit_appender.h"
#include "server/store/pg/pg_audit_log.h"
#include "server/store/pg/pg_conn.h"
#include "server/store/pg/pg_node_enrollment.h"
#include "server/store/pg/pg_node_revocations.h"
#include "server/store/pg/pg_schema.h"
#include "server/store/repo/audit_log.h"
#include "server/store/sqlite/sqlite_api_tokens.h"
#include "server/store/sqlite/sqlite_audit_appender.h"
#include "server/store/sqlite/sqlite_audit_log.h"
#include "server/store/sqlite/sqlite_node_enrollment.h"
#include "server/store/sqlite/sqlite_node_revocations.h"
#include "tests/server/temp_dir.h"
#include "tests/store/pg_server.h"
#include "tests/store/store_fixture.h"

namespace prov::server {
namespace {

using provenance::v1::ROLE_ADMIN;
using provenance::v1::ROLE_ANALYST;
using provenance::v1::ROLE_VIEWER;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr absl::Time kStart = absl::FromUnixSeconds(1'700'000'000);

AuditRecord Audit(const std::string& action, const std::string& what, absl::Time at = kStart) {
  return {"token:root", action, AuditPayload({{"what", what}}), at};
}

StoredApiToken Token(const std::string& id, const std::string& secret) {
  StoredApiToken t;
  t.token_id = id;
  t.name = "n-" + id;
  t.role = ROLE_VIEWER;
  t.secret_sha256 = Sha256Hex(secret);
  t.created_at = kStart;
  t.created_by = "token:root";
  return t;
}

StoredEnrollToken EnrollToken(const std::string& id, const std::string& node) {
  StoredEnrollToken t;
  t.token_id = id;
  t.secret_sha256 = Sha256Hex("secret-" + id);
  t.node_id = node;
  t.created_at = kStart;
  t.created_by = "token:root";
  t.expires_at = kStart + absl::Hours(1);
  return t;
}

// Counts the revision checks a TokenStore makes through it.
// When `hold` is set, Revision() says it `entered` and waits for `release`.
class CountingTokens : public ApiTokenRepository {
 public:
  CountingTokens(std::unique_ptr<ApiTokenRepository> inner, int* revisions)
      : inner_(std::move(inner)), revisions_(revisions) {}
  absl::StatusOr<std::vector<StoredApiToken>> LoadAll() override { return inner_->LoadAll(); }
  absl::StatusOr<int64_t> Revision() override {
    ++*revisions_;
    if (hold) {
      entered.Notify();
      release.WaitForNotification();
    }
    return inner_->Revision();
  }
  std::atomic<bool> hold{false};
  absl::Notification entered;
  absl::Notification release;
  absl::Status Insert(const StoredApiToken& token, const AuditRecord& audit) override {
    return inner_->Insert(token, audit);
  }
  // When `hold_vacant_insert` is set, says it `insert_entered` and waits for `insert_release`.
  absl::StatusOr<bool> InsertIfRoleVacant(const StoredApiToken& token, const AuditRecord& audit,
                                          absl::Time now) override {
    if (hold_vacant_insert) {
      insert_entered.Notify();
      insert_release.WaitForNotification();
    }
    return inner_->InsertIfRoleVacant(token, audit, now);
  }
  std::atomic<bool> hold_vacant_insert{false};
  absl::Notification insert_entered;
  absl::Notification insert_release;
  absl::StatusOr<StoredApiToken> Revoke(const std::string& token_id, absl::Time at,
                                        const AuditRecord& audit) override {
    return inner_->Revoke(token_id, at, audit);
  }

 private:
  std::unique_ptr<ApiTokenRepository> inner_;
  int* revisions_;
};

class AccessTest : public prov::testing::StoreTest {
 protected:
  bool pg() const { return engine() == prov::testing::Engine::kPostgres; }

  // Each call opens a repository on its own connection, as each provd component (or replica) does.
  std::unique_ptr<ApiTokenRepository> Tokens() {
    return Must(pg() ? Cast<ApiTokenRepository>(PgApiTokenRepository::Open(pg_conninfo()))
                     : Cast<ApiTokenRepository>(SqliteApiTokenRepository::Open(sqlite_path())));
  }
  std::unique_ptr<NodeEnrollmentRepository> Enrollment() {
    return Must(
        pg() ? Cast<NodeEnrollmentRepository>(PgNodeEnrollmentRepository::Open(pg_conninfo()))
             : Cast<NodeEnrollmentRepository>(SqliteNodeEnrollmentRepository::Open(sqlite_path())));
  }
  std::unique_ptr<NodeRevocationRepository> Revocations() {
    return Must(
        pg() ? Cast<NodeRevocationRepository>(PgNodeRevocationRepository::Open(pg_conninfo()))
             : Cast<NodeRevocationRepository>(SqliteNodeRevocationRepository::Open(sqlite_path())));
  }
  std::unique_ptr<AuditAppender> Appender() {
    Tokens();  // migrates (the SQLite appender does not)
    return Must(pg() ? Cast<AuditAppender>(PgAuditAppender::Open(pg_conninfo()))
                     : Cast<AuditAppender>(SqliteAuditAppender::Open(sqlite_path())));
  }
  std::unique_ptr<TokenStore> Store(const Clock& clock, TokenStoreOptions options = {}) {
    auto store = TokenStore::Create(Tokens(), clock, options);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }

  // The audit log's actions in seq order, after checking that the chain verifies.
  std::vector<std::string> AuditActions() {
    std::unique_ptr<AuditLogRepository> log =
        Must(pg() ? Cast<AuditLogRepository>(PgAuditLogRepository::Open(pg_conninfo()))
                  : Cast<AuditLogRepository>(SqliteAuditLogRepository::Open(sqlite_path())));
    std::vector<std::string> actions;
    if (log == nullptr) return actions;
    auto v = log->Verify(std::nullopt);
    EXPECT_TRUE(v.ok()) << v.status();
    if (v.ok()) {
      EXPECT_TRUE(v->intact()) << "the audit chain does not verify";
    }
    auto entries = log->List(0, 1000, "");
    EXPECT_TRUE(entries.ok()) << entries.status();
    if (!entries.ok()) return actions;
    for (const auto& e : *entries) actions.push_back(e.action);
    return actions;
  }

  // Makes every audit append fail (a trigger on audit_log), so the writes around it roll back.
  void RefuseAuditAppends(bool on) {
    if (pg()) {
      ASSERT_TRUE(RawExec(on ? "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ "
                               "BEGIN RAISE EXCEPTION 'audit refused'; END $$; CREATE TRIGGER "
                               "refuse BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION "
                               "refuse()"
                             : "DROP TRIGGER refuse ON audit_log; DROP FUNCTION refuse()")
                      .ok());
    } else {
      ASSERT_TRUE(RawExec(on ? "CREATE TRIGGER refuse BEFORE INSERT ON audit_log BEGIN SELECT "
                               "RAISE(ABORT, 'audit refused'); END"
                             : "DROP TRIGGER refuse")
                      .ok());
    }
  }

 private:
  template <typename Base, typename T>
  static absl::StatusOr<std::unique_ptr<Base>> Cast(absl::StatusOr<std::unique_ptr<T>> r) {
    if (!r.ok()) return r.status();
    return std::unique_ptr<Base>(*std::move(r));
  }
  template <typename T>
  static std::unique_ptr<T> Must(absl::StatusOr<std::unique_ptr<T>> r) {
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *std::move(r) : nullptr;
  }
};

TEST_P(AccessTest, TokensAreIssuedLookedUpExpiredAndRevokedOnceWithTheirAuditEntries) {
  FakeClock clock(kStart);
  auto tokens = Store(clock);
  ASSERT_NE(tokens, nullptr);
  auto alice = tokens->Issue("alice", ROLE_ANALYST, "token:root", absl::Hours(1));
  auto bob = tokens->Issue("bob", ROLE_ADMIN, "token:root");
  ASSERT_TRUE(alice.ok() && bob.ok()) << alice.status() << bob.status();
  EXPECT_EQ(alice->info().token_id(), "T-1");
  EXPECT_EQ(bob->info().token_id(), "T-2");
  ASSERT_TRUE(tokens->Lookup(alice->token()).has_value());
  EXPECT_EQ(tokens->Lookup(bob->token())->role(), ROLE_ADMIN);
  EXPECT_FALSE(tokens->Lookup("prov_unknown").has_value());

  auto revoked = tokens->Revoke("T-2", "token:root");
  ASSERT_TRUE(revoked.ok()) << revoked.status();
  EXPECT_TRUE(revoked->revoked());
  auto again = tokens->Revoke("T-2", "token:carol");  // twice: allowed, changes nothing
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->revoked_at().seconds(), revoked->revoked_at().seconds());
  EXPECT_EQ(tokens->Revoke("T-9", "token:root").status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(tokens->Lookup(bob->token()).has_value());

  clock.Advance(absl::Hours(1));
  EXPECT_FALSE(tokens->Lookup(alice->token()).has_value()) << "expired on the clock";
  ASSERT_EQ(tokens->List().size(), 2u) << "expired and revoked tokens are still listed";

  // What is stored: hashes only, the expiry and the one revocation.
  auto rows = Tokens()->LoadAll();
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].secret_sha256, Sha256Hex(alice->token()));
  EXPECT_EQ((*rows)[0].expires_at, kStart + absl::Hours(1));
  EXPECT_FALSE((*rows)[0].revoked_at.has_value());
  EXPECT_EQ((*rows)[1].revoked_at, kStart);
  EXPECT_THAT(AuditActions(), ElementsAre("token.issue", "token.issue", "token.revoke"));
}

TEST_P(AccessTest, TheRevisionCountsEveryWriteAndARefusedWriteChangesNothing) {
  auto repo = Tokens();
  ASSERT_NE(repo, nullptr);
  EXPECT_EQ(*repo->Revision(), 0);
  ASSERT_TRUE(repo->Insert(Token("T-1", "a"), Audit("token.issue", "1")).ok());
  ASSERT_TRUE(repo->Insert(Token("T-2", "b"), Audit("token.issue", "2")).ok());
  EXPECT_EQ(*repo->Revision(), 2);
  // A taken id, or a taken secret: ALREADY_EXISTS, no row, no audit entry.
  EXPECT_EQ(repo->Insert(Token("T-1", "c"), Audit("token.issue", "x")).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(repo->Insert(Token("T-3", "a"), Audit("token.issue", "x")).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(*repo->Revision(), 2);
  auto revoked = repo->Revoke("T-1", kStart + absl::Seconds(5), Audit("token.revoke", "1"));
  ASSERT_TRUE(revoked.ok()) << revoked.status();
  EXPECT_EQ(revoked->revoked_at, kStart + absl::Seconds(5));
  EXPECT_EQ(*repo->Revision(), 3);
  auto twice = repo->Revoke("T-1", kStart + absl::Seconds(9), Audit("token.revoke", "again"));
  ASSERT_TRUE(twice.ok()) << twice.status();
  EXPECT_EQ(twice->revoked_at, kStart + absl::Seconds(5)) << "the first revocation stays";
  EXPECT_EQ(*repo->Revision(), 3);
  EXPECT_EQ(repo->Revoke("T-7", kStart, Audit("token.revoke", "7")).status().code(),
            absl::StatusCode::kNotFound);
  auto all = repo->LoadAll();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(ApiTokenRevision(*all), 3);
  EXPECT_THAT(AuditActions(), ElementsAre("token.issue", "token.issue", "token.revoke"));
}

// Each write whose audit entry cannot be appended is rolled back whole: no row, no entry.
TEST_P(AccessTest, AWriteWhoseAuditEntryFailsLeavesNeitherRowNorEntry) {
  auto tokens = Tokens();
  auto enrollment = Enrollment();
  auto revocations = Revocations();
  auto appender = Appender();
  ASSERT_TRUE(tokens && enrollment && revocations && appender);
  ASSERT_TRUE(tokens->Insert(Token("T-1", "a"), Audit("token.issue", "1")).ok());
  ASSERT_TRUE(
      enrollment->CreateToken(EnrollToken("E-1", "gpu-1"), Audit("node.enroll_token", "1")).ok());
  RefuseAuditAppends(true);
  auto refused = [](const absl::Status& s) {
    EXPECT_FALSE(s.ok());
    EXPECT_THAT(std::string(s.message()), HasSubstr("audit refused"));
  };
  refused(tokens->Insert(Token("T-2", "b"), Audit("token.issue", "2")));
  refused(tokens->Revoke("T-1", kStart, Audit("token.revoke", "1")).status());
  refused(enrollment->CreateToken(EnrollToken("E-2", "gpu-2"), Audit("node.enroll_token", "2")));
  refused(enrollment->RecordCertificate({"0a", "gpu-1", kStart, kStart + absl::Hours(24), "token"},
                                        "E-1", Audit("node.enroll", "1")));
  refused(revocations->Revoke({"gpu-1", kStart, "token:root", "stolen"}, Audit("node.revoke", "1"))
              .status());
  refused(appender->Append(Audit("access.denied", "1")));
  RefuseAuditAppends(false);

  auto rows = tokens->LoadAll();
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_FALSE((*rows)[0].revoked_at.has_value());
  EXPECT_EQ(*tokens->Revision(), 1);
  EXPECT_FALSE(enrollment->FindToken("E-2")->has_value());
  auto e1 = enrollment->FindToken("E-1");
  ASSERT_TRUE(e1.ok() && e1->has_value());
  EXPECT_FALSE((*e1)->used_at.has_value()) << "the token is still unused";
  EXPECT_THAT(*enrollment->ListCertificates("gpu-1"), IsEmpty());
  EXPECT_THAT(*revocations->List(), IsEmpty());
  EXPECT_THAT(AuditActions(), ElementsAre("token.issue", "node.enroll_token"));
  // The token can still be used once.
  EXPECT_TRUE(enrollment
                  ->RecordCertificate({"0a", "gpu-1", kStart, kStart + absl::Hours(24), "token"},
                                      "E-1", Audit("node.enroll", "1"))
                  .ok());
}

TEST_P(AccessTest, AnEnrolmentTokenIsUsedOnceAndCertificatesAreIssuedAndRenewed) {
  auto repo = Enrollment();
  ASSERT_NE(repo, nullptr);
  const StoredEnrollToken token = EnrollToken("E-1f", "gpu-017");
  ASSERT_TRUE(repo->CreateToken(token, Audit("node.enroll_token", "E-1f")).ok());
  EXPECT_EQ(repo->CreateToken(token, Audit("node.enroll_token", "again")).code(),
            absl::StatusCode::kAlreadyExists);
  auto found = repo->FindToken("E-1f");
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ(**found, token);
  EXPECT_FALSE(repo->FindToken("E-none")->has_value());

  const absl::Time t1 = kStart + absl::Minutes(3);
  const StoredNodeCertificate first{"01ab", "gpu-017", t1, t1 + absl::Hours(24), "token"};
  ASSERT_TRUE(repo->RecordCertificate(first, "E-1f", Audit("node.enroll", "01ab", t1)).ok());
  found = repo->FindToken("E-1f");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->used_at, t1);
  EXPECT_EQ((*found)->cert_serial, "01ab");
  // Used once: a second enrolment with it writes nothing.
  absl::Status reused = repo->RecordCertificate(
      {"02cd", "gpu-017", t1, t1 + absl::Hours(24), "token"}, "E-1f", Audit("node.enroll", "x"));
  EXPECT_EQ(reused.code(), absl::StatusCode::kFailedPrecondition) << reused;
  EXPECT_THAT(std::string(reused.message()), HasSubstr("E-1f is used already"));
  EXPECT_EQ(
      repo->RecordCertificate({"03", "gpu-9", t1, t1, "token"}, "E-none", Audit("node.enroll", "x"))
          .code(),
      absl::StatusCode::kFailedPrecondition);
  // Renewal: no token; a serial stored already is refused.
  const absl::Time t2 = t1 + absl::Hours(20);
  const StoredNodeCertificate renewed{"04ef", "gpu-017", t2, t2 + absl::Hours(24), "renewal"};
  ASSERT_TRUE(repo->RecordCertificate(renewed, "", Audit("node.renew", "04ef", t2)).ok());
  EXPECT_EQ(repo->RecordCertificate(renewed, "", Audit("node.renew", "dup", t2)).code(),
            absl::StatusCode::kAlreadyExists);
  auto certs = repo->ListCertificates("gpu-017");
  ASSERT_TRUE(certs.ok()) << certs.status();
  EXPECT_THAT(*certs, ElementsAre(first, renewed));
  EXPECT_THAT(*repo->ListCertificates("gpu-9"), IsEmpty());
  EXPECT_THAT(AuditActions(), ElementsAre("node.enroll_token", "node.enroll", "node.renew"));
}

// A revoked node's certificates issued at or before the revocation are refused; one issued after
// (a re-enrolment) is not. The revocation list provd builds at start comes from List().
TEST_P(AccessTest, RevokedNodesAreListedNewestFirstAndTheirOlderCertificatesRefused) {
  auto repo = Revocations();
  ASSERT_NE(repo, nullptr);
  const absl::Time t1 = kStart + absl::Hours(1);
  const absl::Time t2 = kStart + absl::Hours(2);
  auto first = repo->Revoke({"gpu-1", t1, "token:alice", "stolen"}, Audit("node.revoke", "1", t1));
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(repo->Revoke({"gpu-2", t2, "token:bob", ""}, Audit("node.revoke", "2", t2)).ok());
  auto again = repo->Revoke({"gpu-1", t2, "token:bob", "later"}, Audit("node.revoke", "1b", t2));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *first) << "the first revocation is kept";
  auto all = repo->List();
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].node_id, "gpu-2");
  EXPECT_EQ((*all)[1], (StoredRevocation{"gpu-1", t1, "token:alice", "stolen"}));
  NodeRevocationList revoked;
  for (const StoredRevocation& r : *all) revoked.Add(r.node_id, r.revoked_at);
  EXPECT_TRUE(revoked.Refuses("gpu-1", t1 - absl::Minutes(5)));
  EXPECT_FALSE(revoked.Refuses("gpu-1", t1 + absl::Minutes(5)));
  EXPECT_FALSE(revoked.Refuses("gpu-3", t1));
  // Every request is audited, the repeated one too.
  EXPECT_THAT(AuditActions(), ElementsAre("node.revoke", "node.revoke", "node.revoke"));
}

// Two replicas: a node revoked through A's repository reaches B's list at B's next Poll, which
// also ends the node's open streams on B, once.
TEST_P(AccessTest, ARevocationOnOneReplicaReachesAnotherAtItsNextPoll) {
  auto a = Revocations();
  auto b = Revocations();
  ASSERT_TRUE(a && b);
  NodeRevocationList a_list, b_list;
  std::vector<std::string> ended_on_b;
  NodeRevocationSync sync(*b, b_list, [&](const std::string& node) {
    ended_on_b.push_back(node);
    return 1;
  });
  auto polled = sync.Poll();
  ASSERT_TRUE(polled.ok()) << polled.status();
  EXPECT_EQ(*polled, 0);
  const absl::Time t1 = kStart + absl::Hours(1);
  auto r = a->Revoke({"gpu-1", t1, "token:alice", "stolen"}, Audit("node.revoke", "1", t1));
  ASSERT_TRUE(r.ok()) << r.status();
  a_list.Add(r->node_id, r->revoked_at);  // what NodeAdminService does on A
  EXPECT_FALSE(b_list.Refuses("gpu-1", t1 - absl::Hours(1))) << "B has not polled yet";
  polled = sync.Poll();
  ASSERT_TRUE(polled.ok()) << polled.status();
  EXPECT_EQ(*polled, 1);
  EXPECT_TRUE(b_list.Refuses("gpu-1", t1 - absl::Hours(1)));
  EXPECT_FALSE(b_list.Refuses("gpu-1", t1 + absl::Hours(1)));
  EXPECT_THAT(ended_on_b, ElementsAre("gpu-1"));
  // Nothing new: nothing re-read, nothing ended again; a revision that moved brings the rest.
  EXPECT_EQ(*sync.Poll(), 0);
  ASSERT_TRUE(a->Revoke({"gpu-2", t1, "token:alice", ""}, Audit("node.revoke", "2", t1)).ok());
  ASSERT_TRUE(a->Revoke({"gpu-1", t1, "token:bob", "again"}, Audit("node.revoke", "1", t1)).ok());
  EXPECT_EQ(*b->Revision(), 2);
  EXPECT_EQ(*sync.Poll(), 1);
  EXPECT_THAT(ended_on_b, ElementsAre("gpu-1", "gpu-2"));
  EXPECT_EQ(b_list.size(), 2u);
}

TEST_P(AccessTest, AuditOnlyEntriesAppendToTheSameChain) {
  auto appender = Appender();
  auto tokens = Tokens();
  ASSERT_TRUE(appender && tokens);
  ASSERT_TRUE(appender->Append(Audit("access.denied", "1")).ok());
  ASSERT_TRUE(tokens->Insert(Token("T-1", "a"), Audit("token.issue", "1")).ok());
  ASSERT_TRUE(appender->Append(Audit("node.enroll_refused", "2")).ok());
  EXPECT_THAT(AuditActions(), ElementsAre("access.denied", "token.issue", "node.enroll_refused"));
}

// A flood of unknown tokens costs one revision query per miss_check_interval; known tokens
// cost one per refresh_interval; neither reloads while the revision stands still.
TEST_P(AccessTest, LookupsCheckTheDatabaseAtMostOncePerInterval) {
  FakeClock clock(kStart);
  int revisions = 0;
  auto store = TokenStore::Create(
      std::make_unique<CountingTokens>(Tokens(), &revisions), clock,
      {.refresh_interval = absl::Seconds(5), .miss_check_interval = absl::Seconds(1)});
  ASSERT_TRUE(store.ok()) << store.status();
  auto issued = (*store)->Issue("alice", ROLE_VIEWER, "token:root");
  ASSERT_TRUE(issued.ok());
  revisions = 0;
  for (int i = 0; i < 100; ++i) EXPECT_FALSE((*store)->Lookup(absl::StrCat("prov_x", i)));
  EXPECT_EQ(revisions, 1);
  for (int i = 0; i < 100; ++i) EXPECT_TRUE((*store)->Lookup(issued->token()));
  EXPECT_EQ(revisions, 1);
  clock.Advance(absl::Seconds(1));
  for (int i = 0; i < 100; ++i) EXPECT_FALSE((*store)->Lookup(absl::StrCat("prov_y", i)));
  EXPECT_EQ(revisions, 2);
  clock.Advance(absl::Seconds(5));
  for (int i = 0; i < 100; ++i) EXPECT_TRUE((*store)->Lookup(issued->token()));
  EXPECT_EQ(revisions, 3);
}

// A Lookup never waits for a repository call in progress: while one Lookup's check is stuck on a
// slow database, another Lookup due for a check answers from the index at once.
TEST_P(AccessTest, ALookupDoesNotWaitForACheckInProgress) {
  FakeClock clock(kStart);
  int revisions = 0;
  auto counting = std::make_unique<CountingTokens>(Tokens(), &revisions);
  CountingTokens* slow = counting.get();
  auto store =
      TokenStore::Create(std::move(counting), clock, {.refresh_interval = absl::Seconds(5)});
  ASSERT_TRUE(store.ok()) << store.status();
  auto issued = (*store)->Issue("alice", ROLE_VIEWER, "token:root");
  ASSERT_TRUE(issued.ok());
  revisions = 0;
  clock.Advance(absl::Seconds(5));
  slow->hold = true;
  std::optional<provenance::v1::TokenInfo> first;
  std::thread checking([&] { first = (*store)->Lookup(issued->token()); });  // due: checks
  ASSERT_TRUE(slow->entered.WaitForNotificationWithTimeout(absl::Seconds(10)));
  absl::Notification answered;
  std::optional<provenance::v1::TokenInfo> second;
  std::thread missing([&] {
    second = (*store)->Lookup("prov_unknown");  // a miss, due for its own check
    answered.Notify();
  });
  EXPECT_TRUE(answered.WaitForNotificationWithTimeout(absl::Seconds(10)))
      << "the second Lookup waited for the first one's check";
  slow->release.Notify();
  checking.join();
  missing.join();
  EXPECT_TRUE(first.has_value());
  EXPECT_FALSE(second.has_value());
  EXPECT_EQ(revisions, 1) << "the second Lookup did not check";
}

// Two provd replicas: two TokenStores, each on its own connection to one database.
TEST_P(AccessTest, TwoTokenStoresOnOneDatabaseSeeEachOthersWritesWithinTheBounds) {
  FakeClock clock(kStart);
  const TokenStoreOptions options{.refresh_interval = absl::Seconds(5),
                                  .miss_check_interval = absl::Seconds(1)};
  auto a = Store(clock, options);
  auto b = Store(clock, options);
  ASSERT_TRUE(a && b);

  // Issued on A: works on B at once (B's first miss checks the revision).
  auto t1 = a->Issue("alice", ROLE_ANALYST, "token:root");
  ASSERT_TRUE(t1.ok()) << t1.status();
  ASSERT_TRUE(b->Lookup(t1->token()).has_value());

  // Another one within B's miss interval (B checked on the miss above) may miss; it works once
  // the interval has passed.
  auto t2 = a->Issue("bob", ROLE_VIEWER, "token:root");
  ASSERT_TRUE(t2.ok()) << t2.status();
  auto t3 = a->Issue("carol", ROLE_VIEWER, "token:root");
  ASSERT_TRUE(t3.ok());
  EXPECT_FALSE(b->Lookup(t3->token()).has_value()) << "rate-limited: no second check this second";
  clock.Advance(absl::Seconds(1));
  EXPECT_TRUE(b->Lookup(t3->token()).has_value());

  // Revoked on A: B keeps serving it for less than refresh_interval, never longer.
  ASSERT_TRUE(b->Lookup(t1->token()).has_value());  // B's index: alice live
  clock.Advance(absl::Seconds(5));
  ASSERT_TRUE(b->Lookup(t1->token()).has_value());  // a periodic check: still live
  ASSERT_TRUE(a->Revoke(t1->info().token_id(), "token:root").ok());
  EXPECT_FALSE(a->Lookup(t1->token()).has_value());
  clock.Advance(absl::Seconds(4));
  EXPECT_TRUE(b->Lookup(t1->token()).has_value()) << "within the bound B may still accept it";
  clock.Advance(absl::Seconds(1));
  EXPECT_FALSE(b->Lookup(t1->token()).has_value()) << "refresh_interval after the last check";

  // B issues with a stale next id (A took T-4 meanwhile): it reloads and takes T-5.
  auto t4 = a->Issue("dave", ROLE_VIEWER, "token:root");
  ASSERT_TRUE(t4.ok());
  EXPECT_EQ(t4->info().token_id(), "T-4");
  auto t5 = b->Issue("erin", ROLE_VIEWER, "token:root");
  ASSERT_TRUE(t5.ok()) << t5.status();
  EXPECT_EQ(t5->info().token_id(), "T-5");
  // Revoke on B of a token B has not seen yet: it reads the database first.
  auto t6 = a->Issue("frank", ROLE_VIEWER, "token:root");
  ASSERT_TRUE(t6.ok());
  ASSERT_TRUE(b->Revoke(t6->info().token_id(), "token:root").ok());
  // List reads the database: both stores list the same six tokens, in the same states.
  auto listed = [](const std::vector<provenance::v1::TokenInfo>& all) {
    std::vector<std::string> out;
    for (const auto& t : all) out.push_back(absl::StrCat(t.token_id(), t.revoked() ? "x" : ""));
    return out;
  };
  EXPECT_THAT(listed(a->List()), ElementsAre("T-1x", "T-2", "T-3", "T-4", "T-5", "T-6x"));
  EXPECT_EQ(listed(a->List()), listed(b->List()));
  EXPECT_THAT(AuditActions(),
              ElementsAre("token.issue", "token.issue", "token.issue", "token.revoke",
                          "token.issue", "token.issue", "token.issue", "token.revoke"));
  EXPECT_EQ(a->refresh_errors() + b->refresh_errors(), 0u);
}

TEST_P(AccessTest, ATokenIsIssuedOnlyWhileNoLiveTokenOfItsRoleExists) {
  auto repo = Tokens();
  ASSERT_TRUE(repo);
  auto admin = [](const std::string& id) {
    StoredApiToken t = Token(id, "secret-" + id);
    t.role = ROLE_ADMIN;
    return t;
  };
  // A viewer does not hold the admin role.
  ASSERT_TRUE(repo->Insert(Token("T-1", "s1"), Audit("token.issue", "1")).ok());
  auto first = repo->InsertIfRoleVacant(admin("T-2"), Audit("token.issue", "2"), kStart);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(*first);
  // A live admin: nothing written, no audit entry, the revision unchanged.
  const int64_t revision = *repo->Revision();
  auto second = repo->InsertIfRoleVacant(admin("T-3"), Audit("token.issue", "3"), kStart);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_FALSE(*second);
  EXPECT_EQ(*repo->Revision(), revision);
  // A revoked admin does not hold it.
  ASSERT_TRUE(repo->Revoke("T-2", kStart, Audit("token.revoke", "2")).ok());
  StoredApiToken expiring = admin("T-3");
  expiring.expires_at = kStart + absl::Hours(1);
  auto third = repo->InsertIfRoleVacant(expiring, Audit("token.issue", "3"), kStart);
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_TRUE(*third);
  // An expiring admin holds it until its expiry, not from then on.
  auto before = repo->InsertIfRoleVacant(admin("T-4"), Audit("token.issue", "4"),
                                         kStart + absl::Hours(1) - absl::Microseconds(1));
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_FALSE(*before);
  // A taken id is refused as by Insert, with nothing written.
  EXPECT_EQ(
      repo->InsertIfRoleVacant(admin("T-3"), Audit("token.issue", "3"), kStart + absl::Hours(1))
          .status()
          .code(),
      absl::StatusCode::kAlreadyExists);
  StoredApiToken revoked = admin("T-5");
  revoked.revoked_at = kStart;
  EXPECT_EQ(repo->InsertIfRoleVacant(revoked, Audit("token.issue", "5"), kStart).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto after =
      repo->InsertIfRoleVacant(admin("T-4"), Audit("token.issue", "4"), kStart + absl::Hours(1));
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_TRUE(*after);
  auto all = repo->LoadAll();
  ASSERT_TRUE(all.ok()) << all.status();
  std::vector<std::string> ids;
  for (const auto& t : *all) ids.push_back(t.token_id);
  EXPECT_THAT(ids, ElementsAre("T-1", "T-2", "T-3", "T-4"));
  EXPECT_THAT(AuditActions(), ElementsAre("token.issue", "token.issue", "token.revoke",
                                          "token.issue", "token.issue"));
}

// Six connections (six replicas' repositories) released together on a vacant role: one writes.
TEST_P(AccessTest, OfConnectionsRacingOnAVacantRoleExactlyOneIssues) {
  constexpr int kRacers = 6;
  for (int round = 0; round < 3; ++round) {
    std::vector<std::unique_ptr<ApiTokenRepository>> repos;
    for (int i = 0; i < kRacers; ++i) repos.push_back(Tokens());
    for (const auto& r : repos) ASSERT_TRUE(r);
    absl::Notification go;
    std::atomic<int> wrote{0};
    std::atomic<int> failed{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < kRacers; ++i) {
      threads.emplace_back([&, i] {
        StoredApiToken t = Token(absl::StrCat("T-", round, "-", i), absl::StrCat(round, "/", i));
        t.role = ROLE_ADMIN;
        go.WaitForNotification();
        auto r = repos[i]->InsertIfRoleVacant(t, Audit("token.issue", t.token_id), kStart);
        if (!r.ok()) {
          ADD_FAILURE() << r.status();
          ++failed;
        } else if (*r) {
          ++wrote;
        }
      });
    }
    go.Notify();
    for (auto& t : threads) t.join();
    EXPECT_EQ(failed.load(), 0);
    EXPECT_EQ(wrote.load(), 1) << "round " << round;
    // Vacate the role for the next round.
    auto all = repos[0]->LoadAll();
    ASSERT_TRUE(all.ok()) << all.status();
    for (const auto& t : *all) {
      if (!t.revoked_at.has_value()) {
        ASSERT_TRUE(repos[0]->Revoke(t.token_id, kStart, Audit("token.revoke", t.token_id)).ok());
      }
    }
  }
  EXPECT_EQ(AuditActions().size(), 6u);  // three issues, three revocations
}

// Two replicas start together: B has found no admin and is about to issue when A issues the
// bootstrap token and writes its file. B then issues none and writes no file.
TEST_P(AccessTest, ReplicasStartingTogetherWriteOneBootstrapAdmin) {
  FakeClock clock(kStart);
  server::testing::TempDir dir;
  int revisions = 0;
  auto held = std::make_unique<CountingTokens>(Tokens(), &revisions);
  CountingTokens* b_repo = held.get();
  auto b = TokenStore::Create(std::move(held), clock);
  ASSERT_TRUE(b.ok()) << b.status();
  auto a = Store(clock);
  ASSERT_TRUE(a);
  b_repo->hold_vacant_insert = true;
  absl::StatusOr<bool> b_wrote;
  std::thread b_start([&] { b_wrote = (*b)->EnsureBootstrapAdmin(dir.path() + "/b.token"); });
  // B looked at its index (no admin) and is issuing only if the role is still vacant.
  EXPECT_TRUE(b_repo->insert_entered.WaitForNotificationWithTimeout(absl::Seconds(30)))
      << "B did not issue through InsertIfRoleVacant";
  auto a_wrote = a->EnsureBootstrapAdmin(dir.path() + "/a.token");
  b_repo->insert_release.Notify();
  b_start.join();
  ASSERT_TRUE(a_wrote.ok()) << a_wrote.status();
  ASSERT_TRUE(b_wrote.ok()) << b_wrote.status();
  EXPECT_TRUE(*a_wrote);
  EXPECT_FALSE(*b_wrote);
  struct stat st {};
  EXPECT_EQ(::stat((dir.path() + "/a.token").c_str(), &st), 0);
  EXPECT_NE(::stat((dir.path() + "/b.token").c_str(), &st), 0) << "B wrote a token file";
  ASSERT_EQ((*b)->List().size(), 1u);
  EXPECT_EQ((*b)->List()[0].role(), ROLE_ADMIN);
  // Once that admin is revoked the role is vacant: the next start writes a new bootstrap token.
  auto revoked = a->Revoke((*b)->List()[0].token_id(), "token:root");
  ASSERT_TRUE(revoked.ok()) << revoked.status();
  auto again = a->EnsureBootstrapAdmin(dir.path() + "/c.token");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(*again);
  EXPECT_THAT(AuditActions(), ElementsAre("token.issue", "token.revoke", "token.issue"));
}

PROV_STORE_TEST_P(AccessTest);

// PostgreSQL only.
class PgAccessTest : public AccessTest {
 protected:
  std::unique_ptr<PgConn> Connect(const std::string& name) {
    auto conn =
        PgConn::Connect(pg_conninfo(), {.application_name = name, .search_path = kPgSchema});
    EXPECT_TRUE(conn.ok()) << conn.status();
    return conn.ok() ? *std::move(conn) : nullptr;
  }
  // Whether `n` provd/access sessions wait on a lock together within 8 s (under the sessions'
  // lock_timeout, 10 s), polling the real server every 10 ms.
  static bool AccessSessionsWaitingOnALock(PgConn& watcher, int64_t n) {
    const absl::Time deadline = absl::Now() + absl::Seconds(8);
    while (absl::Now() < deadline) {
      auto waiting = watcher.Query(
          "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'provd/access' AND "
          "wait_event_type = 'Lock'");
      if (waiting.ok() && *waiting->Int64(0, 0) == n) return true;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return false;
  }
  // Drops every provd/access session; returns how many there were.
  int64_t TerminateAccessSessions() {
    auto admin = Connect("prov-test");
    if (admin == nullptr) return -1;
    auto n = prov::testing::TerminateBackends(*admin, "application_name = 'provd/access'");
    EXPECT_TRUE(n.ok()) << n.status();
    return n.ok() ? *n : -1;
  }
};

// Two replicas enrol with one token at the same moment: a third session holds the token's row
// lock until both are waiting on it (seen in pg_stat_activity), then lets go. Exactly one
// enrolment commits; the other writes nothing.
TEST_P(PgAccessTest, TwoSessionsRacingForOneEnrolmentTokenExactlyOneWins) {
  auto setup = Enrollment();
  auto first = Enrollment();
  auto second = Enrollment();
  auto blocker = Connect("prov-test/blocker");
  auto watcher = Connect("prov-test/watcher");
  ASSERT_TRUE(setup && first && second && blocker && watcher);
  ASSERT_TRUE(
      setup->CreateToken(EnrollToken("E-race", "gpu-7"), Audit("node.enroll_token", "r")).ok());
  ASSERT_TRUE(blocker->Exec("BEGIN").ok());
  ASSERT_TRUE(
      blocker->Exec("SELECT token_id FROM node_enroll_tokens WHERE token_id = 'E-race' FOR UPDATE")
          .ok());
  absl::Status results[2];
  std::thread one([&] {
    results[0] = first->RecordCertificate({"aa", "gpu-7", kStart, kStart, "token"}, "E-race",
                                          Audit("node.enroll", "aa"));
  });
  std::thread two([&] {
    results[1] = second->RecordCertificate({"bb", "gpu-7", kStart, kStart, "token"}, "E-race",
                                           Audit("node.enroll", "bb"));
  });
  const bool both_waited = AccessSessionsWaitingOnALock(*watcher, 2);
  absl::Status committed = blocker->Exec("COMMIT");
  one.join();
  two.join();
  ASSERT_TRUE(committed.ok()) << committed;
  EXPECT_TRUE(both_waited) << "the two enrolments never waited on the token's row together";
  EXPECT_NE(results[0].ok(), results[1].ok()) << results[0] << " / " << results[1];
  const absl::Status& loser = results[0].ok() ? results[1] : results[0];
  EXPECT_EQ(loser.code(), absl::StatusCode::kFailedPrecondition) << loser;
  auto certs = setup->ListCertificates("gpu-7");
  ASSERT_TRUE(certs.ok()) << certs.status();
  ASSERT_EQ(certs->size(), 1u);
  auto token = setup->FindToken("E-race");
  ASSERT_TRUE(token.ok() && token->has_value());
  EXPECT_EQ((*token)->cert_serial, (*certs)[0].serial) << "the winner's certificate is recorded";
  EXPECT_THAT(AuditActions(), ElementsAre("node.enroll_token", "node.enroll"));
}

// Two replicas issue the first admin at the same moment: a third session holds the vacant-role
// lock until both are waiting on it (pg_stat_activity), then lets go. Exactly one issues.
TEST_P(PgAccessTest, TwoSessionsWaitingOnTheVacantRoleLockIssueOneToken) {
  auto first = Tokens();
  auto second = Tokens();
  auto blocker = Connect("prov-test/blocker");
  auto watcher = Connect("prov-test/watcher");
  ASSERT_TRUE(first && second && blocker && watcher);
  ASSERT_TRUE(blocker->Exec("BEGIN").ok());
  ASSERT_TRUE(
      blocker->Query("SELECT pg_advisory_xact_lock($1::int, $2::int)", {kPgLockKey, kPgTokenLock})
          .ok());
  absl::StatusOr<bool> results[2];
  auto admin = [](const std::string& id) {
    StoredApiToken t = Token(id, "secret-" + id);
    t.role = ROLE_ADMIN;
    return t;
  };
  std::thread one([&] {
    results[0] = first->InsertIfRoleVacant(admin("T-1"), Audit("token.issue", "1"), kStart);
  });
  std::thread two([&] {
    results[1] = second->InsertIfRoleVacant(admin("T-2"), Audit("token.issue", "2"), kStart);
  });
  const bool both_waited = AccessSessionsWaitingOnALock(*watcher, 2);
  absl::Status committed = blocker->Exec("COMMIT");
  one.join();
  two.join();
  ASSERT_TRUE(committed.ok()) << committed;
  EXPECT_TRUE(both_waited) << "the two issues never waited on the lock together";
  ASSERT_TRUE(results[0].ok()) << results[0].status();
  ASSERT_TRUE(results[1].ok()) << results[1].status();
  EXPECT_NE(*results[0], *results[1]);
  auto all = first->LoadAll();
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->size(), 1u);
  EXPECT_THAT(AuditActions(), ElementsAre("token.issue"));
}

// Every repository answers again after the server dropped its session (a restart, a failover,
// an idle timeout): reads and writes, each on a new session, with nothing written twice.
TEST_P(PgAccessTest, EveryRepositoryReconnectsAfterTheServerDroppedItsSession) {
  FakeClock clock(kStart);
  auto tokens = Store(clock);
  auto enrollment = Enrollment();
  auto revocations = Revocations();
  auto appender = Appender();
  ASSERT_TRUE(tokens && enrollment && revocations && appender);
  // The four repositories' sessions (a closing one may still be counted).
  ASSERT_GE(TerminateAccessSessions(), 4);
  auto issued = tokens->Issue("alice", ROLE_ANALYST, "token:root");
  ASSERT_TRUE(issued.ok()) << issued.status();
  ASSERT_TRUE(
      enrollment->CreateToken(EnrollToken("E-1", "gpu-1"), Audit("node.enroll_token", "1")).ok());
  ASSERT_TRUE(
      revocations->Revoke({"gpu-2", kStart, "token:root", ""}, Audit("node.revoke", "2")).ok());
  ASSERT_TRUE(appender->Append(Audit("access.denied", "1")).ok());
  ASSERT_GE(TerminateAccessSessions(), 4);
  clock.Advance(absl::Seconds(5));  // the next Lookup checks the revision on a new session
  EXPECT_TRUE(tokens->Lookup(issued->token()).has_value());
  EXPECT_TRUE(enrollment->FindToken("E-1")->has_value());
  EXPECT_EQ(revocations->List()->size(), 1u);
  ASSERT_TRUE(enrollment
                  ->RecordCertificate({"0a", "gpu-1", kStart, kStart, "token"}, "E-1",
                                      Audit("node.enroll", "1"))
                  .ok());
  EXPECT_EQ(tokens->refresh_errors(), 0u);
  EXPECT_THAT(AuditActions(), ElementsAre("token.issue", "node.enroll_token", "node.revoke",
                                          "access.denied", "node.enroll"));
}

INSTANTIATE_TEST_SUITE_P(Engines, PgAccessTest,
                         ::testing::Values(::prov::testing::Engine::kPostgres),
                         [](const auto& info) { return ::prov::testing::EngineName(info.param); });

}  // namespace
}  // namespace prov::server
