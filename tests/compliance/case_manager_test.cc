// Cases on flags: the transition table, and CaseManager with a real AnalysisEngine and SQLite:
// actions are kept in order with their actor, the engine's flag follows (queries and watchers),
// and a restart keeps everything.
#include "server/cases/case_manager.h"

#include "common/testing/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/auditlog/audit_log.h"
#include "tests/analysis/analysis_test_util.h"
#include "tests/server/temp_dir.h"

namespace prov::server {
namespace {

using namespace testing;  // NOLINT: test builders
using provenance::v1::FLAG_STATUS_ACKNOWLEDGED;
using provenance::v1::FLAG_STATUS_ESCALATED;
using provenance::v1::FLAG_STATUS_OPEN;
using provenance::v1::FLAG_STATUS_RESOLVED;
using ::testing::HasSubstr;

TEST(NextCaseStatusTest, FollowsTheWorkflow) {
  EXPECT_EQ(*NextCaseStatus(FLAG_STATUS_OPEN, "acknowledge"), FLAG_STATUS_ACKNOWLEDGED);
  EXPECT_EQ(*NextCaseStatus(FLAG_STATUS_OPEN, "escalate"), FLAG_STATUS_ESCALATED);
  EXPECT_EQ(*NextCaseStatus(FLAG_STATUS_ACKNOWLEDGED, "escalate"), FLAG_STATUS_ESCALATED);
  EXPECT_EQ(*NextCaseStatus(FLAG_STATUS_ESCALATED, "resolve"), FLAG_STATUS_RESOLVED);
  EXPECT_EQ(*NextCaseStatus(FLAG_STATUS_OPEN, "resolve"), FLAG_STATUS_RESOLVED);
  EXPECT_EQ(*NextCaseStatus(FLAG_STATUS_RESOLVED, "reopen"), FLAG_STATUS_OPEN);
  EXPECT_EQ(*NextCaseStatus(FLAG_STATUS_ESCALATED, "note"), FLAG_STATUS_ESCALATED);
  EXPECT_EQ(*NextCaseStatus(FLAG_STATUS_RESOLVED, "assign"), FLAG_STATUS_RESOLVED);
  auto refused = NextCaseStatus(FLAG_STATUS_ESCALATED, "acknowledge");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr("the case is escalated; acknowledge applies to open cases"));
  EXPECT_FALSE(NextCaseStatus(FLAG_STATUS_RESOLVED, "resolve").ok());
  EXPECT_FALSE(NextCaseStatus(FLAG_STATUS_OPEN, "reopen").ok());
  EXPECT_EQ(NextCaseStatus(FLAG_STATUS_OPEN, "close").status().code(),
            absl::StatusCode::kInvalidArgument);
}

class CaseManagerTest : public ::testing::Test {
 protected:
  void Start() {
    AnalysisEngine::Options o;
    o.db_path = dir_.path() + "/provd.db";
    o.clock = &clock_;
    o.policy = TestPolicy();
    auto engine = AnalysisEngine::Start(std::move(o));
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = *std::move(engine);
    auto cases = CaseManager::Open(dir_.path() + "/provd.db", *engine_, clock_);
    ASSERT_TRUE(cases.ok()) << cases.status();
    cases_ = *std::move(cases);
  }
  void Stop() {
    cases_.reset();
    engine_->Shutdown();
    engine_.reset();
  }
  std::string RaiseFlag() {
    for (int k = 0; k < 3; ++k) engine_->Submit(PeerRound(k));
    engine_->Flush();
    auto flags = engine_->Read([](const Analyzer& a) { return a.ListFlags({}); });
    EXPECT_EQ(flags.size(), 1u);
    return flags.empty() ? "" : flags[0].flag_id();
  }
  provenance::v1::Flag EngineFlag(const std::string& id) {
    return engine_->Read([&](const Analyzer& a) { return *a.flag(id); });
  }
  absl::StatusOr<provenance::v1::Case> Do(const std::string& who, const std::string& id,
                                          const std::string& action,
                                          provenance::v1::Disposition d = {},
                                          const std::string& note = "") {
    provenance::v1::Principal p;
    p.set_actor(who);
    p.set_role(provenance::v1::ROLE_ANALYST);
    provenance::v1::UpdateCaseRequest r;
    r.set_flag_id(id);
    r.set_action(action);
    r.set_disposition(d);
    r.set_note(note);
    return cases_->Update(p, r);
  }

  testing::TempDir dir_;
  FakeClock clock_{kT0};
  std::unique_ptr<AnalysisEngine> engine_;
  std::unique_ptr<CaseManager> cases_;
};

TEST_F(CaseManagerTest, ActionsMoveTheFlagAndAreKeptInOrder) {
  Start();
  const std::string id = RaiseFlag();
  ASSERT_FALSE(id.empty());
  auto watch = engine_->Watch(provenance::v1::SEVERITY_INFO);
  const uint64_t rev = EngineFlag(id).revision();

  auto c = Do("token:ann", id, "acknowledge", {}, "looking");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->status(), FLAG_STATUS_ACKNOWLEDGED);
  EXPECT_EQ(c->revision(), 1u);
  EXPECT_EQ(EngineFlag(id).status(), FLAG_STATUS_ACKNOWLEDGED);  // at once
  EXPECT_EQ(EngineFlag(id).revision(), rev + 1);
  auto pushed = watch->Next(absl::Seconds(5));
  ASSERT_FALSE(pushed.empty());  // watchers (dashboard, alerts) hear of it
  EXPECT_EQ(pushed.back().status(), FLAG_STATUS_ACKNOWLEDGED);

  provenance::v1::Principal bo;
  bo.set_actor("token:bo");
  provenance::v1::UpdateCaseRequest assign;
  assign.set_flag_id(id);
  assign.set_action("assign");
  assign.set_assignee("bo");
  ASSERT_TRUE(cases_->Update(bo, assign).ok());
  EXPECT_EQ(EngineFlag(id).assignee(), "bo");

  // Resolving needs a disposition; a stale expected revision is refused.
  EXPECT_EQ(Do("token:bo", id, "resolve").status().code(), absl::StatusCode::kInvalidArgument);
  provenance::v1::UpdateCaseRequest stale;
  stale.set_flag_id(id);
  stale.set_action("escalate");
  stale.set_expected_revision(1);
  auto refused = cases_->Update(bo, stale);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("at revision 2, not 1"));

  clock_.Advance(absl::Minutes(3));
  c = Do("token:bo", id, "resolve", provenance::v1::DISPOSITION_FALSE_POSITIVE, "lab cluster");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->status(), FLAG_STATUS_RESOLVED);
  EXPECT_EQ(c->disposition(), provenance::v1::DISPOSITION_FALSE_POSITIVE);
  ASSERT_EQ(c->actions_size(), 3);
  EXPECT_EQ(c->actions(0).actor(), "token:ann");
  EXPECT_EQ(c->actions(0).note(), "looking");
  EXPECT_EQ(c->actions(1).action(), "assign");
  EXPECT_EQ(c->actions(2).from_status(), FLAG_STATUS_ACKNOWLEDGED);
  EXPECT_EQ(c->actions(2).to_status(), FLAG_STATUS_RESOLVED);
  EXPECT_EQ(c->actions(2).time().seconds(), absl::ToUnixSeconds(kT0 + absl::Minutes(3)));
  EXPECT_EQ(EngineFlag(id).disposition(), provenance::v1::DISPOSITION_FALSE_POSITIVE);
  EXPECT_EQ(Do("token:ann", id, "acknowledge").status().code(),
            absl::StatusCode::kFailedPrecondition);

  // Every action is in the audit log with its actor.
  auto reader = AuditLogReader::Open(dir_.path() + "/provd.db");
  auto entries = (*reader)->List(0, 100, "case.");
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 3u);
  EXPECT_EQ((*entries)[2].action, "case.resolve");
  EXPECT_THAT((*entries)[2].payload, HasSubstr("\"disposition\":\"false_positive\""));
  EXPECT_TRUE((*reader)->Verify(std::nullopt)->intact());

  // Listing by status and assignee comes from the flags.
  provenance::v1::ListCasesRequest list;
  list.set_status(FLAG_STATUS_RESOLVED);
  list.set_assignee("bo");
  EXPECT_EQ(cases_->List(list).size(), 1u);
  list.set_assignee("ann");
  EXPECT_TRUE(cases_->List(list).empty());
}

TEST_F(CaseManagerTest, RestartKeepsTheCaseAndReconcilesAMissedFlagSave) {
  Start();
  const std::string id = RaiseFlag();
  ASSERT_TRUE(Do("token:ann", id, "escalate").ok());
  engine_->Flush();
  Stop();
  Start();
  EXPECT_EQ(EngineFlag(id).status(), FLAG_STATUS_ESCALATED);  // the engine saved it
  auto c = cases_->Get(id);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->revision(), 1u);

  // A crash between the case commit and the engine's flag save: simulate by putting the flag's
  // old status back in the flags table, then restarting.
  Stop();
  {
    auto db = SqliteDb::Open(dir_.path() + "/provd.db", SqliteDb::kReadWrite);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)
                    ->Exec("UPDATE cases SET status = 4, disposition = 1, "
                           "updated_us = updated_us + 1000000")
                    .ok());
  }
  Start();
  EXPECT_EQ(EngineFlag(id).status(), FLAG_STATUS_ESCALATED);  // before reconciling
  ASSERT_TRUE(cases_->ReconcileEngine().ok());
  EXPECT_EQ(EngineFlag(id).status(), FLAG_STATUS_RESOLVED);
  EXPECT_EQ(EngineFlag(id).disposition(), provenance::v1::DISPOSITION_CONFIRMED);
}

TEST_F(CaseManagerTest, BadRequestsNameTheField) {
  Start();
  const std::string id = RaiseFlag();
  EXPECT_EQ(Do("x", "F-999999", "acknowledge").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Do("x", id, "note").status().code(), absl::StatusCode::kInvalidArgument);
  auto dup = Do("x", id, "resolve", provenance::v1::DISPOSITION_DUPLICATE);
  EXPECT_THAT(std::string(dup.status().message()), HasSubstr("duplicate_of"));
  EXPECT_EQ(Do("x", id, "note", {}, std::string(9000, 'n')).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(cases_->Get(id)->revision(), 0u);  // nothing was recorded
}

// Issue 9: a weak screening match is a screening_review flag; clearing it needs the reason, and the
// clearance survives KYC and list re-imports and a restart (real SQLite file) until the entry
// itself changes.
IdentitySnapshot WeakMatchSnapshot(int64_t kyc_version, const std::string& list_version,
                                   const std::string& entry_hash) {
  IdentitySnapshot snap;
  snap.kyc_version = kyc_version;
  snap.screening_list_version = list_version;
  auto accounts = std::make_shared<std::vector<provenance::v1::AccountIdentity>>();
  auto& a = accounts->emplace_back();
  a.set_account_id("acme");
  a.set_legal_entity("Acme Labs");
  a.add_beneficial_owners()->set_name("John Smith");
  snap.accounts = accounts;
  provenance::v1::ScreeningMatch m;
  m.set_account_id("acme");
  m.set_subject_kind("beneficial_owner");
  m.set_subject_name("John Smith");
  m.set_entry_id("T4");
  m.set_entry_name("SMITH, John");
  m.set_score(1.0);
  m.set_strength("weak");
  m.set_entry_content_hash(entry_hash);
  m.set_list_version(list_version);
  snap.screening.push_back(m);
  return snap;
}

TEST_F(CaseManagerTest, ScreeningReviewClearanceNeedsAReasonAndSurvivesReimports) {
  Start();
  auto review = [&](const std::string& rule) {
    engine_->Flush();
    return engine_->Read([&](const Analyzer& a) {
      provenance::v1::ListFlagsRequest r;
      r.set_rule(rule);
      return a.ListFlags(r);
    });
  };
  engine_->OnIdentityChanged(WeakMatchSnapshot(1, "csl-sha256:aaa", "h1"));
  auto flags = review("screening_review:");
  ASSERT_EQ(flags.size(), 1u);
  const std::string id = flags[0].flag_id();
  auto refused = Do("ann", id, "resolve", provenance::v1::DISPOSITION_FALSE_POSITIVE);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("note"));
  auto cleared = Do("ann", id, "resolve", provenance::v1::DISPOSITION_FALSE_POSITIVE,
                    "not the listed John Smith: date of birth 1971 vs 1960");
  ASSERT_TRUE(cleared.ok()) << cleared.status();

  // KYC and list re-imports with the entry unchanged, across a restart.
  engine_->OnIdentityChanged(WeakMatchSnapshot(2, "csl-sha256:bbb", "h1"));
  EXPECT_EQ(review("screening_review:")[0].status(), FLAG_STATUS_RESOLVED);
  Stop();
  Start();
  engine_->OnIdentityChanged(WeakMatchSnapshot(3, "csl-sha256:ccc", "h1"));
  flags = review("screening_review:");
  ASSERT_EQ(flags.size(), 1u);
  EXPECT_EQ(flags[0].status(), FLAG_STATUS_RESOLVED);
  auto c = cases_->Get(id);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->actions(c->actions_size() - 1).note(),
            "not the listed John Smith: date of birth 1971 vs 1960");

  // The list entry changes: a new open review.
  engine_->OnIdentityChanged(WeakMatchSnapshot(4, "csl-sha256:ddd", "h2"));
  flags = review("screening_review:T4@h2");
  ASSERT_EQ(flags.size(), 1u);
  EXPECT_EQ(flags[0].status(), FLAG_STATUS_OPEN);
}

}  // namespace
}  // namespace prov::server
