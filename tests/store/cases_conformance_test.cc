// Compliance cases (server/store/repo/cases.h) behave the same on SQLite and on PostgreSQL: an
// action is stored with its audit entry in one transaction, a refused or failed one leaves
// nothing, and CaseManager runs its whole workflow over either engine. PostgreSQL only: analysts
// on two replicas acting on one case at once are applied one after the other, and a dropped
// session is replaced.
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/testing/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/cases/case_manager.h"
#include "server/store/pg/pg_audit_log.h"
#include "server/store/pg/pg_cases.h"
#include "server/store/pg/pg_conn.h"
#include "server/store/pg/pg_schema.h"
#include "server/store/repo/audit_log.h"
#include "server/store/repo/cases.h"
#include "server/store/sqlite/sqlite_audit_log.h"
#include "server/store/sqlite/sqlite_cases.h"
#include "tests/analysis/analysis_test_util.h"
#include "tests/server/temp_dir.h"
#include "tests/store/pg_server.h"
#include "tests/store/store_fixture.h"

namespace prov::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// A change to `stored` that a decide callback returns: one more "note" action by `actor`.
CaseChange Note(absl::string_view flag_id, const std::optional<StoredCase>& stored,
                const std::string& actor, int64_t time_us) {
  CaseChange change;
  if (stored.has_value()) change.after = *stored;
  change.after.flag_id = std::string(flag_id);
  change.after.status = stored.has_value() ? stored->status : 1;
  change.after.revision = (stored.has_value() ? stored->revision : 0) + 1;
  change.after.updated_us = time_us;
  change.time_us = time_us;
  change.actor = actor;
  change.action = absl::StrCat("action-", change.after.revision, "-by-", actor);
  change.audit_action = "case.note";
  change.audit_payload =
      AuditPayload({{"flag_id", flag_id}, {"case_seq", absl::StrCat(change.after.revision)}});
  return change;
}

class CasesTest : public prov::testing::StoreTest {
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
  // A repository on a connection of its own (as a second provd replica has).
  std::unique_ptr<CaseRepository> Open() {
    if (engine() == prov::testing::Engine::kSqlite) {
      auto repo = SqliteCaseRepository::Open(sqlite_path());
      EXPECT_TRUE(repo.ok()) << repo.status();
      return repo.ok() ? std::unique_ptr<CaseRepository>(*std::move(repo)) : nullptr;
    }
    auto repo = PgCaseRepository::Open(pg_conninfo());
    EXPECT_TRUE(repo.ok()) << repo.status();
    return repo.ok() ? std::unique_ptr<CaseRepository>(*std::move(repo)) : nullptr;
  }
  absl::StatusOr<StoredCase> AddNote(CaseRepository& repo, const std::string& flag,
                                     const std::string& actor, int64_t time_us) {
    return repo.Apply(flag, [&](const std::optional<StoredCase>& stored) {
      return absl::StatusOr<CaseChange>(Note(flag, stored, actor, time_us));
    });
  }
  std::vector<std::string> AuditActions() {
    auto entries = log_->List(0, 1000, "");
    EXPECT_TRUE(entries.ok()) << entries.status();
    std::vector<std::string> out;
    if (entries.ok()) {
      for (const auto& e : *entries) out.push_back(e.action);
    }
    return out;
  }

  std::unique_ptr<CaseRepository> repo_;
  std::unique_ptr<AuditLogRepository> log_;
};

TEST_P(CasesTest, AnActionIsStoredWithItsAuditEntryAndTheNextOneSeesIt) {
  EXPECT_EQ(*repo_->Get("F-000001"), std::nullopt);
  std::optional<StoredCase> seen_first = StoredCase{};
  auto first = repo_->Apply("F-000001", [&](const std::optional<StoredCase>& stored) {
    seen_first = stored;
    CaseChange c = Note("F-000001", stored, "token:alice", 1000);
    c.after.assignee = "alice";
    c.after.duplicate_of = "F-000000";
    c.after.disposition = 3;
    return absl::StatusOr<CaseChange>(c);
  });
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(seen_first, std::nullopt);
  EXPECT_EQ(first->revision, 1u);

  std::optional<StoredCase> seen_second;
  auto second = repo_->Apply("F-000001", [&](const std::optional<StoredCase>& stored) {
    seen_second = stored;
    return absl::StatusOr<CaseChange>(Note("F-000001", stored, "token:bob", 2000));
  });
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(seen_second, *first);
  ASSERT_TRUE(AddNote(*repo_, "F-000002", "token:bob", 3000).ok());

  auto got = repo_->Get("F-000001");
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(**got, *second);
  EXPECT_EQ((*got)->assignee, "alice");
  EXPECT_EQ((*got)->duplicate_of, "F-000000");
  EXPECT_EQ((*got)->disposition, 3);
  EXPECT_EQ((*got)->revision, 2u);
  EXPECT_EQ((*got)->updated_us, 2000);
  EXPECT_THAT(*repo_->Actions("F-000001"),
              ElementsAre("action-1-by-token:alice", "action-2-by-token:bob"));
  EXPECT_THAT(*repo_->Actions("F-000009"), IsEmpty());
  auto all = repo_->List();
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].flag_id, "F-000001");
  EXPECT_EQ((*all)[1].flag_id, "F-000002");

  EXPECT_THAT(AuditActions(), ElementsAre("case.note", "case.note", "case.note"));
  auto entries = *log_->List(0, 10, "");
  EXPECT_EQ(entries[0].actor, "token:alice");
  EXPECT_EQ(entries[0].time_unix_micros, 1000);
  EXPECT_THAT(entries[0].payload, HasSubstr("\"case_seq\":\"1\""));
  auto v = log_->Verify(std::nullopt);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(v->intact());
}

TEST_P(CasesTest, AChangeRefusedByDecideWritesNothing) {
  ASSERT_TRUE(AddNote(*repo_, "F-000001", "token:alice", 1000).ok());
  auto refused = repo_->Apply("F-000001", [&](const std::optional<StoredCase>&) {
    return absl::StatusOr<CaseChange>(absl::FailedPreconditionError("stale revision"));
  });
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ((*repo_->Get("F-000001"))->revision, 1u);
  EXPECT_THAT(*repo_->Actions("F-000001"), ElementsAre("action-1-by-token:alice"));
  EXPECT_THAT(AuditActions(), ElementsAre("case.note"));
}

TEST_P(CasesTest, AChangeThatIsNotTheNextRevisionIsRefused) {
  auto skipped = repo_->Apply("F-000001", [&](const std::optional<StoredCase>& stored) {
    CaseChange c = Note("F-000001", stored, "token:alice", 1000);
    c.after.revision = 5;
    return absl::StatusOr<CaseChange>(c);
  });
  EXPECT_EQ(skipped.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(skipped.status().message()), HasSubstr("revision 5 is not the next (1)"));
  auto other = repo_->Apply("F-000001", [&](const std::optional<StoredCase>& stored) {
    return absl::StatusOr<CaseChange>(Note("F-000002", stored, "token:alice", 1000));
  });
  EXPECT_EQ(other.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(*repo_->Get("F-000001"), std::nullopt);
  EXPECT_EQ(*repo_->Get("F-000002"), std::nullopt);
  EXPECT_THAT(AuditActions(), IsEmpty());
}

// The audit append is the last write: when it fails, the case row and its action written before
// it in the same transaction are rolled back with it.
TEST_P(CasesTest, AFailedAuditAppendRollsTheActionBack) {
  ASSERT_TRUE(AddNote(*repo_, "F-000001", "token:alice", 1000).ok());
  if (engine() == prov::testing::Engine::kSqlite) {
    ASSERT_TRUE(RawExec("CREATE TRIGGER refuse BEFORE INSERT ON audit_log BEGIN "
                        "SELECT RAISE(ABORT, 'audit append refused by the test'); END")
                    .ok());
  } else {
    ASSERT_TRUE(RawExec("CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                        "RAISE EXCEPTION 'audit append refused by the test'; END $$; "
                        "CREATE TRIGGER refuse BEFORE INSERT ON audit_log FOR EACH ROW "
                        "EXECUTE FUNCTION refuse()")
                    .ok());
  }
  auto failed = AddNote(*repo_, "F-000001", "token:bob", 2000);
  ASSERT_FALSE(failed.ok());
  EXPECT_THAT(std::string(failed.status().message()), HasSubstr("audit append refused"));
  auto failed_new = AddNote(*repo_, "F-000002", "token:bob", 2000);
  ASSERT_FALSE(failed_new.ok());
  EXPECT_EQ((*repo_->Get("F-000001"))->revision, 1u);
  EXPECT_THAT(*repo_->Actions("F-000001"), ElementsAre("action-1-by-token:alice"));
  EXPECT_EQ(*repo_->Get("F-000002"), std::nullopt);
  EXPECT_THAT(*repo_->Actions("F-000002"), IsEmpty());
  EXPECT_THAT(AuditActions(), ElementsAre("case.note"));
  // And the repository goes on once the append works again.
  ASSERT_TRUE(
      RawExec("DROP TRIGGER refuse" +
              std::string(engine() == prov::testing::Engine::kSqlite ? "" : " ON audit_log"))
          .ok());
  auto after = AddNote(*repo_, "F-000001", "token:bob", 3000);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->revision, 2u);
}

// Two connections (two replicas) adding to one case take turns: each sees the other's actions.
TEST_P(CasesTest, TwoConnectionsSeeEachOthersActions) {
  auto other = Open();
  ASSERT_NE(other, nullptr);
  ASSERT_TRUE(AddNote(*repo_, "F-000001", "token:alice", 1000).ok());
  auto second = AddNote(*other, "F-000001", "token:bob", 2000);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->revision, 2u);
  auto third = AddNote(*repo_, "F-000001", "token:alice", 3000);
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_EQ(third->revision, 3u);
  EXPECT_EQ(*other->Get("F-000001"), *repo_->Get("F-000001"));
}

// CaseManager's workflow over the engine's repository: the analysis engine (its own SQLite file)
// raises a flag, an analyst acknowledges and resolves it, the flag follows, and a new
// CaseManager on a fresh connection reads the same case with every action.
TEST_P(CasesTest, CaseManagerRunsItsWorkflowOverTheRepository) {
  using namespace testing;  // NOLINT: analysis test builders
  server::testing::TempDir engine_dir;
  FakeClock clock(kT0);
  AnalysisEngine::Options o;
  o.db_path = engine_dir.path() + "/analysis.db";
  o.clock = &clock;
  o.policy = TestPolicy();
  auto engine = AnalysisEngine::Start(std::move(o));
  ASSERT_TRUE(engine.ok()) << engine.status();
  for (int k = 0; k < 3; ++k) (*engine)->Submit(PeerRound(k));
  (*engine)->Flush();
  auto flags = (*engine)->Read([](const Analyzer& a) { return a.ListFlags({}); });
  ASSERT_EQ(flags.size(), 1u);
  const std::string id = flags[0].flag_id();

  auto cases = std::make_unique<CaseManager>(std::move(repo_), **engine, clock);
  provenance::v1::Principal who;
  who.set_actor("token:alice");
  who.set_role(provenance::v1::ROLE_ANALYST);
  provenance::v1::UpdateCaseRequest r;
  r.set_flag_id(id);
  r.set_action("acknowledge");
  ASSERT_TRUE(cases->Update(who, r).ok());
  r.set_action("resolve");
  r.set_disposition(provenance::v1::DISPOSITION_CONFIRMED);
  r.set_note("training run confirmed");
  r.set_expected_revision(1);
  auto resolved = cases->Update(who, r);
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_EQ(resolved->status(), provenance::v1::FLAG_STATUS_RESOLVED);
  EXPECT_EQ(resolved->revision(), 2u);
  ASSERT_EQ(resolved->actions_size(), 2);
  EXPECT_EQ(resolved->actions(1).note(), "training run confirmed");
  auto stale = cases->Update(who, r);  // expected_revision 1 again
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ((*engine)->Read([&](const Analyzer& a) { return a.flag(id)->status(); }),
            provenance::v1::FLAG_STATUS_RESOLVED);

  CaseManager again(Open(), **engine, clock);
  auto got = again.Get(id);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->status(), provenance::v1::FLAG_STATUS_RESOLVED);
  EXPECT_EQ(got->disposition(), provenance::v1::DISPOSITION_CONFIRMED);
  ASSERT_EQ(got->actions_size(), 2);
  EXPECT_EQ(got->actions(0).action(), "acknowledge");
  EXPECT_EQ(got->actions(1).actor(), "token:alice");
  EXPECT_THAT(AuditActions(), ElementsAre("case.acknowledge", "case.resolve"));
  (*engine)->Shutdown();
}

PROV_STORE_TEST_P(CasesTest);

// PostgreSQL only: replicas share no write lock, so PgCaseRepository takes its own.
using PgCasesTest = CasesTest;

// Two replicas adding to one case at once, many times, each on its own session and thread: every
// action succeeds, revisions are 1..N without a gap or a collision, and the audit chain holds.
TEST_P(PgCasesTest, ReplicasActingOnOneCaseAtOnceTakeTurns) {
  auto other = Open();
  ASSERT_NE(other, nullptr);
  constexpr int kEach = 60;
  std::vector<absl::Status> failures[2];
  auto run = [&](CaseRepository* repo, const std::string& actor, std::vector<absl::Status>* out) {
    for (int i = 0; i < kEach; ++i) {
      auto r = AddNote(*repo, "F-000001", actor, 1000 + i);
      if (!r.ok()) out->push_back(r.status());
    }
  };
  std::thread a(run, repo_.get(), "token:alice", &failures[0]);
  std::thread b(run, other.get(), "token:bob", &failures[1]);
  a.join();
  b.join();
  EXPECT_THAT(failures[0], IsEmpty());
  EXPECT_THAT(failures[1], IsEmpty());
  EXPECT_EQ((*repo_->Get("F-000001"))->revision, 2u * kEach);
  auto actions = *repo_->Actions("F-000001");
  ASSERT_EQ(actions.size(), 2u * kEach);
  for (size_t i = 0; i < actions.size(); ++i) {
    EXPECT_THAT(actions[i], ::testing::StartsWith(absl::StrCat("action-", i + 1, "-by-")));
  }
  auto v = log_->Verify(std::nullopt);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(v->intact());
  EXPECT_EQ(v->entries, 2u * kEach);
}

TEST_P(PgCasesTest, TheRepositoryReconnectsAfterTheServerDroppedItsSession) {
  ASSERT_TRUE(AddNote(*repo_, "F-000001", "token:alice", 1000).ok());
  auto conn =
      PgConn::Connect(pg_conninfo(), {.application_name = "prov-test", .search_path = kPgSchema});
  ASSERT_TRUE(conn.ok()) << conn.status();
  auto n = prov::testing::TerminateBackends(**conn, "application_name = 'provd/cases'");
  ASSERT_TRUE(n.ok() && *n == 1);
  auto got = repo_->Get("F-000001");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ((*got)->revision, 1u);
  n = prov::testing::TerminateBackends(**conn, "application_name = 'provd/cases'");
  ASSERT_TRUE(n.ok() && *n == 1);
  auto applied = AddNote(*repo_, "F-000001", "token:alice", 2000);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(applied->revision, 2u);
}

INSTANTIATE_TEST_SUITE_P(Engines, PgCasesTest, ::testing::Values(prov::testing::Engine::kPostgres),
                         [](const auto& info) { return prov::testing::EngineName(info.param); });

}  // namespace
}  // namespace prov::server
