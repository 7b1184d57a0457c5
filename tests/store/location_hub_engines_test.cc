// LocationHub over each engine's LocationRepository, as two replicas sharing one database: real
// Ed25519-signed calibration records (lm-fra measuring lm-par) submitted to both hubs are stored
// once, the second hub answers the copy as a replay (the store's check: its book had not seen
// the record), and a restarted hub reloads the landmark states and the records.
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "common/testing/fake_clock.h"
#include "gtest/gtest.h"
#include "server/location/location_config.h"
#include "server/location/location_hub.h"
#include "server/store/pg/pg_location.h"
#include "server/store/sqlite/sqlite_location.h"
#include "tests/server/location_fixture.h"
#include "tests/store/store_fixture.h"

namespace prov::server::location {
namespace {

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
  std::unique_ptr<LocationHub> Hub() {
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
    auto hub = LocationHub::Start(std::move(o));
    EXPECT_TRUE(hub.ok()) << hub.status();
    return hub.ok() ? *std::move(hub) : nullptr;
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

PROV_STORE_TEST_P(LocationHubEnginesTest);

}  // namespace
}  // namespace prov::server::location
