// AnalysisEngine roles (server/analysis/analysis_engine.h) on both engines' stores: a follower
// loads what the leader saved, never saves, drops observations and pushes new or changed flags
// on Reload; Lead reloads and saves, Follow stops at once. PostgreSQL only: a leader whose term
// was superseded stops saving (fencing), and the leader's IngestFeed over the real batch log
// analyses every committed batch once, saving its position with the facts, so that a successor
// in a higher term reads only the rest: none twice, none missed.
#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/testing/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/analysis/analysis_engine.h"
#include "server/analysis/ingest_feed.h"
#include "server/analysis/observation_record.h"
#include "server/store/pg/pg_analysis_facts.h"
#include "server/store/pg/pg_conn.h"
#include "server/store/pg/pg_ingest_batches.h"
#include "server/store/pg/pg_inventory.h"
#include "server/store/pg/pg_schema.h"
#include "tests/analysis/analysis_test_util.h"
#include "tests/store/store_fixture.h"

namespace prov::server {
namespace {

using namespace testing;  // NOLINT: analysis test builders
using ::testing::IsEmpty;
using ::testing::SizeIs;

std::vector<std::string> Serialized(const std::vector<provenance::v1::Flag>& flags) {
  std::vector<std::string> out;
  for (const auto& f : flags) out.push_back(f.SerializeAsString());
  return out;
}

std::vector<provenance::v1::Flag> AllFlags(const AnalysisEngine& e) {
  return e.Read([](const Analyzer& a) { return a.ListFlags({}); });
}

bool HasNode(const AnalysisEngine& e, const std::string& node) {
  return e.Read([&](const Analyzer& a) { return a.node(node) != nullptr; });
}

// Polls `done` (another thread's progress) every 10 ms for up to 30 s.
bool WaitUntil(const std::function<bool()>& done) {
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline) {
    if (done()) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return done();
}

class AnalysisRolesTest : public prov::testing::StoreTest {
 protected:
  absl::StatusOr<std::unique_ptr<AnalysisStore>> OpenStore() {
    if (engine() == prov::testing::Engine::kSqlite) return AnalysisStore::Open(sqlite_path());
    PROV_ASSIGN_OR_RETURN(auto facts, PgAnalysisFactsRepository::Open(pg_conninfo()));
    PROV_ASSIGN_OR_RETURN(auto inventory, PgInventoryRepository::Open(pg_conninfo()));
    return AnalysisStore::Create(std::move(facts), std::move(inventory));
  }
  std::unique_ptr<AnalysisEngine> StartEngine(bool lead) {
    AnalysisEngine::Options o;
    o.clock = &clock_;
    o.policy = TestPolicy();
    o.open_store = [this] { return OpenStore(); };
    o.lead_at_start = lead;
    o.on_saved = [this] { ++saved_; };
    auto e = AnalysisEngine::Start(std::move(o));
    EXPECT_TRUE(e.ok()) << e.status();
    return e.ok() ? *std::move(e) : nullptr;
  }
  // The leader's term in provd.leader (PostgreSQL; SQLite has no term to check). Call after an
  // engine has opened the store (the schema is migrated then).
  void SetTerm(int64_t term) {
    if (engine() != prov::testing::Engine::kPostgres) return;
    ASSERT_TRUE(
        RawExec(absl::StrCat("INSERT INTO leader(id, term, holder, since_us) VALUES (1, ", term,
                             ", 'test', 0) ON CONFLICT (id) DO UPDATE SET term = "
                             "EXCLUDED.term"))
            .ok());
  }
  // Whether the store holds `node`'s facts (a fresh follower's view).
  bool Stored(const std::string& node) {
    auto probe = StartEngine(/*lead=*/false);
    return probe != nullptr && HasNode(*probe, node);
  }
  std::vector<ReportObservation> ThreeRounds() {
    std::vector<ReportObservation> batch;
    for (int k = 0; k < 3; ++k) {
      for (auto& r : PeerRound(k)) batch.push_back(std::move(r));
    }
    return batch;
  }

  FakeClock clock_{kT0 + absl::Minutes(15)};
  std::atomic<int> saved_{0};
};

TEST_P(AnalysisRolesTest, AFollowerLoadsWhatTheLeaderSavedNeverSavesAndPushesChanges) {
  auto leader = StartEngine(/*lead=*/true);
  auto follower = StartEngine(/*lead=*/false);
  ASSERT_TRUE(leader && follower);
  EXPECT_TRUE(leader->leading());
  EXPECT_FALSE(follower->leading());
  auto watch = follower->Watch(provenance::v1::SEVERITY_LOW);
  leader->Submit(ThreeRounds());
  leader->Flush();
  ASSERT_THAT(AllFlags(*leader), SizeIs(1));
  EXPECT_GT(saved_.load(), 0) << "on_saved: the leader saved a flag, a bundle and links";
  const std::string flag_id = AllFlags(*leader)[0].flag_id();
  EXPECT_THAT(AllFlags(*follower), IsEmpty()) << "loaded before the leader saved";

  follower->Reload();
  follower->Flush();
  EXPECT_EQ(Serialized(AllFlags(*follower)), Serialized(AllFlags(*leader)));
  auto pushed = watch->Next(absl::Seconds(5));
  ASSERT_THAT(pushed, SizeIs(1));
  EXPECT_EQ(pushed[0].flag_id(), flag_id);
  EXPECT_EQ(follower->counters().reloads, 1u);

  // Nothing changed: a reload pushes nothing.
  follower->Reload();
  follower->Flush();
  EXPECT_THAT(watch->Next(absl::Milliseconds(200)), IsEmpty());

  // A changed flag (a case resolved on the leader) is pushed again, as saved.
  ASSERT_TRUE(leader
                  ->SetFlagCase(flag_id, provenance::v1::FLAG_STATUS_RESOLVED,
                                provenance::v1::DISPOSITION_UNSPECIFIED, "alice", clock_.Now())
                  .ok());
  leader->Flush();
  follower->Reload();
  follower->Flush();
  pushed = watch->Next(absl::Seconds(5));
  ASSERT_THAT(pushed, SizeIs(1));
  EXPECT_EQ(pushed[0].status(), provenance::v1::FLAG_STATUS_RESOLVED);

  // Observations and node events given to a follower are dropped, counted, never saved.
  const int saves_before = saved_.load();
  follower->Submit({Node("n-follower", "dc-east", "us-east", kT0)});
  NodeEvent event;
  event.node_id = "n-follower";
  follower->OnNodeEvents({event});
  follower->Tick();
  follower->Flush();
  EXPECT_EQ(follower->counters().dropped_not_leader, 2u);
  EXPECT_EQ(follower->counters().reports, 0u);
  EXPECT_FALSE(HasNode(*follower, "n-follower"));
  EXPECT_FALSE(Stored("n-follower"));
  EXPECT_EQ(saved_.load(), saves_before);
  // A leader ignores Reload.
  leader->Reload();
  leader->Flush();
  EXPECT_EQ(leader->counters().reloads, 0u);
}

TEST_P(AnalysisRolesTest, APolicyGivenToAFollowerIsKeptAcrossReloads) {
  auto follower = StartEngine(/*lead=*/false);
  ASSERT_NE(follower, nullptr);
  auto strict = std::make_shared<policy::Policy>(*TestPolicy());
  strict->version = "test-2";
  ASSERT_TRUE(follower->OnPolicyLoaded(strict).ok());
  follower->Reload();
  follower->Flush();
  EXPECT_EQ(follower->counters().reloads, 1u);
  EXPECT_EQ(follower->Read([](const Analyzer& a) { return a.policy().version; }), "test-2");
}

TEST_P(AnalysisRolesTest, LeadReloadsAndSavesThenFollowStopsAtOnce) {
  {
    auto previous = StartEngine(/*lead=*/true);
    ASSERT_NE(previous, nullptr);
    previous->Submit(ThreeRounds());
    previous->Shutdown();
  }
  auto engine = StartEngine(/*lead=*/false);
  ASSERT_NE(engine, nullptr);
  auto never_led = engine->WaitLeadPosition(absl::Seconds(1));
  EXPECT_TRUE(absl::IsCancelled(never_led.status())) << never_led.status();
  SetTerm(1);
  engine->Lead(1);
  auto position = engine->WaitLeadPosition(absl::Seconds(30));
  ASSERT_TRUE(position.ok()) << position.status();
  EXPECT_EQ(*position, std::nullopt) << "no ingest position was ever saved";
  EXPECT_TRUE(engine->leading());
  EXPECT_THAT(AllFlags(*engine), SizeIs(1)) << "the previous leader's flag, reloaded";
  engine->Submit({Node("n-led", "dc-east", "us-east", kT0)});
  engine->Flush();
  EXPECT_EQ(engine->counters().reports, 1u);
  EXPECT_TRUE(Stored("n-led"));

  engine->Follow();
  EXPECT_FALSE(engine->leading());
  auto after_follow = engine->WaitLeadPosition(absl::Seconds(1));
  EXPECT_TRUE(absl::IsCancelled(after_follow.status())) << after_follow.status();
  engine->Submit({Node("n-followed", "dc-east", "us-east", kT0)});
  engine->Flush();
  EXPECT_EQ(engine->counters().dropped_not_leader, 1u);
  EXPECT_FALSE(Stored("n-followed"));
  EXPECT_TRUE(HasNode(*engine, "n-led")) << "reloaded from the store on Follow";
}

PROV_STORE_TEST_P(AnalysisRolesTest);

class PgAnalysisRolesTest : public AnalysisRolesTest {
 protected:
  std::unique_ptr<PgConn> Connect() {
    auto conn = PgConn::Connect(pg_conninfo(), {.search_path = kPgSchema});
    EXPECT_TRUE(conn.ok()) << conn.status();
    return conn.ok() ? *std::move(conn) : nullptr;
  }
  // Batches [first, last) of one node each, `n-<i>`, each in a transaction of its own.
  void AppendBatches(PgConn& conn, int first, int last) {
    for (int i = first; i < last; ++i) {
      const std::string record = EncodeObservationBatch(
          {Node(absl::StrCat("n-", i), "dc-east", "us-east", kT0 + absl::Seconds(i))});
      ASSERT_TRUE(conn.Transaction([&] {
                        return AppendIngestBatch(conn, absl::ToUnixMicros(clock_.Now()), 1, record);
                      })
                      .ok());
    }
  }
  std::unique_ptr<IngestFeed> Feed(AnalysisEngine& engine) {
    auto reader = PgIngestBatchReader::Open(pg_conninfo());
    EXPECT_TRUE(reader.ok()) << reader.status();
    if (!reader.ok()) return nullptr;
    return std::make_unique<IngestFeed>(
        engine, *std::move(reader),
        IngestFeedOptions{.poll = absl::Milliseconds(20), .limit = 7, .clock = &clock_});
  }
};

TEST_P(PgAnalysisRolesTest, ALeaderWhoseTermWasSupersededStopsSaving) {
  auto engine = StartEngine(/*lead=*/false);
  ASSERT_NE(engine, nullptr);
  SetTerm(1);
  engine->Lead(1);
  ASSERT_TRUE(engine->WaitLeadPosition(absl::Seconds(30)).ok());
  engine->Submit({Node("n-1", "dc-east", "us-east", kT0)});
  engine->Flush();
  ASSERT_TRUE(Stored("n-1"));

  SetTerm(2);  // another replica was elected
  engine->Submit({Node("n-2", "dc-east", "us-east", kT0)});
  engine->Flush();
  EXPECT_EQ(engine->counters().deposed, 1u);
  EXPECT_FALSE(engine->leading());
  EXPECT_FALSE(Stored("n-2"));
  engine->Submit({Node("n-3", "dc-east", "us-east", kT0)});
  engine->Flush();
  EXPECT_EQ(engine->counters().deposed, 1u) << "no further fenced saves tried";
  EXPECT_EQ(engine->counters().dropped_not_leader, 1u);

  // Elected again, in a newer term: it saves again.
  engine->Follow();
  SetTerm(3);
  engine->Lead(3);
  ASSERT_TRUE(engine->WaitLeadPosition(absl::Seconds(30)).ok());
  EXPECT_FALSE(HasNode(*engine, "n-2")) << "what the deposed term did not save is gone";
  engine->Submit({Node("n-4", "dc-east", "us-east", kT0)});
  engine->Flush();
  EXPECT_TRUE(Stored("n-4"));
}

TEST_P(PgAnalysisRolesTest, ASuccessorReadsOnlyWhatThePreviousLeaderDidNotSave) {
  auto writer = Connect();
  auto a = StartEngine(/*lead=*/false);
  ASSERT_TRUE(writer && a);
  SetTerm(1);
  a->Lead(1);
  auto feed_a = Feed(*a);
  ASSERT_NE(feed_a, nullptr);
  feed_a->Start();
  AppendBatches(*writer, 0, 25);
  feed_a->Wake();
  ASSERT_TRUE(WaitUntil([&] { return a->counters().reports >= 25; }));
  a->Flush();
  feed_a->Stop();
  EXPECT_EQ(a->counters().reports, 25u);
  EXPECT_EQ(feed_a->counters().batches, 25u);
  EXPECT_EQ(feed_a->counters().decode_errors, 0u);
  // The saved position covers all 25: a read from it finds nothing.
  auto saved = PgLoadIngestPosition(*writer);
  ASSERT_TRUE(saved.ok()) << saved.status();
  auto reader = PgIngestBatchReader::Open(pg_conninfo());
  ASSERT_TRUE(reader.ok()) << reader.status();
  auto rest = (*reader)->Read(*saved, 100);
  ASSERT_TRUE(rest.ok()) << rest.status();
  EXPECT_THAT(rest->batches, IsEmpty());

  // More batches commit; A is deposed, B elected in term 2 reads on from A's saved position.
  AppendBatches(*writer, 25, 40);
  SetTerm(2);
  a->Follow();
  auto b = StartEngine(/*lead=*/false);
  ASSERT_NE(b, nullptr);
  b->Lead(2);
  auto feed_b = Feed(*b);
  ASSERT_NE(feed_b, nullptr);
  feed_b->Start();
  ASSERT_TRUE(WaitUntil([&] { return b->counters().reports >= 15; }));
  AppendBatches(*writer, 40, 45);  // and while it leads
  feed_b->Wake();
  ASSERT_TRUE(WaitUntil([&] { return b->counters().reports >= 20; }));
  b->Flush();
  feed_b->Stop();
  EXPECT_EQ(b->counters().reports, 20u) << "none read twice";
  EXPECT_EQ(feed_b->counters().reports, 20u);
  for (int i = 0; i < 45; ++i) {
    EXPECT_TRUE(HasNode(*b, absl::StrCat("n-", i))) << "missed n-" << i;
  }
  EXPECT_EQ(a->counters().reports, 25u);
  auto final_position = PgLoadIngestPosition(*writer);
  ASSERT_TRUE(final_position.ok()) << final_position.status();
  auto none_left = (*reader)->Read(*final_position, 100);
  ASSERT_TRUE(none_left.ok()) << none_left.status();
  EXPECT_THAT(none_left->batches, IsEmpty());
}

// The leader's feed keeps reading while its term is superseded mid-stream: what it applied but
// could not save is read again by the successor, what it saved is not. Every batch ends up
// analysed by the successor exactly once after the deposed leader's last saved position.
TEST_P(PgAnalysisRolesTest, ALeaderDeposedMidStreamLeavesTheRestToItsSuccessorExactly) {
  auto writer = Connect();
  auto a = StartEngine(/*lead=*/false);
  ASSERT_TRUE(writer && a);
  SetTerm(1);
  a->Lead(1);
  auto feed_a = Feed(*a);
  ASSERT_NE(feed_a, nullptr);
  feed_a->Start();
  AppendBatches(*writer, 0, 20);
  ASSERT_TRUE(WaitUntil([&] { return a->counters().reports >= 5; }));
  SetTerm(2);  // deposed while its feed runs
  AppendBatches(*writer, 20, 30);
  ASSERT_TRUE(WaitUntil([&] { return a->counters().deposed >= 1; }));
  feed_a->Stop();
  a->Follow();
  auto saved_by_a = PgLoadIngestPosition(*writer);
  ASSERT_TRUE(saved_by_a.ok()) << saved_by_a.status();
  auto reader = PgIngestBatchReader::Open(pg_conninfo());
  ASSERT_TRUE(reader.ok()) << reader.status();
  auto unsaved = (*reader)->Read(*saved_by_a, 1000);
  ASSERT_TRUE(unsaved.ok()) << unsaved.status();
  const size_t left = unsaved->batches.size();
  EXPECT_GT(left, 0u);

  auto b = StartEngine(/*lead=*/false);
  ASSERT_NE(b, nullptr);
  b->Lead(2);
  auto feed_b = Feed(*b);
  ASSERT_NE(feed_b, nullptr);
  feed_b->Start();
  ASSERT_TRUE(WaitUntil([&] { return b->counters().reports >= left; }));
  b->Flush();
  feed_b->Stop();
  EXPECT_EQ(b->counters().reports, left);
  for (int i = 0; i < 30; ++i) {
    EXPECT_TRUE(HasNode(*b, absl::StrCat("n-", i))) << "missed n-" << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Engines, PgAnalysisRolesTest,
                         ::testing::Values(::prov::testing::Engine::kPostgres),
                         [](const auto& info) { return ::prov::testing::EngineName(info.param); });

}  // namespace
}  // namespace prov::server
