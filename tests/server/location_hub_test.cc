// LocationHub with a real SQLite database and a fake clock: records stored and refused (counted),
// verdicts refreshed on each accepted record and on the tick (freshness expiry), events for the
// analysis engine only when a verdict changes, node keys from certificates, and a restart that
// reloads the landmark's replay state and the verdicts.
#include "server/location/location_hub.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>

#include "absl/strings/match.h"
#include "common/node_key.h"
#include "common/testing/fake_clock.h"
#include "server/store/location_store.h"
#include "server/store/store.h"
#include "tests/server/commit_batch.h"
#include "tests/server/location_fixture.h"
#include "tests/server/temp_dir.h"
#include "tests/server/test_reports.h"

namespace prov::server::location {
namespace {

using provenance::v1::LOCATION_VERDICT_CONTRADICTED;
using provenance::v1::LOCATION_VERDICT_UNVERIFIED;
using provenance::v1::LOCATION_VERDICT_VERIFIED;
using testing::NodeMeasurement;
using testing::SignRecord;

class LocationHubTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = ParseLocationConfig(keys_.Yaml(2), "test.yaml");
    ASSERT_TRUE(c.ok()) << c.status();
    config_ = *std::move(c);
    auto store = Store::Open(db_);
    ASSERT_TRUE(store.ok()) << store.status();
    // Two nodes report with a location responder: n1 declared in fra1, n2 in sin1.
    provenance::v1::NodeReport r1 = testing::MakeReport("n1", "b", 1, clock_.Now(), "fra1");
    r1.mutable_node()->set_location_responder("10.0.0.1:7700");
    provenance::v1::NodeReport r2 = testing::MakeReport("n2", "b", 1, clock_.Now(), "sin1");
    r2.mutable_node()->set_location_responder("10.0.0.2:7700");
    ASSERT_TRUE((*store)->Commit(testing::CommitBatch({&r1, &r2}), clock_.Now()).ok());
    auto pem = GenerateNodeKeyPem();
    n1_ = *prov::location::NodeAnswerSigner::FromKeyPem(*pem);
    n1_pem_ = *pem;
    n2_ = *prov::location::NodeAnswerSigner::FromKeyPem(*GenerateNodeKeyPem());
    StartHub();
  }
  void StartHub() {
    LocationHub::Options o;
    o.db_path = db_;
    o.config = &config_;
    o.clock = &clock_;
    o.policy = [this] { return LocationPolicyView{policy_, "p-test"}; };
    o.events = [this](std::vector<NodeEvent> e) {
      for (auto& x : e) events_.push_back(std::move(x));
    };
    o.tick = absl::ZeroDuration();
    o.revoked_at = [this](const std::string& node_id) -> std::optional<absl::Time> {
      auto it = revoked_.find(node_id);
      if (it == revoked_.end()) return std::nullopt;
      return it->second;
    };
    o.audit_refusals = [this](const std::string& landmark, int64_t records,
                              const std::string& reasons, const std::string& first) {
      audited_.push_back(absl::StrCat(landmark, " ", records, " ", reasons, " | ", first));
    };
    auto hub = LocationHub::Start(std::move(o));
    ASSERT_TRUE(hub.ok()) << hub.status();
    hub_ = *std::move(hub);
  }
  // Node keys arrive from certificates (n1: PEM of its key, the same path as a certificate's).
  void BindKeys() {
    hub_->NodeCertificateSeen("n1", n1_pem_, "stream");
    hub_->NodeKeySeen("n2", n2_->public_key_der(), "stream");
    ASSERT_TRUE(hub_->Tick().ok());
  }
  provenance::v1::SubmitMeasurementsResponse Submit(
      std::initializer_list<provenance::v1::SignedMeasurement> records) {
    provenance::v1::SubmitMeasurementsRequest req;
    for (const auto& r : records) *req.add_records() = r;
    auto res = hub_->Submit(req, "");
    EXPECT_TRUE(res.ok()) << res.status();
    return res.ok() ? *res : provenance::v1::SubmitMeasurementsResponse();
  }

  testing::TempDir dir_;
  std::string db_ = dir_.path() + "/provd.db";
  FakeClock clock_{absl::FromUnixSeconds(1'800'000'000)};
  testing::LocationKeys keys_;
  LocationConfig config_;
  policy::LocationPolicy policy_;
  std::unique_ptr<prov::location::NodeAnswerSigner> n1_, n2_;
  std::string n1_pem_;
  std::vector<NodeEvent> events_;
  std::vector<std::string> audited_;
  std::map<std::string, absl::Time> revoked_;
  std::unique_ptr<LocationHub> hub_;
};

TEST_F(LocationHubTest, NodesWithoutAKnownKeyAreNotAssigned) {
  EXPECT_EQ(hub_->GetAssignment("lm-fra").targets_size(), 1);  // only the landmark lm-par
  BindKeys();
  const provenance::v1::Assignment a = hub_->GetAssignment("lm-fra");
  ASSERT_EQ(a.targets_size(), 3);
  EXPECT_EQ(a.targets(0).target_id(), "n1");
  EXPECT_EQ(a.targets(0).udp_address(), "10.0.0.1:7700");
  EXPECT_EQ(a.targets(0).public_key(), n1_->public_key_der());
}

TEST_F(LocationHubTest, VerdictsRefreshOnRecordsAndExpireOnTheTick) {
  BindKeys();
  events_.clear();
  auto res = Submit(
      {SignRecord(keys_.fra, NodeMeasurement("lm-fra", "n1", 1, clock_.Now(), 0.5, n1_.get())),
       SignRecord(keys_.fra, NodeMeasurement("lm-fra", "n2", 2, clock_.Now(), 1.0, n2_.get()))});
  EXPECT_EQ(res.accepted(), 2u);
  EXPECT_EQ(hub_->GetNodeLocation("n1")->verdict(), LOCATION_VERDICT_VERIFIED);
  EXPECT_EQ(hub_->GetNodeLocation("n2")->verdict(), LOCATION_VERDICT_CONTRADICTED);
  ASSERT_EQ(events_.size(), 2u);  // one per changed verdict, for the engine's rules
  EXPECT_EQ(events_[0].node_id, "n1");
  EXPECT_EQ(events_[0].detail, "verified");
  EXPECT_EQ(events_[1].detail, "contradicted");
  EXPECT_EQ(events_[1].location.landmarks, std::vector<std::string>{"lm-fra"});
  EXPECT_NE(events_[1].location.sentences[0].find("OUTSIDE"), std::string::npos)
      << events_[1].location.sentences[0];

  // Nothing new: the tick re-judges, nothing changed, no event.
  events_.clear();
  clock_.Advance(absl::Minutes(30));
  ASSERT_TRUE(hub_->Tick().ok());
  EXPECT_TRUE(events_.empty());
  // Past max_age (1 h) the records prove nothing: the tick turns both unverified.
  clock_.Advance(absl::Minutes(31));
  ASSERT_TRUE(hub_->Tick().ok());
  EXPECT_EQ(hub_->GetNodeLocation("n1")->verdict(), LOCATION_VERDICT_UNVERIFIED);
  EXPECT_EQ(hub_->GetNodeLocation("n2")->verdict(), LOCATION_VERDICT_UNVERIFIED);
  EXPECT_EQ(events_.size(), 2u);

  auto list = hub_->ListNodeLocations({});
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->nodes_size(), 2);
  provenance::v1::ListNodeLocationsRequest paged;
  paged.set_limit(1);
  auto page = hub_->ListNodeLocations(paged);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->nodes_size(), 1);
  EXPECT_EQ(page->next_after_node_id(), "n1");
}

TEST_F(LocationHubTest, RefusalsAreAnsweredAndARestartKeepsReplayState) {
  BindKeys();
  const auto rec =
      SignRecord(keys_.fra, NodeMeasurement("lm-fra", "n1", 9, clock_.Now(), 0.5, n1_.get()));
  EXPECT_EQ(Submit({rec}).accepted(), 1u);
  auto again = Submit({rec});
  ASSERT_EQ(again.refused_size(), 1);
  EXPECT_EQ(again.refused(0).index(), 0u);
  EXPECT_TRUE(absl::StartsWith(again.refused(0).reason(), "replay: landmark_seq 9"))
      << again.refused(0).reason();
  ASSERT_EQ(audited_.size(), 1u);  // one audit entry per landmark and call
  EXPECT_TRUE(absl::StartsWith(audited_[0], "lm-fra 1 replay:1 | replay: landmark_seq 9"))
      << audited_[0];
  auto landmarks = hub_->ListLandmarks();
  EXPECT_EQ(landmarks.landmarks(0).records_accepted(), 1u);
  EXPECT_EQ(landmarks.landmarks(0).records_refused(), 1u);

  // Forged answer: refused, and a forged event for n1.
  events_.clear();
  auto forged = Submit(
      {SignRecord(keys_.fra, NodeMeasurement("lm-fra", "n1", 10, clock_.Now(), 0.4, n2_.get()))});
  ASSERT_EQ(forged.refused_size(), 1);
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].kind, NodeEvent::Kind::kLocationForged);
  EXPECT_EQ(events_[0].detail, "lm-fra");

  // provd restarts: the replay is still refused, the verdict is still there, no new events.
  hub_.reset();
  events_.clear();
  StartHub();
  EXPECT_EQ(hub_->GetNodeLocation("n1")->verdict(), LOCATION_VERDICT_VERIFIED);
  EXPECT_EQ(Submit({rec}).refused_size(), 1);
  ASSERT_TRUE(hub_->Tick().ok());
  EXPECT_TRUE(events_.empty());

  // The stored rows hold the exact signed bytes for the export.
  auto db = SqliteDb::Open(db_, SqliteDb::kReadOnly);
  ASSERT_TRUE(db.ok());
  auto verdicts = ListVerdicts(**db, "verified", "", 10);
  ASSERT_TRUE(verdicts.ok());
  ASSERT_EQ(verdicts->size(), 1u);
  EXPECT_EQ((*verdicts)[0].disk_ids, "[1]");
  auto stored = ReadMeasurements(**db, std::vector<int64_t>{1});
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 1u);
  EXPECT_EQ((*stored)[0].measurement, rec.measurement());
  EXPECT_EQ((*stored)[0].signature, rec.landmark_signature());
}

// Two provd replicas sharing one database (here two hubs on one SQLite file, each on its own
// connection): a record both receive is stored once. The second hub's book has not seen the
// first's record, so only the store's check (StoreLandmarkRecords, inside the write) refuses it:
// answered as a replay, audited, counted against the landmark, and its state (as stored) taken
// into the second hub's book, which then refuses the first's older seqs by itself.
TEST_F(LocationHubTest, TwoHubsSharingOneDatabaseStoreARecordOnce) {
  BindKeys();
  std::unique_ptr<LocationHub> first = std::move(hub_);
  StartHub();  // the second replica, loaded before the first stores anything
  std::unique_ptr<LocationHub> second = std::move(hub_);
  const auto rec =
      SignRecord(keys_.fra, NodeMeasurement("lm-fra", "n1", 9, clock_.Now(), 0.5, n1_.get()));
  provenance::v1::SubmitMeasurementsRequest req;
  *req.add_records() = rec;
  auto stored = first->Submit(req, "");
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->accepted(), 1u);
  audited_.clear();
  auto again = second->Submit(req, "");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->accepted(), 0u);
  ASSERT_EQ(again->refused_size(), 1);
  EXPECT_EQ(again->refused(0).index(), 0u);
  EXPECT_TRUE(absl::StartsWith(again->refused(0).reason(), "replay: landmark_seq 9"))
      << again->refused(0).reason();
  ASSERT_EQ(audited_.size(), 1u);
  EXPECT_TRUE(absl::StartsWith(audited_[0], "lm-fra 1 replay:1 | replay: landmark_seq 9"))
      << audited_[0];
  auto landmarks = second->ListLandmarks();
  EXPECT_EQ(landmarks.landmarks(0).records_accepted(), 1u);  // the first hub's, as stored
  EXPECT_EQ(landmarks.landmarks(0).records_refused(), 1u);
  // The second hub now knows seq 9: an older seq is refused by its own check.
  *req.mutable_records(0) =
      SignRecord(keys_.fra, NodeMeasurement("lm-fra", "n1", 8, clock_.Now(), 0.5, n1_.get()));
  auto older = second->Submit(req, "");
  ASSERT_TRUE(older.ok()) << older.status();
  ASSERT_EQ(older->refused_size(), 1);
  EXPECT_TRUE(absl::StartsWith(older->refused(0).reason(), "replay: landmark_seq 8 is not above"))
      << older->refused(0).reason();
  auto db = SqliteDb::Open(db_, SqliteDb::kReadOnly);
  ASSERT_TRUE(db.ok());
  auto rows = ListMeasurementsSince(**db, absl::UnixEpoch());
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->size(), 1u);
}

// Review #1 and #3: n1 renews its certificate. The node CA's issuance does not switch the key
// landmarks get; the first stream bound with the new certificate does. The previous key stays
// accepted for the grace period (2 rounds + a tick), then its answers are refused as rotation,
// never flagged. provd keeps both keys (the export lists every key of a node), and a restart
// keeps the active one.
TEST_F(LocationHubTest, TheKeySwitchesWhenAStreamBindsItAndTheOldOneHasAGracePeriod) {
  BindKeys();
  auto renewed_pem = GenerateNodeKeyPem();
  ASSERT_TRUE(renewed_pem.ok());
  auto renewed = *prov::location::NodeAnswerSigner::FromKeyPem(*renewed_pem);
  hub_->NodeCertificateSeen("n1", *renewed_pem, "node_ca");
  ASSERT_TRUE(hub_->Tick().ok());
  EXPECT_EQ(hub_->GetAssignment("lm-fra").targets(0).public_key(), n1_->public_key_der());

  clock_.Advance(absl::Seconds(10));
  hub_->NodeCertificateSeen("n1", *renewed_pem, "stream");
  ASSERT_TRUE(hub_->Tick().ok());
  EXPECT_EQ(hub_->GetAssignment("lm-fra").targets(0).public_key(), renewed->public_key_der());
  events_.clear();
  // Right after the switch a landmark still holding the old key's assignment: accepted.
  EXPECT_EQ(Submit({SignRecord(keys_.fra,
                               NodeMeasurement("lm-fra", "n1", 1, clock_.Now(), 0.5, n1_.get()))})
                .accepted(),
            1u);
  EXPECT_EQ(Submit({SignRecord(keys_.fra, NodeMeasurement("lm-fra", "n1", 2, clock_.Now(), 0.5,
                                                          renewed.get()))})
                .accepted(),
            1u);
  // Past 2 rounds (120 s) + a tick (30 s): the old key's answers are refused, without a flag.
  clock_.Advance(absl::Seconds(151));
  ASSERT_TRUE(hub_->Tick().ok());
  auto old = Submit(
      {SignRecord(keys_.fra, NodeMeasurement("lm-fra", "n1", 3, clock_.Now(), 0.5, n1_.get()))});
  ASSERT_EQ(old.refused_size(), 1);
  EXPECT_TRUE(absl::StartsWith(old.refused(0).reason(), "previous_node_key"))
      << old.refused(0).reason();
  for (const NodeEvent& e : events_) EXPECT_NE(e.kind, NodeEvent::Kind::kLocationForged);

  {
    auto db = SqliteDb::Open(db_, SqliteDb::kReadOnly);
    ASSERT_TRUE(db.ok());
    auto keys = ListNodeKeys(**db);
    ASSERT_TRUE(keys.ok());
    int n1_keys = 0;
    for (const auto& k : *keys) n1_keys += k.node_id == "n1";
    EXPECT_EQ(n1_keys, 2);
  }
  hub_.reset();
  StartHub();
  EXPECT_EQ(hub_->GetAssignment("lm-fra").targets(0).public_key(), renewed->public_key_der());
}

// Review #2: a node whose agent never ran a responder still gets a verdict, unverified with the
// reason, and a flag event when policy requires proof for it.
TEST_F(LocationHubTest, ANodeWithoutAResponderIsJudgedAndFlaggedWhenProofIsRequired) {
  auto store = Store::Open(db_);
  ASSERT_TRUE(store.ok());
  provenance::v1::NodeReport r3 = testing::MakeReport("n3", "b", 1, clock_.Now(), "fra1");
  ASSERT_TRUE((*store)->Commit(testing::CommitBatch({&r3}), clock_.Now()).ok());
  policy_.require_proof = {"*"};
  ASSERT_TRUE(hub_->Tick().ok());
  auto loc = hub_->GetNodeLocation("n3");
  ASSERT_TRUE(loc.ok()) << loc.status();
  EXPECT_EQ(loc->verdict(), LOCATION_VERDICT_UNVERIFIED);
  EXPECT_TRUE(loc->proof_required());
  EXPECT_NE(loc->reason().find("no responder advertised"), std::string::npos) << loc->reason();
  bool flagged = false;
  for (const NodeEvent& e : events_) flagged |= e.node_id == "n3" && e.detail == "unverified";
  EXPECT_TRUE(flagged);
}

// Review #4: a revoked node (no key seen since) is not assigned, its records are refused and its
// verdict turns unverified saying so.
TEST_F(LocationHubTest, ARevokedNodeIsNotProbedAndItsRecordsAreRefused) {
  BindKeys();
  EXPECT_EQ(Submit({SignRecord(keys_.fra,
                               NodeMeasurement("lm-fra", "n1", 1, clock_.Now(), 0.5, n1_.get()))})
                .accepted(),
            1u);
  EXPECT_EQ(hub_->GetNodeLocation("n1")->verdict(), LOCATION_VERDICT_VERIFIED);
  clock_.Advance(absl::Seconds(5));
  revoked_["n1"] = clock_.Now();
  ASSERT_TRUE(hub_->Tick().ok());
  const provenance::v1::Assignment a = hub_->GetAssignment("lm-fra");
  for (const auto& t : a.targets()) EXPECT_NE(t.target_id(), "n1");
  auto res = Submit(
      {SignRecord(keys_.fra, NodeMeasurement("lm-fra", "n1", 2, clock_.Now(), 0.5, n1_.get()))});
  ASSERT_EQ(res.refused_size(), 1);
  EXPECT_TRUE(absl::StartsWith(res.refused(0).reason(), "node_revoked")) << res.refused(0).reason();
  auto loc = hub_->GetNodeLocation("n1");
  EXPECT_EQ(loc->verdict(), LOCATION_VERDICT_UNVERIFIED);
  EXPECT_NE(loc->reason().find("revoked"), std::string::npos) << loc->reason();
}

// Review #8: a refused record counts against the authenticated caller, not the landmark it
// claims; without a caller, against the claimed landmark only when its signature verified.
TEST_F(LocationHubTest, RefusalsAreBlamedOnTheCallerNotTheClaimedLandmark) {
  BindKeys();
  provenance::v1::SubmitMeasurementsRequest req;
  *req.add_records() =
      SignRecord(keys_.par, NodeMeasurement("lm-fra", "n1", 1, clock_.Now(), 0.5, n1_.get()));
  ASSERT_TRUE(hub_->Submit(req, "lm-par").ok());
  ASSERT_TRUE(hub_->Submit(req, "").ok());  // lm-fra's signature does not verify: nobody's
  auto landmarks = hub_->ListLandmarks();
  for (const auto& lm : landmarks.landmarks()) {
    EXPECT_EQ(lm.records_refused(), lm.landmark_id() == "lm-par" ? 1u : 0u) << lm.landmark_id();
  }
  ASSERT_EQ(audited_.size(), 2u);
  EXPECT_TRUE(absl::StartsWith(audited_[0], "lm-par 1 caller_mismatch:1")) << audited_[0];
  EXPECT_TRUE(absl::StartsWith(audited_[1], "unauthenticated 1 bad_landmark_signature:1"))
      << audited_[1];
}

// Review #5: start-up reads the newest record per (landmark, target) within max_age, no blobs.
TEST_F(LocationHubTest, StartUpReadsOnlyTheNewestRecordPerLandmarkAndTarget) {
  BindKeys();
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    EXPECT_EQ(Submit({SignRecord(keys_.fra, NodeMeasurement("lm-fra", "n1", seq, clock_.Now(), 0.5,
                                                            n1_.get()))})
                  .accepted(),
              1u);
    clock_.Advance(absl::Seconds(60));
  }
  auto db = SqliteDb::Open(db_, SqliteDb::kReadOnly);
  ASSERT_TRUE(db.ok());
  auto rows = ListNewestMeasurements(**db, clock_.Now() - absl::Hours(1));
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].id, 3);
  EXPECT_TRUE((*rows)[0].measurement.empty());
  EXPECT_TRUE(ListNewestMeasurements(**db, clock_.Now())->empty());  // all older than `since`
  hub_.reset();
  StartHub();
  auto loc = hub_->GetNodeLocation("n1");
  ASSERT_TRUE(loc.ok());
  ASSERT_TRUE(hub_->Tick().ok());
  ASSERT_EQ(hub_->GetNodeLocation("n1")->disks_size(), 1);
}

// Review #10: a call whose transaction fails changes nothing in memory: the same record is
// accepted when sent again (not a "replay"), and no verdict or event came from the failed call.
TEST_F(LocationHubTest, AFailedCommitLeavesTheBookAndVerdictsUnchanged) {
  BindKeys();
  events_.clear();
  auto other = SqliteDb::Open(db_, SqliteDb::kReadWrite);
  ASSERT_TRUE(other.ok());
  // The landmark's state row fails to write, after the record's row was inserted.
  ASSERT_TRUE((*other)
                  ->Exec("CREATE TRIGGER fail_landmarks BEFORE INSERT ON location_landmarks "
                         "BEGIN SELECT RAISE(ABORT, 'injected'); END")
                  .ok());
  provenance::v1::SubmitMeasurementsRequest req;
  *req.add_records() =
      SignRecord(keys_.fra, NodeMeasurement("lm-fra", "n1", 1, clock_.Now(), 0.5, n1_.get()));
  EXPECT_FALSE(hub_->Submit(req, "").ok());
  EXPECT_TRUE(events_.empty());
  EXPECT_EQ(hub_->GetNodeLocation("n1")->verdict(), LOCATION_VERDICT_UNVERIFIED);
  ASSERT_TRUE((*other)->Exec("DROP TRIGGER fail_landmarks").ok());
  auto res = hub_->Submit(req, "");
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->accepted(), 1u);
  EXPECT_EQ(hub_->GetNodeLocation("n1")->verdict(), LOCATION_VERDICT_VERIFIED);
  EXPECT_EQ(hub_->ListLandmarks().landmarks(0).records_accepted(), 1u);
}

}  // namespace
}  // namespace prov::server::location
