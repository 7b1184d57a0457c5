#include "server/analysis/analysis_engine.h"

#include "common/testing/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/store/inventory_store.h"
#include "server/store/schema.h"
#include "server/store/sqlite.h"
#include "server/store/transaction.h"
#include "tests/analysis/analysis_test_util.h"
#include "tests/analysis/hardware_test_util.h"
#include "tests/server/temp_dir.h"

namespace prov::server {
namespace {

using ::testing::ElementsAre;
using ::testing::SizeIs;
using namespace testing;  // NOLINT: test builders

class AnalysisEngineTest : public ::testing::Test {
 protected:
  std::unique_ptr<AnalysisEngine> StartEngine(absl::Duration tick = absl::Seconds(5)) {
    AnalysisEngine::Options o;
    o.db_path = dir_.path() + "/provd.db";
    o.clock = &clock_;
    o.policy = TestPolicy();
    o.tick = tick;
    auto engine = AnalysisEngine::Start(std::move(o));
    EXPECT_TRUE(engine.ok()) << engine.status();
    return engine.ok() ? *std::move(engine) : nullptr;
  }
  // One inventory import at `at` into the engine's database, as provctl inventory import does.
  void ImportInventory(const std::vector<provenance::v1::InventoryEntry>& rows, absl::Time at) {
    auto db = SqliteDb::Open(dir_.path() + "/provd.db", SqliteDb::kReadWrite);
    ASSERT_TRUE(db.ok()) << db.status();
    ASSERT_TRUE(MigrateSchema(**db).ok());
    auto txn = Transaction::Begin(**db, Transaction::kWrite);
    ASSERT_TRUE(txn.ok()) << txn.status();
    std::vector<provenance::v1::DeclaredAccelerator> declared;
    for (const auto& r : rows) declared.push_back(r.declared());
    auto imported = ImportInventoryRows(**db, declared, "inv.csv", "test", "digest", 0, at);
    ASSERT_TRUE(imported.ok()) << imported.status();
    ASSERT_TRUE(txn->Commit().ok());
  }
  std::vector<provenance::v1::Flag> Flags(const AnalysisEngine& e) {
    return e.Read([](const Analyzer& a) { return a.ListFlags({}); });
  }

  TempDir dir_;
  FakeClock clock_{kT0};
};

TEST_F(AnalysisEngineTest, FlagsLinksAndBundlesSurviveARestartWithoutDuplicates) {
  std::string flag_id, bundle_id;
  {
    auto engine = StartEngine();
    ASSERT_NE(engine, nullptr);
    auto watch = engine->Watch(provenance::v1::SEVERITY_LOW);
    // One batch: the engine saves a workload's facts when its evidence changes, not for every
    // report's FLOP (provd reconciles those with the ingest ledger at start-up, which this
    // engine-only test has not got), so separate batches would leave FLOP unsaved here.
    std::vector<ReportObservation> batch;
    for (int k = 0; k < 3; ++k) {
      for (auto& r : PeerRound(k)) batch.push_back(std::move(r));
    }
    engine->Submit(std::move(batch));
    engine->Flush();
    auto flags = Flags(*engine);
    ASSERT_THAT(flags, SizeIs(1));
    flag_id = flags[0].flag_id();
    bundle_id = flags[0].bundle_id();
    auto pushed = watch->Next(absl::Seconds(5));
    // Pushed live to watchers: once when raised, again for each update if the rounds were
    // analysed in separate batches; always the same flag.
    ASSERT_FALSE(pushed.empty());
    for (const auto& f : pushed) EXPECT_EQ(f.flag_id(), flag_id);
    engine->Shutdown();
    EXPECT_TRUE(watch->closed());
  }
  auto engine = StartEngine();
  ASSERT_NE(engine, nullptr);
  auto flags = Flags(*engine);
  ASSERT_THAT(flags, SizeIs(1));
  EXPECT_EQ(flags[0].flag_id(), flag_id);
  EXPECT_THAT(flags[0].accounts(), ElementsAre("shell-a", "shell-b"));
  EXPECT_EQ(engine->Read([](const Analyzer& a) { return a.BundleOf("shell-b"); }), bundle_id);
  EXPECT_GE(engine->Read([&](const Analyzer& a) { return a.BundleLinks(bundle_id, 10).size(); }),
            1u);
  // More evidence updates the same flag: no second flag, same bundle.
  for (int k = 3; k < 40; ++k) engine->Submit(PeerRound(k));
  engine->Flush();
  flags = Flags(*engine);
  ASSERT_THAT(flags, SizeIs(1));  // 2.4e19 FLOP: still below tier-1e20
  EXPECT_EQ(flags[0].flag_id(), flag_id);
  EXPECT_GT(flags[0].revision(), 1u);  // updated as the compute grew
  // The bundle has every FLOP; the flag is updated when compute moves a tenth of a decade, so
  // (depending on how the rounds were batched) it may trail by less than that.
  EXPECT_DOUBLE_EQ(
      engine->Read([&](const Analyzer& a) { return *a.bundle(bundle_id); }).training_flop().low(),
      80 * 3e17);
  EXPECT_LE(flags[0].training_flop().low(), 80 * 3e17);
  EXPECT_GT(flags[0].training_flop().low(), 80 * 3e17 / 1.2589);  // 10^0.1
  EXPECT_EQ(engine->counters().reports, 74u);
  EXPECT_EQ(engine->counters().save_failures, 0u);
}

TEST_F(AnalysisEngineTest, IdentitySnapshotRaisesScreeningFlagsOnTheEngineThread) {
  auto engine = StartEngine();
  ASSERT_NE(engine, nullptr);
  IdentitySnapshot snap;
  snap.kyc_version = 2;
  auto accounts = std::make_shared<std::vector<provenance::v1::AccountIdentity>>();
  accounts->emplace_back().set_account_id("acct-x");
  snap.accounts = accounts;
  provenance::v1::ScreeningMatch m;
  m.set_account_id("acct-x");
  m.set_score(0.95);
  m.set_entry_name("LISTED ENTITY");
  snap.screening.push_back(m);
  engine->OnIdentityChanged(snap);
  engine->Flush();
  auto flags = Flags(*engine);
  ASSERT_THAT(flags, SizeIs(1));
  EXPECT_EQ(flags[0].rule(), "screening_hit");
  EXPECT_EQ(flags[0].kyc_version(), 2);
  EXPECT_EQ(flags[0].first_time().seconds(), absl::ToUnixSeconds(kT0));
  // A stricter policy: the 0.95 match no longer counts, the flag stays for the record.
  auto strict = std::make_shared<policy::Policy>(*TestPolicy());
  strict->screening.min_score = 0.99;
  strict->version = "test-2";
  ASSERT_TRUE(engine->OnPolicyLoaded(strict).ok());
  engine->Flush();
  EXPECT_EQ(engine->Read([](const Analyzer& a) { return a.policy().version; }), "test-2");
  // The hit's flag stays for the record; the match, now below the strong bar, is a review item
  // for a person to clear (screening_review), not a restricted party.
  auto after = Flags(*engine);
  ASSERT_THAT(after, SizeIs(2));
  EXPECT_EQ(after[0].rule(), "screening_hit");
  EXPECT_EQ(after[1].rule().rfind("screening_review", 0), 0u) << after[1].rule();
}

// Issue 10 §3 through the engine: an import reaches the rules (OnInventoryChanged reloads it from
// the store), and silence is judged by the engine's own tick on its clock while nothing arrives.
TEST_F(AnalysisEngineTest, AnImportReachesTheRulesAndTheTickJudgesSilence) {
  ImportInventory({testing::Row("SN1", "n1")}, kT0);
  auto engine = StartEngine(/*tick=*/absl::Milliseconds(10));
  ASSERT_NE(engine, nullptr);
  engine->OnInventoryChanged();
  std::vector<ReportObservation> batch;
  batch.push_back(testing::HwReport("n1", kT0, {testing::Card{.serial = "SN1"}}));
  engine->Submit(std::move(batch));
  engine->Flush();
  EXPECT_TRUE(Flags(*engine).empty());
  clock_.Advance(absl::Minutes(6));  // nothing arrives; the tick evaluates on the clock's now
  std::vector<provenance::v1::Flag> flags;
  for (int i = 0; i < 500 && flags.empty(); ++i) {
    absl::SleepFor(absl::Milliseconds(10));
    flags = Flags(*engine);
  }
  ASSERT_THAT(flags, SizeIs(1));
  EXPECT_EQ(flags[0].rule(), "hardware_silent");
  EXPECT_EQ(flags[0].subject(), "node:n1");
}

// A planned move's grace survives a restart: the engine rebuilds it from the inventory history.
TEST_F(AnalysisEngineTest, APlannedMovesGraceSurvivesARestart) {
  // Version 1 declares SN1 on n1, version 2 moves it to n2.
  ImportInventory({testing::Row("SN1", "n1")}, kT0 - absl::Hours(1));
  ImportInventory({testing::Row("SN1", "n2")}, kT0 - absl::Hours(1));
  auto engine = StartEngine();  // as after a restart: the inventory comes from the store
  ASSERT_NE(engine, nullptr);
  std::vector<ReportObservation> batch;
  batch.push_back(testing::HwReport("n1", kT0, {testing::Card{.serial = "SN1"}}));
  engine->Submit(std::move(batch));
  engine->Flush();
  for (const auto& f : Flags(*engine)) EXPECT_NE(f.rule(), "hardware_moved") << f.summary();
}

}  // namespace
}  // namespace prov::server
