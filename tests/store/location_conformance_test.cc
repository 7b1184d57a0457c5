// Location verification's repository (server/store/repo/location.h) behaves the same on SQLite and
// on PostgreSQL: node keys, landmark records and their list queries, landmark states (the replay
// rule decided by the store), verdicts, bad input. PostgreSQL only: two sessions storing one
// landmark's records at once accept each seq once and end at the highest; reconnection after
// pg_terminate_backend.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/store/pg/pg_conn.h"
#include "server/store/pg/pg_ingest_batches.h"
#include "server/store/pg/pg_location.h"
#include "server/store/pg/pg_schema.h"
#include "server/store/repo/location.h"
#include "server/store/sqlite/sqlite_location.h"
#include "tests/store/pg_server.h"
#include "tests/store/store_fixture.h"

namespace prov::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

absl::Time T(int64_t seconds) { return absl::FromUnixSeconds(1'700'000'000 + seconds); }

StoredMeasurement Record(const std::string& landmark, uint64_t seq, const std::string& target,
                         int64_t measured_s, int64_t answers = 3,
                         const std::string& kind = "node") {
  StoredMeasurement m;
  m.landmark_id = landmark;
  m.target_kind = kind;
  m.target_id = target;
  m.measured_at = T(measured_s);
  m.landmark_seq = seq;
  m.rtt_min_ms = 1.25 + static_cast<double>(seq) / 8;
  m.answers_valid = answers;
  // Bytes a text column would mangle: a NUL, high bytes.
  m.measurement = std::string("m\0\xff", 3) + landmark + absl::StrCat(seq);
  m.signature = std::string(64, static_cast<char>(0x80 | (seq & 0x7f)));
  return m;
}

std::vector<int64_t> Ids(const std::vector<StoredMeasurement>& rows) {
  std::vector<int64_t> out;
  for (const auto& m : rows) out.push_back(m.id);
  return out;
}

std::vector<uint64_t> Seqs(const std::vector<StoredMeasurement>& rows) {
  std::vector<uint64_t> out;
  for (const auto& m : rows) out.push_back(m.landmark_seq);
  return out;
}

std::vector<std::string> Nodes(const std::vector<StoredVerdict>& rows) {
  std::vector<std::string> out;
  for (const auto& v : rows) out.push_back(v.node_id);
  return out;
}

class LocationTest : public prov::testing::StoreTest {
 protected:
  std::unique_ptr<LocationRepository> Open() {
    absl::StatusOr<std::unique_ptr<LocationRepository>> repo;
    if (engine() == prov::testing::Engine::kSqlite) {
      repo = SqliteLocationRepository::Open(sqlite_path());
    } else {
      repo = PgLocationRepository::Open(pg_conninfo());
    }
    EXPECT_TRUE(repo.ok()) << repo.status();
    return repo.ok() ? *std::move(repo) : nullptr;
  }
  static LandmarkRecords Call(int64_t received_s, std::vector<StoredMeasurement> records,
                              std::map<std::string, int64_t> refused = {}) {
    LandmarkRecords call;
    call.received_at = T(received_s);
    call.records = std::move(records);
    call.refused = std::move(refused);
    return call;
  }
  static StoredVerdict Verdict(const std::string& node, const std::string& verdict,
                               int64_t evaluated_s) {
    return {node,
            verdict,
            T(evaluated_s),
            std::string("loc\0\x01\xfe", 6) + node,
            "[1,2]",
            "{\"lm-a\":[3]}",
            "{\"fibre_km_per_ms\":200}"};
  }
};

TEST_P(LocationTest, AFreshStoreListsNothing) {
  auto repo = Open();
  ASSERT_NE(repo, nullptr);
  EXPECT_THAT(*repo->ListNodeKeys(), IsEmpty());
  EXPECT_THAT(*repo->ListLocationNodes(), IsEmpty());
  EXPECT_THAT(*repo->ListMeasurementsSince(absl::UnixEpoch()), IsEmpty());
  EXPECT_THAT(*repo->ListNewestMeasurements(absl::UnixEpoch()), IsEmpty());
  EXPECT_THAT(*repo->ReadMeasurements(std::vector<int64_t>{1, 2}), IsEmpty());
  EXPECT_THAT(*repo->ListLandmarkStates(), IsEmpty());
  EXPECT_THAT(*repo->ListVerdicts("", "", 100), IsEmpty());
  // Empty writes are no-ops.
  EXPECT_TRUE(repo->UpsertNodeKeys({}).ok());
  EXPECT_TRUE(repo->SaveVerdicts({}, std::nullopt).ok());
  auto none = repo->StoreLandmarkRecords(Call(0, {}));
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_THAT(none->ids, IsEmpty());
  EXPECT_THAT(none->states, IsEmpty());
  EXPECT_THAT(*repo->ListLandmarkStates(), IsEmpty());
}

TEST_P(LocationTest, NodeKeysMoveFirstSeenBackLastSeenForwardAndKeepStream) {
  auto repo = Open();
  ASSERT_NE(repo, nullptr);
  const std::string k1("\x30\x00\x01", 3), k2("\x30\xff", 2);
  ASSERT_TRUE(repo->UpsertNodeKeys({{"gpu-2", k1, T(100), T(200), "node_ca"},
                                    {"gpu-1", k2, T(10), T(20), "stream"},
                                    {"gpu-2", k2, T(50), T(60), "node_ca"}})
                  .ok());
  // Older first_seen, older last_seen, now from a stream: first moves back, last stays.
  ASSERT_TRUE(repo->UpsertNodeKeys({{"gpu-2", k1, T(40), T(150), "stream"}}).ok());
  // Newer on both, from the node CA again: first stays, last moves, "stream" sticks.
  ASSERT_TRUE(repo->UpsertNodeKeys({{"gpu-2", k1, T(300), T(400), "node_ca"}}).ok());
  auto keys = repo->ListNodeKeys();
  ASSERT_TRUE(keys.ok()) << keys.status();
  ASSERT_EQ(keys->size(), 3u);
  // By node, then first_seen: gpu-2's k1 (first 40) before its k2 (first 50).
  EXPECT_EQ((*keys)[0].node_id, "gpu-1");
  EXPECT_EQ((*keys)[0].spki_der, k2);
  EXPECT_EQ((*keys)[0].source, "stream");
  EXPECT_EQ((*keys)[1].node_id, "gpu-2");
  EXPECT_EQ((*keys)[1].spki_der, k1);
  EXPECT_EQ((*keys)[1].first_seen, T(40));
  EXPECT_EQ((*keys)[1].last_seen, T(400));
  EXPECT_EQ((*keys)[1].source, "stream");
  EXPECT_EQ((*keys)[2].spki_der, k2);
  EXPECT_EQ((*keys)[2].first_seen, T(50));
  EXPECT_EQ((*keys)[2].source, "node_ca");
}

TEST_P(LocationTest, LocationNodesCarryResponderAndTheLowestSerialsDatacenter) {
  ASSERT_NE(Open(), nullptr);  // migrates
  ASSERT_TRUE(RawExec("INSERT INTO nodes(node_id, datacenter, region, first_seen_us, "
                      "last_seen_us, last_received_us) VALUES "
                      "('gpu-b', 'fra1', 'eu', 1, 1, 1), ('gpu-a', 'ams1', 'eu', 1, 1, 1), "
                      "('gpu-c', '', '', 1, 1, 1);"
                      "INSERT INTO location_responders(node, address, updated_us) "
                      "SELECT id, '10.0.0.2:7000', 5 FROM nodes WHERE node_id = 'gpu-b';"
                      "INSERT INTO inventory(serial, version, uuid, node_id, datacenter, rack, "
                      "status, declared) VALUES ('S-2', 1, '', 'gpu-a', 'par1', 'r1', 1, ''), "
                      "('S-1', 1, '', 'gpu-a', 'lon1', 'r1', 1, '')")
                  .ok());
  auto repo = Open();
  ASSERT_NE(repo, nullptr);
  auto rows = repo->ListLocationNodes();
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ((*rows)[0].node_id, "gpu-a");
  EXPECT_EQ((*rows)[0].responder, "");
  EXPECT_EQ((*rows)[0].report_datacenter, "ams1");
  EXPECT_EQ((*rows)[0].inventory_datacenter, "lon1");  // S-1 sorts before S-2
  EXPECT_EQ((*rows)[1].node_id, "gpu-b");
  EXPECT_EQ((*rows)[1].responder, "10.0.0.2:7000");
  EXPECT_EQ((*rows)[1].region, "eu");
  EXPECT_EQ((*rows)[1].inventory_datacenter, "");
  EXPECT_EQ((*rows)[2].node_id, "gpu-c");
}

TEST_P(LocationTest, RecordsAreStoredExactlyAndListedByEachQuery) {
  auto repo = Open();
  ASSERT_NE(repo, nullptr);
  auto first = repo->StoreLandmarkRecords(
      Call(1000, {Record("lm-b", 1, "gpu-1", 100), Record("lm-a", 1, "gpu-1", 110),
                  Record("lm-a", 2, "gpu-2", 120, /*answers=*/0),
                  Record("lm-a", 3, "lm-b", 130, 2, "landmark")}));
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->ids.size(), 4u);
  for (size_t i = 1; i < 4; ++i) EXPECT_GT(first->ids[i], first->ids[i - 1]);
  auto second = repo->StoreLandmarkRecords(
      Call(2000, {Record("lm-a", 4, "gpu-1", 200), Record("lm-b", 2, "gpu-1", 90)}));
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_EQ(second->ids.size(), 2u);
  EXPECT_GT(second->ids[0], first->ids[3]);

  auto all = repo->ListMeasurementsSince(T(0));
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_THAT(Seqs(*all), ElementsAre(1, 1, 2, 3, 4, 2));  // by id
  const StoredMeasurement& m = (*all)[3];
  const StoredMeasurement want = Record("lm-a", 3, "lm-b", 130, 2, "landmark");
  EXPECT_EQ(m.id, first->ids[3]);
  EXPECT_EQ(m.received_at, T(1000));  // the call's
  EXPECT_EQ(m.landmark_id, "lm-a");
  EXPECT_EQ(m.target_kind, "landmark");
  EXPECT_EQ(m.target_id, "lm-b");
  EXPECT_EQ(m.measured_at, T(130));
  EXPECT_EQ(m.rtt_min_ms, want.rtt_min_ms);
  EXPECT_EQ(m.answers_valid, 2);
  EXPECT_EQ(m.measurement, want.measurement);
  EXPECT_EQ(m.signature, want.signature);
  // `since` is measured_at, inclusive.
  EXPECT_THAT(Seqs(*repo->ListMeasurementsSince(T(120))), ElementsAre(2, 3, 4));
  EXPECT_THAT(*repo->ListMeasurementsSince(T(201)), IsEmpty());

  // Newest per (landmark, kind, target) with an answer: lm-a/gpu-1 is seq 4 (not 1), lm-a/gpu-2
  // had no valid answer, lm-b/gpu-1 is the one measured at 100 (seq 2 was measured earlier).
  auto newest = repo->ListNewestMeasurements(T(0));
  ASSERT_TRUE(newest.ok()) << newest.status();
  ASSERT_EQ(newest->size(), 3u);
  EXPECT_EQ((*newest)[0].landmark_id, "lm-a");
  EXPECT_EQ((*newest)[0].target_kind, "landmark");
  EXPECT_EQ((*newest)[0].id, first->ids[3]);
  EXPECT_EQ((*newest)[1].target_id, "gpu-1");
  EXPECT_EQ((*newest)[1].id, second->ids[0]);
  EXPECT_EQ((*newest)[1].measured_at, T(200));
  EXPECT_EQ((*newest)[1].rtt_min_ms, Record("lm-a", 4, "gpu-1", 200).rtt_min_ms);
  EXPECT_EQ((*newest)[1].answers_valid, 3);
  EXPECT_TRUE((*newest)[1].measurement.empty());
  EXPECT_EQ((*newest)[2].landmark_id, "lm-b");
  EXPECT_EQ((*newest)[2].id, first->ids[0]);
  EXPECT_THAT(Ids(*repo->ListNewestMeasurements(T(150))), ElementsAre(second->ids[0]));

  // ReadMeasurements: in the order asked, missing ids skipped.
  auto read = repo->ReadMeasurements(
      std::vector<int64_t>{second->ids[1], 999'999, first->ids[0], second->ids[1]});
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_THAT(Ids(*read), ElementsAre(second->ids[1], first->ids[0], second->ids[1]));
  EXPECT_EQ((*read)[1].signature, Record("lm-b", 1, "gpu-1", 100).signature);

  // ListRecordsAfter: by id above the one given, at most `limit`, every field but the blobs.
  auto after = repo->ListRecordsAfter(0, 100);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_THAT(Ids(*after), ElementsAre(first->ids[0], first->ids[1], first->ids[2], first->ids[3],
                                       second->ids[0], second->ids[1]));
  const StoredMeasurement& r = (*after)[3];
  EXPECT_EQ(r.received_at, T(1000));
  EXPECT_EQ(r.landmark_id, "lm-a");
  EXPECT_EQ(r.target_kind, "landmark");
  EXPECT_EQ(r.target_id, "lm-b");
  EXPECT_EQ(r.measured_at, T(130));
  EXPECT_EQ(r.landmark_seq, 3u);
  EXPECT_EQ(r.rtt_min_ms, want.rtt_min_ms);
  EXPECT_EQ(r.answers_valid, 2);
  EXPECT_TRUE(r.measurement.empty());
  EXPECT_TRUE(r.signature.empty());
  EXPECT_EQ((*after)[2].answers_valid, 0);  // records without an answer too
  EXPECT_THAT(Ids(*repo->ListRecordsAfter(first->ids[2], 2)),
              ElementsAre(first->ids[3], second->ids[0]));
  EXPECT_THAT(*repo->ListRecordsAfter(second->ids[1], 100), IsEmpty());
  EXPECT_THAT(*repo->ListRecordsAfter(0, 0), IsEmpty());
  EXPECT_EQ(repo->ListRecordsAfter(-5, std::numeric_limits<size_t>::max())->size(), 6u);
}

TEST_P(LocationTest, TheStoreRefusesReplayedAndReorderedSeqsAndKeepsTheLandmarkState) {
  auto repo = Open();
  ASSERT_NE(repo, nullptr);
  auto first = repo->StoreLandmarkRecords(
      Call(1000, {Record("lm-a", 5, "gpu-1", 100), Record("lm-a", 7, "gpu-2", 110)},
           {{"lm-a", 1}, {"lm-c", 2}}));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_GT(first->ids[0], 0);
  EXPECT_GT(first->ids[1], 0);
  ASSERT_EQ(first->states.size(), 2u);
  EXPECT_EQ(first->states[0], (StoredLandmarkState{"lm-a", 7, T(110), T(1000), 2, 1}));
  // A landmark with only refusals gets a row with seq 0 and its count.
  EXPECT_EQ(first->states[1],
            (StoredLandmarkState{"lm-c", 0, absl::UnixEpoch(), absl::UnixEpoch(), 0, 2}));

  // A replay (7), a reordered older seq (6), a new one (9), the same again in the call (9) and
  // a landmark's first record at seq 0 (no row yet: accepted).
  auto second = repo->StoreLandmarkRecords(
      Call(2000,
           {Record("lm-a", 7, "gpu-2", 110), Record("lm-a", 6, "gpu-1", 105),
            Record("lm-a", 9, "gpu-1", 90), Record("lm-a", 9, "gpu-1", 95),
            Record("lm-b", 0, "gpu-1", 100)},
           {{"lm-a", 2}}));
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_EQ(second->ids.size(), 5u);
  EXPECT_EQ(second->ids[0], 0);
  EXPECT_EQ(second->ids[1], 0);
  EXPECT_GT(second->ids[2], 0);
  EXPECT_EQ(second->ids[3], 0);
  EXPECT_GT(second->ids[4], 0);
  // last_measured is the accepted record's (even when earlier than the previous one: the clock
  // rule is the caller's), refused = 1 + 2 earlier + 3 by the store now.
  const std::vector<StoredLandmarkState> want = {
      {"lm-a", 9, T(90), T(2000), 3, 6},
      {"lm-b", 0, T(100), T(2000), 1, 0},
  };
  EXPECT_EQ(second->states, want);
  auto states = repo->ListLandmarkStates();
  ASSERT_TRUE(states.ok()) << states.status();
  ASSERT_EQ(states->size(), 3u);
  EXPECT_EQ((*states)[0], want[0]);
  EXPECT_EQ((*states)[1], want[1]);
  EXPECT_EQ((*states)[2].landmark_id, "lm-c");
  // Now lm-b has a row: seq 0 again is a replay, and so is lm-c's seq 0 (its row says 0).
  auto third = repo->StoreLandmarkRecords(
      Call(3000, {Record("lm-b", 0, "gpu-1", 101), Record("lm-c", 0, "gpu-1", 101)}));
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_THAT(third->ids, ElementsAre(0, 0));
  EXPECT_THAT(Seqs(*repo->ListMeasurementsSince(T(0))), ElementsAre(5, 7, 9, 0));
}

TEST_P(LocationTest, SeqsAboveInt64MaxKeepTheirOrder) {
  auto repo = Open();
  ASSERT_NE(repo, nullptr);
  const uint64_t big = uint64_t{1} << 63;
  auto first = repo->StoreLandmarkRecords(Call(1, {Record("lm-a", big + 5, "gpu-1", 100)}));
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = repo->StoreLandmarkRecords(
      Call(2, {Record("lm-a", big + 4, "gpu-1", 101), Record("lm-a", big + 6, "gpu-1", 102)}));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->ids[0], 0);
  EXPECT_GT(second->ids[1], 0);
  EXPECT_EQ((*repo->ListLandmarkStates())[0].last_seq, big + 6);
  EXPECT_THAT(Seqs(*repo->ListMeasurementsSince(T(0))), ElementsAre(big + 5, big + 6));
}

TEST_P(LocationTest, VerdictsAreUpsertedAndListedByNodeWithFilterAndPaging) {
  auto repo = Open();
  ASSERT_NE(repo, nullptr);
  ASSERT_TRUE(
      repo->SaveVerdicts({Verdict("gpu-3", "verified", 10), Verdict("gpu-1", "contradicted", 10),
                          Verdict("gpu-2", "unverified", 10), Verdict("GPU-9", "verified", 10)},
                         std::nullopt)
          .ok());
  ASSERT_TRUE(repo->SaveVerdicts({Verdict("gpu-1", "verified", 20)}, std::nullopt).ok());
  auto all = repo->ListVerdicts("", "", 100);
  ASSERT_TRUE(all.ok()) << all.status();
  // Byte order: upper case first.
  EXPECT_THAT(Nodes(*all), ElementsAre("GPU-9", "gpu-1", "gpu-2", "gpu-3"));
  const StoredVerdict& v = (*all)[1];
  EXPECT_EQ(v.verdict, "verified");
  EXPECT_EQ(v.evaluated_at, T(20));
  EXPECT_EQ(v.location, Verdict("gpu-1", "verified", 20).location);
  EXPECT_EQ(v.disk_ids, "[1,2]");
  EXPECT_EQ(v.calibration, "{\"lm-a\":[3]}");
  EXPECT_EQ(v.params, "{\"fibre_km_per_ms\":200}");
  EXPECT_THAT(Nodes(*repo->ListVerdicts("verified", "", 100)),
              ElementsAre("GPU-9", "gpu-1", "gpu-3"));
  EXPECT_THAT(Nodes(*repo->ListVerdicts("verified", "GPU-9", 1)), ElementsAre("gpu-1"));
  EXPECT_THAT(Nodes(*repo->ListVerdicts("", "gpu-1", 100)), ElementsAre("gpu-2", "gpu-3"));
  EXPECT_THAT(*repo->ListVerdicts("", "gpu-3", 100), IsEmpty());
  EXPECT_THAT(*repo->ListVerdicts("", "", 0), IsEmpty());
  EXPECT_THAT(*repo->ListVerdicts("contradicted", "", 100), IsEmpty());
  EXPECT_EQ(repo->ListVerdicts("", "", std::numeric_limits<size_t>::max())->size(), 4u);
  auto bad = repo->ListVerdicts("maybe", "", 10);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("maybe"));

  // ReadVerdict: the node's row, or nothing.
  auto one = repo->ReadVerdict("gpu-1");
  ASSERT_TRUE(one.ok()) << one.status();
  ASSERT_TRUE(one->has_value());
  EXPECT_EQ((*one)->node_id, "gpu-1");
  EXPECT_EQ((*one)->verdict, "verified");
  EXPECT_EQ((*one)->evaluated_at, T(20));
  EXPECT_EQ((*one)->location, Verdict("gpu-1", "verified", 20).location);
  EXPECT_EQ((*one)->disk_ids, "[1,2]");
  EXPECT_EQ((*one)->calibration, "{\"lm-a\":[3]}");
  EXPECT_EQ((*one)->params, "{\"fibre_km_per_ms\":200}");
  auto none = repo->ReadVerdict("gpu-4");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->has_value());
  EXPECT_FALSE(repo->ReadVerdict("GPU-1")->has_value());  // ids are exact
  EXPECT_EQ(repo->ReadVerdict(std::string("gpu-1\0", 6)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(repo->ReadVerdict("").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_P(LocationTest, BadInputIsRefusedNamingTheFieldAndWritesNothing) {
  auto repo = Open();
  ASSERT_NE(repo, nullptr);
  auto expect_refused = [](const absl::Status& s, const std::string& names) {
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
    EXPECT_THAT(std::string(s.message()), HasSubstr(names));
  };
  const std::string oversize(kMaxLocationIdBytes + 1, 'x');
  const StoredNodeKey good_key{"gpu-1", "k", T(1), T(2), "stream"};
  expect_refused(repo->UpsertNodeKeys({good_key, {"", "k", T(1), T(2), "stream"}}), "node_id");
  expect_refused(repo->UpsertNodeKeys({{oversize, "k", T(1), T(2), "stream"}}), "node_id");
  expect_refused(repo->UpsertNodeKeys({{std::string("a\0b", 3), "k", T(1), T(2), "stream"}}),
                 "NUL");
  expect_refused(repo->UpsertNodeKeys({{"gpu-1", "", T(1), T(2), "stream"}}), "spki");
  expect_refused(repo->UpsertNodeKeys({{"gpu-1", "k", T(1), T(2), "agent"}}), "source");
  EXPECT_THAT(*repo->ListNodeKeys(), IsEmpty());  // the good key in the first call neither

  const StoredMeasurement good = Record("lm-a", 1, "gpu-1", 100);
  auto with = [&](auto change) {
    StoredMeasurement m = good;
    change(m);
    return repo->StoreLandmarkRecords(Call(1, {good, m})).status();
  };
  expect_refused(with([](StoredMeasurement& m) { m.landmark_id = ""; }), "landmark_id");
  expect_refused(with([&](StoredMeasurement& m) { m.target_id = oversize; }), "target_id");
  expect_refused(with([](StoredMeasurement& m) { m.target_kind = "rack"; }), "target_kind");
  expect_refused(with([](StoredMeasurement& m) { m.signature = ""; }), "signature");
  expect_refused(with([](StoredMeasurement& m) {
                   m.measurement = std::string(kMaxLocationBlobBytes + 1, 'm');
                 }),
                 "measurement");
  expect_refused(repo->StoreLandmarkRecords(Call(1, {good}, {{"lm-a", -1}})).status(), "negative");
  expect_refused(repo->StoreLandmarkRecords(Call(1, {good}, {{"", 1}})).status(), "landmark_id");
  expect_refused(repo->StoreLandmarkRecords(Call(1, std::vector<StoredMeasurement>(
                                                        kMaxLandmarkRecordsPerCall + 1, good)))
                     .status(),
                 "at most");
  EXPECT_THAT(*repo->ListMeasurementsSince(T(0)), IsEmpty());
  EXPECT_THAT(*repo->ListLandmarkStates(), IsEmpty());

  expect_refused(repo->SaveVerdicts({Verdict("gpu-1", "verified", 1), Verdict("", "verified", 1)},
                                    std::nullopt),
                 "node_id");
  expect_refused(repo->SaveVerdicts({Verdict("gpu-1", "", 1)}, std::nullopt), "verdict");
  expect_refused(repo->SaveVerdicts({Verdict("gpu-1", "probably", 1)}, std::nullopt), "probably");
  StoredVerdict nul = Verdict("gpu-1", "verified", 1);
  nul.disk_ids = std::string("[1\0]", 4);
  expect_refused(repo->SaveVerdicts({nul}, std::nullopt), "disk_ids");
  EXPECT_THAT(*repo->ListVerdicts("", "", 10), IsEmpty());
}

// SQLite has no ingest batch log: a save that brings the verdicts' events is refused whole.
TEST_P(LocationTest, SqliteRefusesVerdictEventsItCannotLog) {
  if (engine() != prov::testing::Engine::kSqlite) GTEST_SKIP() << "PgLocationTest logs them";
  auto repo = Open();
  ASSERT_NE(repo, nullptr);
  absl::Status s = repo->SaveVerdicts({Verdict("gpu-1", "contradicted", 1)}, std::nullopt,
                                      {absl::ToUnixMicros(T(1)), "events"});
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("batch log"));
  EXPECT_THAT(*repo->ListVerdicts("", "", 10), IsEmpty());
}

PROV_STORE_TEST_P(LocationTest);

// PostgreSQL only: replicas.
class PgLocationTest : public LocationTest {
 protected:
  std::unique_ptr<PgConn> Admin() {
    auto conn =
        PgConn::Connect(pg_conninfo(), {.application_name = "prov-test", .search_path = kPgSchema});
    EXPECT_TRUE(conn.ok()) << conn.status();
    return conn.ok() ? *std::move(conn) : nullptr;
  }
  int64_t TerminateLocationSessions() {
    auto admin = Admin();
    if (admin == nullptr) return -1;
    auto n = prov::testing::TerminateBackends(*admin, "application_name = 'provd/location'");
    EXPECT_TRUE(n.ok()) << n.status();
    return n.ok() ? *n : -1;
  }
};

// Two replicas receive the same landmark's records (seq 1..kSeqs in calls of 4; the second
// replica's calls start at seq 3, so each of its calls overlaps two of the first's): each seq is
// stored at most once, the other replica's copy is refused as a replay, the calls' answers match
// the table, and the state ends at the highest seq.
TEST_P(PgLocationTest, TwoSessionsStoringOneLandmarksRecordsAcceptEachSeqOnce) {
  constexpr uint64_t kSeqs = 160;
  auto a = Open();
  auto b = Open();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  auto run = [&](LocationRepository& repo, uint64_t start, int64_t* accepted, int64_t* refused,
                 absl::Status* error) {
    for (uint64_t first = start; first <= kSeqs; first += 4) {
      std::vector<StoredMeasurement> records;
      for (uint64_t seq = first; seq < first + 4 && seq <= kSeqs; ++seq) {
        records.push_back(Record("lm-a", seq, absl::StrCat("gpu-", seq % 7), 100 + seq));
      }
      auto r = repo.StoreLandmarkRecords(Call(static_cast<int64_t>(first), records));
      if (!r.ok()) {
        *error = r.status();
        return;
      }
      for (int64_t id : r->ids) ++(id > 0 ? *accepted : *refused);
    }
  };
  int64_t accepted_a = 0, refused_a = 0, accepted_b = 0, refused_b = 0;
  absl::Status error_a, error_b;
  std::thread ta([&] { run(*a, 1, &accepted_a, &refused_a, &error_a); });
  std::thread tb([&] { run(*b, 3, &accepted_b, &refused_b, &error_b); });
  ta.join();
  tb.join();
  ASSERT_TRUE(error_a.ok()) << error_a;
  ASSERT_TRUE(error_b.ok()) << error_b;
  auto rows = a->ListMeasurementsSince(T(0));
  ASSERT_TRUE(rows.ok()) << rows.status();
  const std::vector<uint64_t> seqs = Seqs(*rows);
  const int64_t stored = static_cast<int64_t>(seqs.size());
  const int64_t offered = 2 * static_cast<int64_t>(kSeqs) - 2;
  // Every seq at most once; stored in seq order (a replica never stored a seq below one already
  // stored: a record older than the landmark's newest is refused, like a replay).
  EXPECT_EQ(std::set<uint64_t>(seqs.begin(), seqs.end()).size(), seqs.size());
  EXPECT_TRUE(std::is_sorted(seqs.begin(), seqs.end()));
  // Seqs 3..kSeqs were offered by both replicas, each replica in increasing order, so one of the
  // two offers came before anything above it was stored: all of them are stored. Seqs 1 and 2
  // (offered by the first only) are lost when the second replica stored 3..6 first.
  std::set<uint64_t> want;
  for (uint64_t seq = 3; seq <= kSeqs; ++seq) want.insert(seq);
  std::set<uint64_t> got(seqs.begin(), seqs.end());
  got.erase(1);
  got.erase(2);
  EXPECT_EQ(got, want);
  // What the calls answered is what the table holds.
  EXPECT_EQ(accepted_a + accepted_b, stored);
  EXPECT_EQ(refused_a + refused_b, offered - stored);
  auto states = b->ListLandmarkStates();
  ASSERT_TRUE(states.ok()) << states.status();
  ASSERT_EQ(states->size(), 1u);
  EXPECT_EQ((*states)[0].last_seq, kSeqs);
  EXPECT_EQ((*states)[0].last_measured, T(100 + static_cast<int64_t>(kSeqs)));
  EXPECT_EQ((*states)[0].accepted, stored);
  EXPECT_EQ((*states)[0].refused, offered - stored);
}

// A second replica's call waits for the first's transaction (the advisory lock (PROV, 7)), seen
// in pg_locks, and then decides on what the first committed.
TEST_P(PgLocationTest, ASecondCallWaitsForTheLocationLockAndSeesTheFirstsRecords) {
  auto repo = Open();
  auto admin = Admin();
  ASSERT_NE(repo, nullptr);
  ASSERT_NE(admin, nullptr);
  ASSERT_TRUE(admin->Exec("BEGIN").ok());
  ASSERT_TRUE(
      admin->Query("SELECT pg_advisory_xact_lock($1::int, $2::int)", {kPgLockKey, kPgLocationLock})
          .ok());
  // What a first replica's call writes while holding the lock.
  ASSERT_TRUE(admin
                  ->Exec("INSERT INTO location_landmarks(landmark_id, last_seq, "
                         "last_measured_us, last_record_us, accepted, refused) "
                         "VALUES ('lm-a', 3, 0, 0, 3, 0)")
                  .ok());
  absl::StatusOr<LandmarkRecordsResult> result;
  std::thread t([&] {
    result = repo->StoreLandmarkRecords(
        Call(5, {Record("lm-a", 3, "gpu-1", 100), Record("lm-a", 4, "gpu-1", 101)}));
  });
  bool waiting = false;
  for (int i = 0; i < 500 && !waiting; ++i) {
    auto r = admin->Query(
        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE "
        "l.locktype = 'advisory' AND NOT l.granted AND l.objid = 7 AND "
        "a.application_name = 'provd/location'");
    ASSERT_TRUE(r.ok()) << r.status();
    waiting = r->Text(0, 0) == "1";
    if (!waiting) absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_TRUE(waiting);
  ASSERT_TRUE(admin->Exec("COMMIT").ok());
  t.join();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->ids[0], 0);  // seq 3 was committed by the "first replica"
  EXPECT_GT(result->ids[1], 0);
  EXPECT_EQ(result->states[0].last_seq, 4u);
  EXPECT_EQ(result->states[0].accepted, 4);
  EXPECT_EQ(result->states[0].refused, 1);
}

// A replica that led term 1 was deposed (term 2 began elsewhere) before it noticed: its verdicts
// are not saved, so it reports none; the successor's save in term 2 lands.
TEST_P(PgLocationTest, ADeposedLeadersVerdictsAreNotSaved) {
  auto old_leader = Open();
  auto new_leader = Open();
  ASSERT_TRUE(old_leader && new_leader);
  ASSERT_TRUE(
      RawExec("INSERT INTO leader(id, term, holder, since_us) VALUES (1, 1, 'provd-a', 0)").ok());
  ASSERT_TRUE(old_leader->SaveVerdicts({Verdict("gpu-1", "verified", 1)}, 1).ok());
  ASSERT_TRUE(RawExec("UPDATE leader SET term = 2, holder = 'provd-b' WHERE id = 1").ok());
  absl::Status stale = old_leader->SaveVerdicts(
      {Verdict("gpu-1", "contradicted", 2), Verdict("gpu-2", "contradicted", 2)}, 1);
  EXPECT_TRUE(absl::IsFailedPrecondition(stale)) << stale;
  EXPECT_THAT(std::string(stale.message()), HasSubstr("term 2"));
  auto all = new_leader->ListVerdicts("", "", 10);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_THAT(Nodes(*all), ElementsAre("gpu-1"));
  EXPECT_EQ((*all)[0].verdict, "verified");
  ASSERT_TRUE(new_leader->SaveVerdicts({Verdict("gpu-2", "contradicted", 2)}, 2).ok());
  EXPECT_THAT(Nodes(*new_leader->ListVerdicts("", "", 10)), ElementsAre("gpu-1", "gpu-2"));
}

// The verdicts' events go into the ingest batch log in the verdicts' own transaction: the
// leader's feed reads exactly the events of the verdicts that were saved, and a deposed leader's
// save logs nothing. (LocationHub hands them on this way on PostgreSQL; before, a leader that died
// between its save and its forward left the successor believing the change was reported.)
TEST_P(PgLocationTest, VerdictEventsAreLoggedInTheVerdictsTransaction) {
  auto repo = Open();
  ASSERT_NE(repo, nullptr);
  auto reader = PgIngestBatchReader::Open(pg_conninfo());
  ASSERT_TRUE(reader.ok()) << reader.status();
  ASSERT_TRUE(
      RawExec("INSERT INTO leader(id, term, holder, since_us) VALUES (1, 1, 'provd-a', 0)").ok());
  const std::string record("events\0\xff of gpu-1", 17);
  ASSERT_TRUE(repo->SaveVerdicts({Verdict("gpu-1", "contradicted", 1)}, 1,
                                 {absl::ToUnixMicros(T(1)), record})
                  .ok());
  auto read = (*reader)->Read(IngestPosition{}, 10);
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->batches.size(), 1u);
  EXPECT_EQ(read->batches[0].record, record);
  EXPECT_EQ(read->batches[0].received_us, absl::ToUnixMicros(T(1)));
  EXPECT_EQ(read->batches[0].reports, 0);
  // Deposed: neither the verdict nor its events.
  ASSERT_TRUE(RawExec("UPDATE leader SET term = 2, holder = 'provd-b' WHERE id = 1").ok());
  absl::Status stale = repo->SaveVerdicts({Verdict("gpu-2", "contradicted", 2)}, 1,
                                          {absl::ToUnixMicros(T(2)), "events of gpu-2"});
  EXPECT_TRUE(absl::IsFailedPrecondition(stale)) << stale;
  auto after = (*reader)->Read(read->position, 10);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_THAT(after->batches, IsEmpty());
  EXPECT_THAT(Nodes(*repo->ListVerdicts("", "", 10)), ElementsAre("gpu-1"));
  // Events with no verdict row to change are still logged.
  ASSERT_TRUE(repo->SaveVerdicts({}, 2, {absl::ToUnixMicros(T(3)), "events only"}).ok());
  after = (*reader)->Read(read->position, 10);
  ASSERT_TRUE(after.ok()) << after.status();
  ASSERT_EQ(after->batches.size(), 1u);
  EXPECT_EQ(after->batches[0].record, "events only");
}

TEST_P(PgLocationTest, EveryCallReconnectsAfterTheSessionWasTerminated) {
  auto repo = Open();
  ASSERT_NE(repo, nullptr);
  ASSERT_EQ(TerminateLocationSessions(), 1);
  ASSERT_TRUE(repo->UpsertNodeKeys({{"gpu-1", "k", T(1), T(2), "stream"}}).ok());
  ASSERT_EQ(TerminateLocationSessions(), 1);
  auto stored = repo->StoreLandmarkRecords(Call(1, {Record("lm-a", 1, "gpu-1", 100)}));
  ASSERT_TRUE(stored.ok()) << stored.status();
  ASSERT_EQ(TerminateLocationSessions(), 1);
  ASSERT_TRUE(repo->SaveVerdicts({Verdict("gpu-1", "verified", 1)}, std::nullopt).ok());
  ASSERT_EQ(TerminateLocationSessions(), 1);
  EXPECT_EQ(repo->ListNodeKeys()->size(), 1u);
  ASSERT_EQ(TerminateLocationSessions(), 1);
  EXPECT_THAT(Ids(*repo->ReadMeasurements(stored->ids)), ElementsAre(stored->ids[0]));
  ASSERT_EQ(TerminateLocationSessions(), 1);
  EXPECT_EQ(repo->ListLandmarkStates()->size(), 1u);
  ASSERT_EQ(TerminateLocationSessions(), 1);
  EXPECT_EQ(repo->ListVerdicts("", "", 10)->size(), 1u);
  ASSERT_EQ(TerminateLocationSessions(), 1);
  EXPECT_EQ(repo->ListNewestMeasurements(T(0))->size(), 1u);
  ASSERT_EQ(TerminateLocationSessions(), 1);
  EXPECT_EQ(repo->ListMeasurementsSince(T(0))->size(), 1u);
  ASSERT_EQ(TerminateLocationSessions(), 1);
  EXPECT_THAT(*repo->ListLocationNodes(), IsEmpty());
}

INSTANTIATE_TEST_SUITE_P(Engines, PgLocationTest,
                         ::testing::Values(prov::testing::Engine::kPostgres),
                         [](const auto& info) { return prov::testing::EngineName(info.param); });

}  // namespace
}  // namespace prov::server
