// The identity records (server/store/repo/identity.h) and the start-up quarantine
// (server/store/repo/quarantine.h) behave the same on SQLite and on PostgreSQL: KYC versions and
// account history, the latest list and policy, hits replaced (first-found times kept), the
// snapshot and the account view, each write with its audit entry in one transaction and a failed
// or cancelled one leaving nothing; an unparseable row is moved to quarantined_records and nothing
// else is touched. PostgreSQL only: two replicas importing KYC at once get consecutive versions
// with both audit entries, and a dropped session is replaced.
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/store/connection.h"
#include "server/store/pg/pg_audit_log.h"
#include "server/store/pg/pg_conn.h"
#include "server/store/pg/pg_identity.h"
#include "server/store/pg/pg_quarantine.h"
#include "server/store/pg/pg_schema.h"
#include "server/store/quarantine.h"
#include "server/store/repo/audit_log.h"
#include "server/store/repo/identity.h"
#include "server/store/sqlite/sqlite_audit_log.h"
#include "server/store/sqlite/sqlite_identity.h"
#include "tests/store/pg_server.h"
#include "tests/store/store_fixture.h"

namespace prov::server {
namespace {

using provenance::v1::AccountIdentity;
using provenance::v1::ScreeningMatch;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const absl::Time kT0 = absl::FromUnixSeconds(1767225600);  // 2026-01-01

AccountIdentity Acct(const std::string& id, const std::string& entity,
                     const std::string& parent = "") {
  AccountIdentity a;
  a.set_account_id(id);
  a.set_legal_entity(entity);
  a.set_country_of_incorporation("DE");
  a.set_parent_account(parent);
  return a;
}

ScreeningMatch Hit(const std::string& account, const std::string& entry, double score) {
  ScreeningMatch m;
  m.set_account_id(account);
  m.set_subject_name(account + " GmbH");
  m.set_entry_id(entry);
  m.set_entry_name("Listed " + entry);
  m.set_score(score);
  return m;
}

std::vector<std::string> Ids(const std::vector<AccountIdentity>& accounts) {
  std::vector<std::string> ids;
  for (const auto& a : accounts) ids.push_back(a.account_id());
  return ids;
}

std::vector<std::string> Entries(const std::vector<ScreeningMatch>& hits) {
  std::vector<std::string> out;
  for (const auto& h : hits) out.push_back(absl::StrCat(h.account_id(), "/", h.entry_id()));
  return out;
}

AuditRecord Audit(const std::string& action, const std::string& what) {
  return {.actor = "token:alice",
          .action = action,
          .payload = AuditPayload({{"what", what}}),
          .at = kT0};
}

class IdentityTest : public prov::testing::StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    repo_ = Open();
    ASSERT_NE(repo_, nullptr);
    if (engine() == prov::testing::Engine::kSqlite) {
      auto log = SqliteAuditLogRepository::Open(sqlite_path());
      ASSERT_TRUE(log.ok()) << log.status();
      log_ = *std::move(log);
    } else {
      auto log = PgAuditLogRepository::Open(pg_conninfo());
      ASSERT_TRUE(log.ok()) << log.status();
      log_ = *std::move(log);
    }
  }

  std::unique_ptr<IdentityRepository> Open() {
    if (engine() == prov::testing::Engine::kSqlite) {
      auto repo = SqliteIdentityRepository::Open(sqlite_path());
      EXPECT_TRUE(repo.ok()) << repo.status();
      return repo.ok() ? std::unique_ptr<IdentityRepository>(*std::move(repo)) : nullptr;
    }
    auto repo = PgIdentityRepository::Open(pg_conninfo());
    EXPECT_TRUE(repo.ok()) << repo.status();
    return repo.ok() ? std::unique_ptr<IdentityRepository>(*std::move(repo)) : nullptr;
  }

  // A KYC import of `accounts` with its audit entry (the version named in it).
  absl::StatusOr<KycImportSummary> Import(IdentityRepository& repo,
                                          const std::vector<AccountIdentity>& accounts,
                                          const std::string& actor = "token:alice",
                                          int64_t expected = 0) {
    KycImportWrite w;
    w.accounts = &accounts;
    w.source = "accounts.csv";
    w.actor = actor;
    w.content_digest = "sha256:" + actor;
    w.errors = 1;
    w.now = kT0;
    w.expected_version = expected;
    w.audit = [actor](const KycImportSummary& s) {
      return AuditRecord{.actor = actor,
                         .action = "kyc.import",
                         .payload = AuditPayload({{"kyc_version", absl::StrCat(s.version)}}),
                         .at = kT0};
    };
    return repo.ImportKyc(w);
  }

  // One integer a query returns, read behind the repository's back.
  int64_t QueryInt(const std::string& sql) {
    if (engine() == prov::testing::Engine::kSqlite) {
      auto db = OpenConnection(sqlite_path(), SqliteDb::kReadOnly);
      EXPECT_TRUE(db.ok()) << db.status();
      auto st = (*db)->Prepare(sql);
      EXPECT_TRUE(st.ok()) << st.status();
      auto row = (*st)->Step();
      EXPECT_TRUE(row.ok() && *row) << sql;
      return (*st)->ColumnInt64(0);
    }
    auto conn = PgConn::Connect(pg_conninfo(), {.search_path = kPgSchema});
    EXPECT_TRUE(conn.ok()) << conn.status();
    auto r = (*conn)->Query(sql);
    EXPECT_TRUE(r.ok()) << r.status();
    return *r->Int64(0, 0);
  }

  // The audit actions in seq order, after checking that the chain verifies.
  std::vector<std::string> AuditActions() {
    auto v = log_->Verify(std::nullopt);
    EXPECT_TRUE(v.ok()) << v.status();
    EXPECT_TRUE(v->intact());
    auto entries = log_->List(0, 1000, "");
    EXPECT_TRUE(entries.ok()) << entries.status();
    std::vector<std::string> out;
    for (const auto& e : *entries) out.push_back(e.action);
    return out;
  }

  // `bytes_hex` as a blob literal of the engine.
  std::string Blob(const std::string& hex) {
    return engine() == prov::testing::Engine::kSqlite ? absl::StrCat("X'", hex, "'")
                                                      : absl::StrCat("'\\x", hex, "'::bytea");
  }

  std::unique_ptr<IdentityRepository> repo_;
  std::unique_ptr<AuditLogRepository> log_;
};

TEST_P(IdentityTest, KycImportsGetConsecutiveVersionsAndKeepEveryAccountsHistory) {
  EXPECT_EQ(*repo_->LatestKycVersion(), 0);
  EXPECT_THAT(*repo_->CurrentAccounts(), IsEmpty());
  EXPECT_FALSE(repo_->Account("northwind")->has_value());

  auto v1 = Import(*repo_, {Acct("northwind", "Northwind AG"), Acct("acme", "Acme Ltd")});
  ASSERT_TRUE(v1.ok()) << v1.status();
  EXPECT_EQ(v1->version, 1);
  EXPECT_EQ(v1->accepted, 2u);
  EXPECT_EQ(v1->errors, 1u);
  EXPECT_EQ(v1->content_digest, "sha256:token:alice");
  auto v2 = Import(*repo_, {Acct("northwind", "Northwind SE"), Acct("zeta", "Zeta", "acme")});
  ASSERT_TRUE(v2.ok()) << v2.status();
  EXPECT_EQ(v2->version, 2);
  EXPECT_EQ(*repo_->LatestKycVersion(), 2);

  // Current: imports add and update, never delete; ordered by account_id (bytes).
  EXPECT_THAT(Ids(*repo_->CurrentAccounts()), ElementsAre("acme", "northwind", "zeta"));
  auto now = repo_->Account("northwind");
  ASSERT_TRUE(now.ok() && now->has_value());
  EXPECT_EQ((*now)->version, 2);
  EXPECT_EQ((*now)->identity.legal_entity(), "Northwind SE");
  EXPECT_EQ((*repo_->Account("acme"))->version, 1);
  // History.
  auto old = repo_->AccountVersion("northwind", 1);
  ASSERT_TRUE(old.ok() && old->has_value());
  EXPECT_EQ((*old)->legal_entity(), "Northwind AG");
  EXPECT_FALSE(repo_->AccountVersion("zeta", 1)->has_value());
  EXPECT_FALSE(repo_->AccountVersion("acme", 2)->has_value());
  EXPECT_EQ(QueryInt("SELECT accepted * 10 + errors FROM kyc_imports WHERE version = 2"), 21);
  EXPECT_THAT(AuditActions(), ElementsAre("kyc.import", "kyc.import"));
}

TEST_P(IdentityTest, AnImportThatWouldNotGetTheExpectedVersionIsAbortedAndWritesNothing) {
  ASSERT_TRUE(Import(*repo_, {Acct("a", "A")}).ok());
  auto stale = Import(*repo_, {Acct("b", "B")}, "token:bob", /*expected=*/1);
  ASSERT_FALSE(stale.ok());
  EXPECT_TRUE(absl::IsAborted(stale.status())) << stale.status();
  EXPECT_THAT(std::string(stale.status().message()), HasSubstr("version 1 meanwhile"));
  EXPECT_EQ(*repo_->LatestKycVersion(), 1);
  EXPECT_THAT(Ids(*repo_->CurrentAccounts()), ElementsAre("a"));
  EXPECT_THAT(AuditActions(), ElementsAre("kyc.import"));
  auto fresh = Import(*repo_, {Acct("b", "B")}, "token:bob", /*expected=*/2);
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_EQ(fresh->version, 2);
}

TEST_P(IdentityTest, AFailedOrCancelledImportLeavesNothing) {
  std::vector<ScreeningMatch> hits = {Hit("a", "e1", 0.9)};
  ASSERT_TRUE(
      repo_->ReplaceScreeningHits({.hits = &hits, .kyc_version = 0, .list_version = ""}, kT0).ok());
  // Cancelled at the last moment: accounts, hits and audit entry all rolled back.
  std::vector<AccountIdentity> accounts = {Acct("a", "A"), Acct("b", "B")};
  std::vector<ScreeningMatch> none;
  KycImportWrite w;
  w.accounts = &accounts;
  w.source = "a.csv";
  w.now = kT0;
  w.hits = &none;
  w.audit = [](const KycImportSummary&) { return Audit("kyc.import", "x"); };
  w.cancelled = [] { return true; };
  auto cancelled = repo_->ImportKyc(w);
  EXPECT_TRUE(absl::IsCancelled(cancelled.status())) << cancelled.status();
  // The same account twice in one file: the history key refuses it, nothing is kept.
  std::vector<AccountIdentity> twice = {Acct("a", "A"), Acct("a", "A2")};
  auto dup = Import(*repo_, twice);
  EXPECT_FALSE(dup.ok());
  // No accounts at all is bad input.
  KycImportWrite no_accounts;
  no_accounts.source = "x";
  auto null = repo_->ImportKyc(no_accounts);
  EXPECT_TRUE(absl::IsInvalidArgument(null.status())) << null.status();

  EXPECT_EQ(*repo_->LatestKycVersion(), 0);
  EXPECT_THAT(*repo_->CurrentAccounts(), IsEmpty());
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM account_identities"), 0);
  EXPECT_THAT(Entries(*repo_->ScreeningHits("")), ElementsAre("a/e1"));
  EXPECT_THAT(AuditActions(), IsEmpty());
  // The next import gets version 1 (no gap left by the failures).
  auto next = Import(*repo_, {Acct("a", "A")});
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->version, 1);
}

// Every write whose audit append fails (a trigger planted on audit_log) leaves nothing of itself.
TEST_P(IdentityTest, AWriteWhoseAuditEntryCannotBeAppendedLeavesNothing) {
  std::vector<ScreeningMatch> kept = {Hit("a", "e1", 0.9)};
  ASSERT_TRUE(
      repo_->ReplaceScreeningHits({.hits = &kept, .kyc_version = 0, .list_version = ""}, kT0).ok());
  auto policy = repo_->SavePolicy("p-1", "a.yaml", "version: p-1\n", kT0, std::nullopt);
  ASSERT_TRUE(policy.ok());
  const bool pg = engine() == prov::testing::Engine::kPostgres;
  ASSERT_TRUE(RawExec(pg ? "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ "
                           "BEGIN RAISE EXCEPTION 'audit refused'; END $$; CREATE TRIGGER "
                           "refuse BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION "
                           "refuse()"
                         : "CREATE TRIGGER refuse BEFORE INSERT ON audit_log BEGIN SELECT "
                           "RAISE(ABORT, 'audit refused'); END")
                  .ok());
  std::vector<AccountIdentity> accounts = {Acct("b", "B")};
  std::vector<ScreeningMatch> none;
  KycImportWrite kyc;
  kyc.accounts = &accounts;
  kyc.now = kT0;
  kyc.hits = &none;
  kyc.audit = [](const KycImportSummary&) { return Audit("kyc.import", "1"); };
  EXPECT_FALSE(repo_->ImportKyc(kyc).ok());
  ScreeningListWrite list;
  list.content = "x";
  list.list_version = "csl-sha256:aa";
  list.now = kT0;
  list.hits = HitsReplacement{.hits = &none, .kyc_version = 0, .list_version = "csl-sha256:aa"};
  list.audit = Audit("screening.import", "aa");
  EXPECT_FALSE(repo_->ImportScreeningList(list).ok());
  EXPECT_FALSE(repo_->SavePolicy("p-2", "b.yaml", "", kT0, Audit("policy.load", "2")).ok());
  EXPECT_FALSE(repo_->DeletePolicy(*policy, Audit("policy.refused", "1")).ok());

  EXPECT_EQ(*repo_->LatestKycVersion(), 0);
  EXPECT_THAT(*repo_->CurrentAccounts(), IsEmpty());
  EXPECT_FALSE(repo_->LatestScreeningListInfo()->has_value());
  EXPECT_THAT(Entries(*repo_->ScreeningHits("")), ElementsAre("a/e1"));
  EXPECT_EQ((*repo_->LatestPolicy())->version, "p-1");
  EXPECT_THAT(AuditActions(), IsEmpty());
}

TEST_P(IdentityTest, TheLatestListIsTheLastImportedAndItsHitsReplaceTheStoredOnes) {
  EXPECT_FALSE(repo_->LatestScreeningListInfo()->has_value());
  EXPECT_FALSE(repo_->LatestScreeningListContent()->has_value());
  std::vector<ScreeningMatch> first = {Hit("acme", "e1", 0.91), Hit("zeta", "e2", 0.8)};
  ScreeningListWrite w1;
  w1.content = "name,type\nAlpha,Entity\n";
  w1.list_version = "csl-sha256:aa";
  w1.columns = 2;
  w1.entries = 1;
  w1.source = "csl.csv";
  w1.actor = "token:alice";
  w1.now = kT0;
  w1.hits = HitsReplacement{.hits = &first, .kyc_version = 3, .list_version = "csl-sha256:aa"};
  w1.audit = Audit("screening.import", "aa");
  auto l1 = repo_->ImportScreeningList(w1);
  ASSERT_TRUE(l1.ok()) << l1.status();
  // A second list two hours later: "acme/e1" stays (keeps its first found time), "zeta/e2" goes,
  // "acme/e3" is new.
  std::vector<ScreeningMatch> second = {Hit("acme", "e3", 0.95), Hit("acme", "e1", 0.92)};
  ScreeningListWrite w2 = w1;
  w2.content = "name,type\nBeta,Entity\nGamma,Entity\n";
  w2.list_version = "csl-sha256:bb";
  w2.entries = 2;
  w2.now = kT0 + absl::Hours(2);
  w2.hits = HitsReplacement{.hits = &second, .kyc_version = 4, .list_version = "csl-sha256:bb"};
  w2.audit = Audit("screening.import", "bb");
  auto l2 = repo_->ImportScreeningList(w2);
  ASSERT_TRUE(l2.ok()) << l2.status();
  EXPECT_GT(l2->id, l1->id);

  auto info = repo_->LatestScreeningListInfo();
  ASSERT_TRUE(info.ok() && info->has_value());
  EXPECT_EQ((*info)->list_version, "csl-sha256:bb");
  EXPECT_EQ((*info)->entries, 2);
  EXPECT_EQ((*info)->columns, 2);
  EXPECT_EQ((*info)->source, "csl.csv");
  EXPECT_EQ((*info)->actor, "token:alice");
  EXPECT_EQ((*info)->imported_at, kT0 + absl::Hours(2));
  auto content = repo_->LatestScreeningListContent();
  ASSERT_TRUE(content.ok() && content->has_value());
  EXPECT_EQ((*content)->second, "name,type\nBeta,Entity\nGamma,Entity\n");

  EXPECT_THAT(Entries(*repo_->ScreeningHits("")), ElementsAre("acme/e3", "acme/e1"));
  EXPECT_THAT(Entries(*repo_->ScreeningHits("zeta")), IsEmpty());
  EXPECT_EQ(QueryInt("SELECT found_at_us FROM screening_hits ORDER BY id LIMIT 1"),
            absl::ToUnixMicros(kT0 + absl::Hours(2)));
  EXPECT_EQ(QueryInt("SELECT found_at_us FROM screening_hits ORDER BY id DESC LIMIT 1"),
            absl::ToUnixMicros(kT0));
  EXPECT_EQ(QueryInt("SELECT MIN(kyc_version) FROM screening_hits"), 4);
  // A re-screening with no hits empties them.
  std::vector<ScreeningMatch> none;
  ASSERT_TRUE(
      repo_->ReplaceScreeningHits({.hits = &none, .kyc_version = 4, .list_version = ""}, kT0).ok());
  EXPECT_THAT(*repo_->ScreeningHits(""), IsEmpty());
  EXPECT_TRUE(absl::IsInvalidArgument(repo_->ReplaceScreeningHits({}, kT0)));
  EXPECT_THAT(AuditActions(), ElementsAre("screening.import", "screening.import"));

  // A list whose hits were screened on KYC version 3 while version 0 is the latest: refused.
  ScreeningListWrite stale = w2;
  stale.list_version = "csl-sha256:cc";
  stale.expected_kyc_version = 3;
  auto refused = repo_->ImportScreeningList(stale);
  EXPECT_TRUE(absl::IsAborted(refused.status())) << refused.status();
  EXPECT_EQ((*repo_->LatestScreeningListInfo())->list_version, "csl-sha256:bb");
  stale.expected_kyc_version = 0;
  EXPECT_TRUE(repo_->ImportScreeningList(stale).ok());
}

TEST_P(IdentityTest, TheLatestPolicyIsTheLastSavedOneUntilItIsDeleted) {
  EXPECT_FALSE(repo_->LatestPolicy()->has_value());
  auto first = repo_->SavePolicy("p-1", "a.yaml", "version: p-1\n", kT0, Audit("policy.load", "1"));
  auto second = repo_->SavePolicy("p-2", "b.yaml", "version: p-2\n", kT0 + absl::Minutes(1),
                                  Audit("policy.load", "2"));
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_GT(*second, *first);
  auto latest = repo_->LatestPolicy();
  ASSERT_TRUE(latest.ok() && latest->has_value());
  EXPECT_EQ((*latest)->id, *second);
  EXPECT_EQ((*latest)->version, "p-2");
  EXPECT_EQ((*latest)->source, "b.yaml");
  EXPECT_EQ((*latest)->yaml, "version: p-2\n");
  EXPECT_EQ((*latest)->loaded_at, kT0 + absl::Minutes(1));
  ASSERT_TRUE(repo_->DeletePolicy(*second, Audit("policy.refused", "2")).ok());
  EXPECT_EQ((*repo_->LatestPolicy())->version, "p-1");
  EXPECT_THAT(AuditActions(), ElementsAre("policy.load", "policy.load", "policy.refused"));
}

TEST_P(IdentityTest, TheSnapshotAndTheAccountViewShowWhatIsStored) {
  auto empty = repo_->Snapshot();
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(empty->kyc_version, 0);
  EXPECT_THAT(empty->accounts, IsEmpty());
  EXPECT_EQ(empty->screening_list_version, "");

  std::vector<ScreeningMatch> hits = {Hit("zeta", "e9", 0.9)};
  std::vector<AccountIdentity> accounts = {Acct("zeta", "Zeta"), Acct("acme", "Acme")};
  KycImportWrite w;
  w.accounts = &accounts;
  w.source = "a.csv";
  w.now = kT0;
  w.hits = &hits;
  w.list_version = "csl-sha256:aa";
  ASSERT_TRUE(repo_->ImportKyc(w).ok());
  ScreeningListWrite list;
  list.content = "x";
  list.list_version = "csl-sha256:aa";
  list.now = kT0;
  ASSERT_TRUE(repo_->ImportScreeningList(list).ok());
  auto snap = repo_->Snapshot();
  ASSERT_TRUE(snap.ok()) << snap.status();
  EXPECT_EQ(snap->kyc_version, 1);
  EXPECT_THAT(Ids(snap->accounts), ElementsAre("acme", "zeta"));
  EXPECT_EQ(snap->screening_list_version, "csl-sha256:aa");
  EXPECT_THAT(Entries(snap->hits), ElementsAre("zeta/e9"));

  // The view: KYC'd and hit; unknown; known only by its bundle (analysis engine's table).
  auto zeta = repo_->AccountView("zeta");
  ASSERT_TRUE(zeta.ok() && zeta->has_value()) << zeta.status();
  EXPECT_EQ((*zeta)->identity().legal_entity(), "Zeta");
  EXPECT_EQ((*zeta)->kyc_version(), 1);
  EXPECT_EQ((*zeta)->screening_size(), 1);
  EXPECT_FALSE(repo_->AccountView("nobody")->has_value());
  ASSERT_TRUE(
      RawExec("INSERT INTO bundle_accounts(account_id, bundle_id) VALUES ('ghost', 'B-1')").ok());
  auto ghost = repo_->AccountView("ghost");
  ASSERT_TRUE(ghost.ok() && ghost->has_value()) << ghost.status();
  EXPECT_EQ((*ghost)->identity().account_id(), "ghost");
  EXPECT_EQ((*ghost)->kyc_version(), 0);
  EXPECT_EQ((*ghost)->bundle_id(), "B-1");

  // Flags (the analysis engine's tables): the most severe first, then by flag_id.
  for (auto [id, severity] : {std::pair<std::string, int>{"F-2", 1}, {"F-1", 1}, {"F-3", 3}}) {
    provenance::v1::Flag flag;
    flag.set_flag_id(id);
    flag.set_summary("flag " + id);
    ASSERT_TRUE(RawExec(absl::StrCat("INSERT INTO flags(flag_id, rule, subject, severity, status, "
                                     "updated_us, flag) VALUES ('",
                                     id, "', 'r', 's-", id, "', ", severity, ", 1, 0, ",
                                     Blob(absl::BytesToHexString(flag.SerializeAsString())), ")"))
                    .ok());
    ASSERT_TRUE(RawExec(absl::StrCat("INSERT INTO flag_accounts(account_id, flag_id) VALUES "
                                     "('acme', '",
                                     id, "')"))
                    .ok());
  }
  auto acme = repo_->AccountView("acme");
  ASSERT_TRUE(acme.ok() && acme->has_value()) << acme.status();
  std::vector<std::string> flags;
  for (const auto& f : (*acme)->flags()) flags.push_back(f.summary());
  EXPECT_THAT(flags, ElementsAre("flag F-3", "flag F-1", "flag F-2"));
}

TEST_P(IdentityTest, AStoredRecordThatNoLongerParsesIsQuarantinedAndNothingElseIsTouched) {
  ASSERT_TRUE(Import(*repo_, {Acct("good", "Good")}).ok());
  // 0xff is no protobuf tag: the record does not parse.
  ASSERT_TRUE(RawExec(absl::StrCat("INSERT INTO accounts(account_id, version, legal_entity, "
                                   "country, parent_account, identity) VALUES ('bad', 1, '', "
                                   "'', '', ",
                                   Blob("ff"), ")"))
                  .ok());
  auto quarantine = [&]() -> absl::StatusOr<std::vector<QuarantinedRecord>> {
    if (engine() == prov::testing::Engine::kSqlite) {
      auto db = OpenConnection(sqlite_path(), SqliteDb::kReadWrite);
      if (!db.ok()) return db.status();
      return QuarantineUnreadableRecords(**db, kT0);
    }
    auto conn = PgConn::Connect(pg_conninfo(), {.search_path = kPgSchema});
    if (!conn.ok()) return conn.status();
    return QuarantineUnreadableRecords(**conn, kT0);
  };
  // A list stored with a Windows-1252 byte (0xe9): its key has integer and text columns.
  ScreeningListWrite good_list;
  good_list.content = "name\nAlpha\n";
  good_list.list_version = "csl-sha256:ok";
  good_list.now = kT0;
  ASSERT_TRUE(repo_->ImportScreeningList(good_list).ok());
  ASSERT_TRUE(RawExec(absl::StrCat("INSERT INTO screening_lists(list_version, imported_at_us, "
                                   "source, actor, columns, entries, content) VALUES "
                                   "('csl-sha256:bad', 7, 'caf.csv', 'bob', 2, 1, ",
                                   Blob("6e616d650a436166e90a"), ")"))
                  .ok());
  auto moved = quarantine();
  ASSERT_TRUE(moved.ok()) << moved.status();
  ASSERT_EQ(moved->size(), 2u);
  EXPECT_EQ((*moved)[0].table, "accounts");
  EXPECT_EQ((*moved)[0].key, "account_id=bad, version=1");
  EXPECT_EQ((*moved)[0].reason, "stored AccountIdentity does not parse");
  EXPECT_EQ((*moved)[1].table, "screening_lists");
  EXPECT_EQ((*moved)[1].key,
            "id=2, list_version=csl-sha256:bad, imported_at_us=7, source=caf.csv, actor=bob, "
            "columns=2, entries=1");
  EXPECT_THAT((*moved)[1].reason, HasSubstr("stored screening list is not UTF-8"));
  EXPECT_EQ((*repo_->LatestScreeningListInfo())->list_version, "csl-sha256:ok");
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM quarantined_records WHERE table_name = 'accounts' "
                     "AND row_key = 'account_id=bad, version=1' AND LENGTH(record) = 1"),
            1);
  EXPECT_THAT(Ids(*repo_->CurrentAccounts()), ElementsAre("good"));
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM account_identities"), 1);
  // A clean database: nothing more to move.
  auto again = quarantine();
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_THAT(*again, IsEmpty());
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM quarantined_records"), 2);
}

PROV_STORE_TEST_P(IdentityTest);

// PostgreSQL only: replicas share no write lock, so PgIdentityRepository takes its own.
// The scan reports only what it moved: a row another writer rewrote since the scan (Move says
// false: on PostgreSQL the leader's analysis store writes without the quarantine's lock) is
// neither reported nor counted.
class OneBadAccountRows : public QuarantineRows {
 public:
  explicit OneBadAccountRows(bool still_there) : still_there_(still_there) {}
  absl::Status Scan(const std::string& table, const std::vector<std::string>& /*key_columns*/,
                    const std::string& /*record_column*/, Row row) override {
    if (table == "accounts") row({"acct-1", "1"}, std::string("\xff\xff\xff", 3));
    return absl::OkStatus();
  }
  absl::StatusOr<bool> Move(const std::string& table, const std::vector<std::string>&,
                            const std::vector<std::string>&, const std::string& record_column,
                            const QuarantinedRecord&, const std::string&, absl::Time) override {
    moves.push_back(table + "." + record_column);
    return still_there_;
  }
  std::vector<std::string> moves;

 private:
  bool still_there_;
};

TEST(QuarantineScanTest, ReportsOnlyTheRowsItMoved) {
  OneBadAccountRows moved(/*still_there=*/true);
  auto reported = QuarantineUnreadableRows(moved, kT0);
  ASSERT_TRUE(reported.ok()) << reported.status();
  ASSERT_EQ(reported->size(), 1u);
  EXPECT_EQ((*reported)[0].table, "accounts");
  EXPECT_THAT(moved.moves, ElementsAre("accounts.identity"));

  OneBadAccountRows rewritten(/*still_there=*/false);
  auto none = QuarantineUnreadableRows(rewritten, kT0);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_THAT(*none, IsEmpty());
  EXPECT_EQ(rewritten.moves.size(), 1u) << "it tried";
}

using PgIdentityTest = IdentityTest;

// Two replicas importing KYC at once, many times, each on its own session and thread: every
// import succeeds, the versions are 1..2N without a gap or a collision, and every import's audit
// entry is there in one unbroken chain.
TEST_P(PgIdentityTest, ReplicasImportingAtOnceGetConsecutiveVersions) {
  auto other = Open();
  ASSERT_NE(other, nullptr);
  constexpr int kEach = 25;
  std::vector<absl::Status> failures[2];
  std::vector<int64_t> versions[2];
  auto run = [&](IdentityRepository* repo, const std::string& actor, int side) {
    for (int i = 0; i < kEach; ++i) {
      auto r = Import(*repo, {Acct(absl::StrCat(actor, "-", i), actor)}, actor);
      if (r.ok()) {
        versions[side].push_back(r->version);
      } else {
        failures[side].push_back(r.status());
      }
    }
  };
  std::thread a(run, repo_.get(), "token:alice", 0);
  std::thread b(run, other.get(), "token:bob", 1);
  a.join();
  b.join();
  EXPECT_THAT(failures[0], IsEmpty());
  EXPECT_THAT(failures[1], IsEmpty());
  EXPECT_EQ(*repo_->LatestKycVersion(), 2 * kEach);
  EXPECT_EQ(QueryInt("SELECT COUNT(DISTINCT version) FROM kyc_imports"), 2 * kEach);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM accounts"), 2 * kEach);
  std::vector<std::string> actions = AuditActions();
  EXPECT_EQ(actions.size(), 2u * kEach);
  // Each audit entry names the version its import got, in commit (= version) order.
  auto entries = log_->List(0, 1000, "kyc.import");
  ASSERT_TRUE(entries.ok());
  for (size_t i = 0; i < entries->size(); ++i) {
    EXPECT_THAT((*entries)[i].payload, HasSubstr(absl::StrCat("\"kyc_version\":\"", i + 1, "\"")));
  }
}

TEST_P(PgIdentityTest, TheRepositoryReconnectsAfterTheServerDroppedItsSession) {
  ASSERT_TRUE(Import(*repo_, {Acct("a", "A")}).ok());
  auto conn =
      PgConn::Connect(pg_conninfo(), {.application_name = "prov-test", .search_path = kPgSchema});
  ASSERT_TRUE(conn.ok()) << conn.status();
  auto n = prov::testing::TerminateBackends(**conn, "application_name = 'provd/identity'");
  ASSERT_TRUE(n.ok() && *n == 1);
  auto snap = repo_->Snapshot();
  ASSERT_TRUE(snap.ok()) << snap.status();
  EXPECT_EQ(snap->kyc_version, 1);
  n = prov::testing::TerminateBackends(**conn, "application_name = 'provd/identity'");
  ASSERT_TRUE(n.ok() && *n == 1);
  auto next = Import(*repo_, {Acct("b", "B")});
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->version, 2);
  EXPECT_THAT(AuditActions(), ElementsAre("kyc.import", "kyc.import"));
}

INSTANTIATE_TEST_SUITE_P(Engines, PgIdentityTest,
                         ::testing::Values(prov::testing::Engine::kPostgres),
                         [](const auto& info) { return prov::testing::EngineName(info.param); });

}  // namespace
}  // namespace prov::server
