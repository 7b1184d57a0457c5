// LocationHub over each engine's LocationRepository, as two replicas sharing one database: real
// Ed25519-signed calibration records (lm-fra measuring lm-par) submitted to both hubs are stored
// once, the second hub answers the copy as a replay (the store's check: its book had not seen
// the record), and a restarted hub reloads the landmark states and the records. On PostgreSQL
// the leader's verdict events are logged with its verdicts.
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/location/probe_sig.h"
#include "common/node_key.h"
#include "common/status_macros.h"
#include "common/testing/fake_clock.h"
#include "gtest/gtest.h"
#include "server/analysis/observation_record.h"
#include "server/location/location_config.h"
#include "server/location/location_hub.h"
#include "server/store/pg/pg_ingest_batches.h"
#include "server/store/pg/pg_location.h"
#include "server/store/sqlite/sqlite_location.h"
#include "tests/server/location_fixture.h"
#include "tests/store/store_fixture.h"

namespace prov::server::location {
namespace {

using provenance::v1::LOCATION_VERDICT_CONTRADICTED;
using provenance::v1::LOCATION_VERDICT_UNVERIFIED;
using provenance::v1::LOCATION_VERDICT_VERIFIED;
using testing::NodeMeasurement;
using testing::PairMeasurement;
using testing::SignRecord;

class LocationHubEnginesTest : public prov::testing::StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    auto c = ParseLocationConfig(keys_.Yaml(2), "test.yaml");
    ASSERT_TRUE(c.ok()) << c.status();
    config_ = *std::move(c);
  }
  // `term`: a replica's hub, the term it leads in (0: stands by; null: the only hub); `events`:
  // where it sends its events.
  // `log_verdict_events`: the verdict events go into the batch log (PostgreSQL), as provd sets.
  std::unique_ptr<LocationHub> Hub(const std::atomic<int64_t>* term = nullptr,
                                   std::vector<NodeEvent>* events = nullptr,
                                   bool log_verdict_events = false) {
    absl::StatusOr<std::unique_ptr<LocationRepository>> repo;
    if (engine() == prov::testing::Engine::kSqlite) {
      repo = SqliteLocationRepository::Open(sqlite_path());
    } else {
      repo = PgLocationRepository::Open(pg_conninfo());
    }
    EXPECT_TRUE(repo.ok()) << repo.status();
    if (!repo.ok()) return nullptr;
    LocationHub::Options o;
    o.repository = *std::move(repo);
    o.config = &config_;
    o.clock = &clock_;
    o.policy = [this] { return LocationPolicyView{policy_, "p-test"}; };
    o.tick = absl::ZeroDuration();
    if (term != nullptr) o.leader_term = [term] { return term->load(); };
    if (events != nullptr) {
      o.events = [events](std::vector<NodeEvent> e) {
        for (auto& x : e) events->push_back(std::move(x));
      };
    }
    if (log_verdict_events) o.encode_verdict_events = EncodeNodeEvents;
    auto hub = LocationHub::Start(std::move(o));
    EXPECT_TRUE(hub.ok()) << hub.status();
    return hub.ok() ? *std::move(hub) : nullptr;
  }
  // What an election stores (PostgreSQL: the leader row a verdict save is fenced by; SQLite has
  // one provd and no such row).
  void Elect(int64_t term) {
    if (engine() != prov::testing::Engine::kPostgres) return;
    ASSERT_TRUE(RawExec(absl::StrCat("INSERT INTO leader(id, term, holder, since_us) VALUES (1, ",
                                     term, ", 'provd-", term,
                                     "', 0) ON CONFLICT (id) DO UPDATE SET term = EXCLUDED.term, "
                                     "holder = EXCLUDED.holder"))
                    .ok());
  }
  // Two nodes with a location responder (n1 declared in fra1, n2 in sin1) and their answer keys,
  // whose streams `seen_by` bound.
  struct TwoNodes {
    std::unique_ptr<prov::location::NodeAnswerSigner> n1, n2;
  };
  absl::StatusOr<TwoNodes> AddTwoNodes(LocationHub& seen_by) {
    PROV_RETURN_IF_ERROR(
        RawExec("INSERT INTO nodes(node_id, datacenter, region, first_seen_us, last_seen_us, "
                "last_received_us) VALUES ('n1', 'fra1', 'eu-central', 1, 1, 1), "
                "('n2', 'sin1', 'ap-southeast', 1, 1, 1);"
                "INSERT INTO location_responders(node, address, updated_us) "
                "SELECT id, '10.0.0.1:7700', 5 FROM nodes WHERE node_id = 'n1';"
                "INSERT INTO location_responders(node, address, updated_us) "
                "SELECT id, '10.0.0.2:7700', 5 FROM nodes WHERE node_id = 'n2'"));
    TwoNodes out;
    for (auto [id, signer] : {std::pair{"n1", &out.n1}, std::pair{"n2", &out.n2}}) {
      PROV_ASSIGN_OR_RETURN(std::string pem, GenerateNodeKeyPem());
      PROV_ASSIGN_OR_RETURN(*signer, prov::location::NodeAnswerSigner::FromKeyPem(pem));
      seen_by.NodeKeySeen(id, (*signer)->public_key_der(), "stream");
    }
    return out;
  }
  provenance::v1::SubmitMeasurementsRequest Pairs(uint64_t first_seq, int n) {
    provenance::v1::SubmitMeasurementsRequest req;
    for (int i = 0; i < n; ++i) {
      *req.add_records() = SignRecord(
          keys_.fra, PairMeasurement("lm-fra", "lm-par", first_seq + static_cast<uint64_t>(i),
                                     clock_.Now(), 4.0, keys_.par));
    }
    return req;
  }
  static uint64_t Accepted(LocationHub& hub, const std::string& landmark) {
    const provenance::v1::ListLandmarksResponse all = hub.ListLandmarks();
    for (const auto& lm : all.landmarks()) {
      if (lm.landmark_id() == landmark) return lm.records_accepted();
    }
    return 0;
  }
  static uint64_t Refused(LocationHub& hub, const std::string& landmark) {
    const provenance::v1::ListLandmarksResponse all = hub.ListLandmarks();
    for (const auto& lm : all.landmarks()) {
      if (lm.landmark_id() == landmark) return lm.records_refused();
    }
    return 0;
  }

  FakeClock clock_{absl::FromUnixSeconds(1'800'000'000)};
  testing::LocationKeys keys_;
  LocationConfig config_;
  policy::LocationPolicy policy_;
};

TEST_P(LocationHubEnginesTest, TwoHubsOnOneDatabaseStoreEachRecordOnce) {
  auto a = Hub();
  auto b = Hub();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  auto first = a->Submit(Pairs(1, 3), "lm-fra");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->accepted(), 3u);
  // The same three and two new ones reach the other replica.
  auto second = b->Submit(Pairs(1, 5), "lm-fra");
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->accepted(), 2u);
  ASSERT_EQ(second->refused_size(), 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(second->refused(i).index(), static_cast<uint32_t>(i));
    EXPECT_TRUE(absl::StartsWith(second->refused(i).reason(), "replay: landmark_seq"))
        << second->refused(i).reason();
  }
  EXPECT_EQ(Accepted(*b, "lm-fra"), 5u);  // as stored: both hubs' records
  EXPECT_EQ(Refused(*b, "lm-fra"), 3u);
  // A restarted replica reloads the state: seq 5 is a replay, 6 is new.
  a.reset();
  a = Hub();
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(Accepted(*a, "lm-fra"), 5u);
  auto third = a->Submit(Pairs(5, 2), "lm-fra");
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_EQ(third->accepted(), 1u);
  ASSERT_EQ(third->refused_size(), 1);
  EXPECT_TRUE(absl::StartsWith(third->refused(0).reason(), "replay: landmark_seq 5 is not above"))
      << third->refused(0).reason();
  // The calibration pair is in both books (lm-fra's speed rests on it).
  EXPECT_EQ(a->ListLandmarks().pairs_size(), 1);
  EXPECT_EQ(b->ListLandmarks().pairs_size(), 1);
}

// Replicas (Options::leader_term): a node key a stream bound on the standby and the records a
// landmark sent the standby reach the leader's hub at its tick, and only the leader judges them
// (verdicts saved, events sent); the standby answers the queries from the stored verdicts. At a
// takeover the new leader judges on from those verdicts: an unchanged one raises no second event.
// On PostgreSQL a deposed leader that has not noticed yet saves and reports nothing.
TEST_P(LocationHubEnginesTest, OnReplicasOnlyTheLeaderJudgesAndAStandbyAnswersFromTheStore) {
  std::atomic<int64_t> a_term{1}, b_term{0};
  std::vector<NodeEvent> a_events, b_events;
  auto a = Hub(&a_term, &a_events);
  auto b = Hub(&b_term, &b_events);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  Elect(1);  // after the hubs' repositories migrated the schema
  auto added = AddTwoNodes(*b);
  ASSERT_TRUE(added.ok()) << added.status();
  const TwoNodes& nodes = *added;
  ASSERT_TRUE(b->Tick().ok());                              // writes the keys
  EXPECT_EQ(a->GetAssignment("lm-fra").targets_size(), 1);  // only lm-par: no node key yet
  ASSERT_TRUE(a->Tick().ok());
  const provenance::v1::Assignment assigned = a->GetAssignment("lm-fra");
  ASSERT_EQ(assigned.targets_size(), 3);
  EXPECT_EQ(assigned.targets(0).target_id(), "n1");
  EXPECT_EQ(assigned.targets(0).public_key(), nodes.n1->public_key_der());

  // A landmark's records reach the standby: stored, not judged there.
  provenance::v1::SubmitMeasurementsRequest req;
  *req.add_records() =
      SignRecord(keys_.fra, NodeMeasurement("lm-fra", "n1", 1, clock_.Now(), 0.5, nodes.n1.get()));
  *req.add_records() =
      SignRecord(keys_.fra, NodeMeasurement("lm-fra", "n2", 2, clock_.Now(), 1.0, nodes.n2.get()));
  auto stored = b->Submit(req, "lm-fra");
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->accepted(), 2u);
  EXPECT_TRUE(b_events.empty());
  // What the standby answers is still the leader's verdict from before the records (no record:
  // unverified).
  EXPECT_EQ(b->GetNodeLocation("n1")->verdict(), LOCATION_VERDICT_UNVERIFIED);

  // The leader's tick takes them in and judges: one event per verdict, from the leader only.
  ASSERT_TRUE(a->Tick().ok());
  ASSERT_EQ(a_events.size(), 2u);
  EXPECT_EQ(a_events[0].node_id, "n1");
  EXPECT_EQ(a_events[0].detail, "verified");
  EXPECT_EQ(a_events[1].node_id, "n2");
  EXPECT_EQ(a_events[1].detail, "contradicted");
  ASSERT_TRUE(b->Tick().ok());
  EXPECT_TRUE(b_events.empty());
  EXPECT_EQ(a->GetNodeLocation("n1")->verdict(), LOCATION_VERDICT_VERIFIED);
  // The standby answers from the stored verdicts, with the same filter and pages.
  auto n1_on_b = b->GetNodeLocation("n1");
  ASSERT_TRUE(n1_on_b.ok()) << n1_on_b.status();
  EXPECT_EQ(n1_on_b->verdict(), LOCATION_VERDICT_VERIFIED);
  EXPECT_EQ(b->GetNodeLocation("n3").status().code(), absl::StatusCode::kNotFound);
  auto all = b->ListNodeLocations({});
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->nodes_size(), 2);
  EXPECT_EQ(all->nodes(1).verdict(), LOCATION_VERDICT_CONTRADICTED);
  provenance::v1::ListNodeLocationsRequest contradicted;
  contradicted.set_verdict(LOCATION_VERDICT_CONTRADICTED);
  auto only = b->ListNodeLocations(contradicted);
  ASSERT_TRUE(only.ok()) << only.status();
  ASSERT_EQ(only->nodes_size(), 1);
  EXPECT_EQ(only->nodes(0).node_id(), "n2");
  provenance::v1::ListNodeLocationsRequest paged;
  paged.set_limit(1);
  auto page = b->ListNodeLocations(paged);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->nodes_size(), 1);
  EXPECT_EQ(page->next_after_node_id(), "n1");

  // Takeover: b leads and judges on from the stored verdicts (nothing changed: no event); a
  // stands by and answers from the store.
  a_term = 0;
  b_term = 2;
  Elect(2);
  ASSERT_TRUE(a->Tick().ok());
  ASSERT_TRUE(b->Tick().ok());
  EXPECT_TRUE(b_events.empty());
  EXPECT_EQ(b->GetNodeLocation("n2")->verdict(), LOCATION_VERDICT_CONTRADICTED);
  EXPECT_EQ(a->GetNodeLocation("n2")->verdict(), LOCATION_VERDICT_CONTRADICTED);
  // Past max_age (1 h) the records prove nothing: the new leader reports both, the old not.
  clock_.Advance(absl::Minutes(61));
  ASSERT_TRUE(a->Tick().ok());
  ASSERT_TRUE(b->Tick().ok());
  ASSERT_EQ(b_events.size(), 2u);
  EXPECT_EQ(b_events[0].detail, "unverified");
  EXPECT_EQ(a_events.size(), 2u);
  EXPECT_EQ(a->GetNodeLocation("n1")->verdict(), LOCATION_VERDICT_UNVERIFIED);

  // b is deposed and a leads term 3; a fresh record verifies n1 there. b is elected again (term
  // 4) before its next tick: it reloads what a saved, so it does not report n1 a second time.
  b_term = 0;
  a_term = 3;
  Elect(3);
  ASSERT_TRUE(a->Tick().ok());
  provenance::v1::SubmitMeasurementsRequest fresh;
  *fresh.add_records() =
      SignRecord(keys_.fra, NodeMeasurement("lm-fra", "n1", 3, clock_.Now(), 0.5, nodes.n1.get()));
  auto again = a->Submit(fresh, "lm-fra");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->accepted(), 1u);
  ASSERT_EQ(a_events.size(), 3u);
  EXPECT_EQ(a_events[2].detail, "verified");
  b_term = 4;
  Elect(4);
  ASSERT_TRUE(b->Tick().ok());
  EXPECT_EQ(b_events.size(), 2u);
  EXPECT_EQ(b->GetNodeLocation("n1")->verdict(), LOCATION_VERDICT_VERIFIED);

  // On PostgreSQL a has not noticed yet that it lost term 3: past max_age its tick would change
  // n1's verdict, but the save is fenced by the term, so it stores and reports nothing.
  if (engine() == prov::testing::Engine::kPostgres) {
    clock_.Advance(absl::Minutes(61));
    absl::Status deposed = a->Tick();
    EXPECT_EQ(deposed.code(), absl::StatusCode::kFailedPrecondition) << deposed;
    EXPECT_EQ(a_events.size(), 3u);
    EXPECT_EQ(b->GetNodeLocation("n1")->verdict(), LOCATION_VERDICT_VERIFIED);
    ASSERT_TRUE(b->Tick().ok());  // the leader judges it
    EXPECT_EQ(b_events.size(), 3u);
    EXPECT_EQ(b->GetNodeLocation("n1")->verdict(), LOCATION_VERDICT_UNVERIFIED);
  }
}

// PostgreSQL (Options::encode_verdict_events): the leader's verdict events go into the ingest
// batch log in the transaction that saves the verdicts, not through `events` after it. The
// successor of a leader that died right after that commit loads the verdicts as reported, and
// its engine still reads their events from the log (before, they were lost in that gap).
TEST_P(LocationHubEnginesTest, OnPostgresTheVerdictEventsAreLoggedWithTheVerdicts) {
  if (engine() != prov::testing::Engine::kPostgres) GTEST_SKIP() << "SQLite has no batch log";
  std::atomic<int64_t> term{1};
  std::vector<NodeEvent> sent;
  auto hub = Hub(&term, &sent, /*log_verdict_events=*/true);
  ASSERT_NE(hub, nullptr);
  auto log = PgIngestBatchReader::Open(pg_conninfo());
  ASSERT_TRUE(log.ok()) << log.status();
  Elect(1);
  auto added = AddTwoNodes(*hub);
  ASSERT_TRUE(added.ok()) << added.status();
  const TwoNodes& nodes = *added;
  ASSERT_TRUE(hub->Tick().ok());
  provenance::v1::SubmitMeasurementsRequest req;
  *req.add_records() =
      SignRecord(keys_.fra, NodeMeasurement("lm-fra", "n1", 1, clock_.Now(), 0.5, nodes.n1.get()));
  *req.add_records() =
      SignRecord(keys_.fra, NodeMeasurement("lm-fra", "n2", 2, clock_.Now(), 1.0, nodes.n2.get()));
  ASSERT_TRUE(hub->Submit(req, "lm-fra").ok());
  ASSERT_TRUE(hub->Tick().ok());
  EXPECT_TRUE(sent.empty());
  auto read = (*log)->Read(IngestPosition{}, 100);
  ASSERT_TRUE(read.ok()) << read.status();
  std::vector<NodeEvent> logged;
  for (const IngestBatch& b : read->batches) {
    auto rec = DecodeLoggedRecord(b.record);
    ASSERT_TRUE(rec.ok()) << rec.status();
    EXPECT_TRUE(rec->observations.empty());
    for (NodeEvent& e : rec->events) logged.push_back(std::move(e));
  }
  ASSERT_EQ(logged.size(), 2u);
  EXPECT_EQ(logged[0].kind, NodeEvent::Kind::kLocationVerdict);
  EXPECT_EQ(logged[0].node_id, "n1");
  EXPECT_EQ(logged[0].detail, "verified");
  EXPECT_EQ(logged[1].node_id, "n2");
  EXPECT_EQ(logged[1].detail, "contradicted");
  EXPECT_FALSE(logged[1].location.sentences.empty());
  // Deposed before it noticed: past max_age its tick would change both verdicts, but the save
  // is fenced, so neither the verdicts nor their events are written.
  Elect(2);
  clock_.Advance(absl::Minutes(61));
  EXPECT_EQ(hub->Tick().code(), absl::StatusCode::kFailedPrecondition);
  auto after = (*log)->Read(read->position, 100);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_TRUE(after->batches.empty());
  EXPECT_TRUE(sent.empty());
}

PROV_STORE_TEST_P(LocationHubEnginesTest);

}  // namespace
}  // namespace prov::server::location
