// The alert notifier on each engine's AlertDeliveryRepository: a resolution owed when provd
// stops is delivered after a restart, from SQLite or from PostgreSQL alike.
#include <memory>
#include <string>
#include <vector>

#include "common/testing/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/alerting/alert_notifier.h"
#include "server/store/pg/pg_alert_deliveries.h"
#include "server/store/sqlite/sqlite_alert_deliveries.h"
#include "tests/alerting/fake_alerting.h"
#include "tests/store/store_fixture.h"

namespace prov::server {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using namespace provenance::v1;

const absl::Time kT0 = absl::FromUnixSeconds(1764000000);
constexpr char kAm[] = "http://am-1:9093";

Flag MakeFlag(const std::string& id, FlagStatus status) {
  Flag f;
  f.set_flag_id(id);
  f.set_rule("compute_tier:tier-1e20");
  f.set_subject("bundle:B-1");
  f.set_bundle_id("B-1");
  f.set_severity(SEVERITY_HIGH);
  f.set_status(status);
  f.add_accounts("acme");
  f.add_datacenters("dc-east");
  f.mutable_raised_at()->set_seconds(absl::ToUnixSeconds(kT0) - 60);
  f.set_revision(1);
  return f;
}

class AlertNotifierEnginesTest : public prov::testing::StoreTest {
 protected:
  std::unique_ptr<AlertNotifier> Make() {
    absl::StatusOr<std::unique_ptr<AlertDeliveryRepository>> deliveries;
    if (engine() == prov::testing::Engine::kSqlite) {
      deliveries = SqliteAlertDeliveryRepository::Open(sqlite_path());
    } else {
      deliveries = PgAlertDeliveryRepository::Open(pg_conninfo());
    }
    EXPECT_TRUE(deliveries.ok()) << deliveries.status();
    if (!deliveries.ok()) return nullptr;
    AlertNotifierOptions o;
    o.alertmanager_urls = {kAm};
    o.min_severity = SEVERITY_HIGH;
    o.clock = &clock_;
    auto source = std::make_unique<testing::FakeFlagSource>(SEVERITY_HIGH);
    for (const auto& [id, f] : flags_) source->Set(f);
    source_ = source.get();
    auto n = AlertNotifier::Create(std::move(o), std::move(source),
                                   std::make_unique<testing::FakeAlertPoster>(posts_),
                                   *std::move(deliveries));
    EXPECT_TRUE(n.ok()) << n.status();
    return n.ok() ? *std::move(n) : nullptr;
  }
  // "F-1:firing" / "F-1:resolved" for each alert of every post since the last call.
  std::vector<std::string> Posted() {
    absl::MutexLock lock(&posts_->mu);
    std::vector<std::string> out;
    for (const auto& p : posts_->posts) {
      for (const auto& a : p.alerts) {
        const bool resolved = a["endsAt"].get<std::string>() <= Rfc3339(clock_.Now());
        out.push_back(a["labels"]["flag_id"].get<std::string>() +
                      (resolved ? ":resolved" : ":firing"));
      }
    }
    posts_->posts.clear();
    return out;
  }
  void Fail(bool down) {
    absl::MutexLock lock(&posts_->mu);
    if (down) {
      posts_->fail[kAm] = absl::UnavailableError("down");
    } else {
      posts_->fail.erase(kAm);
    }
  }

  FakeClock clock_{kT0};
  std::shared_ptr<testing::FakeAlertPoster::State> posts_ =
      std::make_shared<testing::FakeAlertPoster::State>();
  std::map<std::string, Flag> flags_;
  testing::FakeFlagSource* source_ = nullptr;
};

TEST_P(AlertNotifierEnginesTest, AResolutionOwedAtShutdownIsDeliveredAfterRestart) {
  flags_["F-1"] = MakeFlag("F-1", FLAG_STATUS_OPEN);
  {
    auto n = Make();
    ASSERT_NE(n, nullptr);
    n->Poll();
    EXPECT_THAT(Posted(), ElementsAre("F-1:firing"));
    Fail(true);
    source_->Set(MakeFlag("F-1", FLAG_STATUS_RESOLVED));
    n->Poll();
    EXPECT_EQ(n->stats().resolutions_pending, 1u);
  }
  flags_["F-1"] = MakeFlag("F-1", FLAG_STATUS_RESOLVED);
  Fail(false);
  clock_.Advance(absl::Minutes(10));
  {
    auto n = Make();
    ASSERT_NE(n, nullptr);
    EXPECT_EQ(n->stats().firing, 1u);  // read back from alert_deliveries
    n->Poll();
    EXPECT_THAT(Posted(), ElementsAre("F-1:resolved"));
    EXPECT_EQ(n->stats().resolutions_pending, 0u);
  }
  {
    auto n = Make();
    ASSERT_NE(n, nullptr);
    EXPECT_EQ(n->stats().firing, 0u);
    n->Poll();
    EXPECT_THAT(Posted(), IsEmpty());  // delivered once, never again
  }
}

PROV_STORE_TEST_P(AlertNotifierEnginesTest);

}  // namespace
}  // namespace prov::server
