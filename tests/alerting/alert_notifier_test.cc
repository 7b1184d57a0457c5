// AlertNotifier with a fake flag source, a fake poster and a fake clock, on a real SQLite file:
// firing set, resend, minimum severity, resolution on case close, retry with backoff, HA
// receivers, label changes, 4xx rejections, and resolutions that survive a restart.
#include "server/alerting/alert_notifier.h"

#include "common/testing/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/store/sqlite/sqlite_alert_deliveries.h"
#include "tests/alerting/fake_alerting.h"
#include "tests/server/temp_dir.h"

namespace prov::server {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;
using namespace provenance::v1;

const absl::Time kT0 = absl::FromUnixSeconds(1764000000);
constexpr char kAm1[] = "http://am-1:9093";
constexpr char kAm2[] = "http://am-2:9093";

Flag MakeFlag(const std::string& id, Severity severity, FlagStatus status = FLAG_STATUS_OPEN,
              std::vector<std::string> accounts = {"acme"}) {
  Flag f;
  f.set_flag_id(id);
  f.set_rule("compute_tier:tier-1e20");
  f.set_subject("bundle:B-1");
  f.set_bundle_id("B-1");
  f.set_severity(severity);
  f.set_status(status);
  f.set_summary("Bundle B-1 crossed 1e20 FLOP");
  for (auto& a : accounts) f.add_accounts(a);
  f.add_datacenters("dc-east");
  f.mutable_raised_at()->set_seconds(absl::ToUnixSeconds(kT0) - 60);
  f.set_revision(1);
  return f;
}

class AlertNotifierTest : public ::testing::Test {
 protected:
  std::unique_ptr<AlertNotifier> Make(std::vector<std::string> urls = {kAm1}) {
    AlertNotifierOptions o;
    o.alertmanager_urls = std::move(urls);
    o.min_severity = SEVERITY_HIGH;
    o.resend_interval = absl::Minutes(1);
    o.initial_backoff = absl::Seconds(1);
    o.max_backoff = absl::Seconds(8);
    o.content = {.dashboard_url = "http://provd.example:8080/", .runbook_url = "http://rb"};
    o.clock = &clock_;
    auto source = std::make_unique<testing::FakeFlagSource>(SEVERITY_HIGH);
    source_ = source.get();
    for (const auto& [id, f] : flags_) source_->Set(f);
    auto deliveries = SqliteAlertDeliveryRepository::Open(dir_.path() + "/provd.db");
    EXPECT_TRUE(deliveries.ok()) << deliveries.status();
    if (!deliveries.ok()) return nullptr;
    auto n = AlertNotifier::Create(std::move(o), std::move(source),
                                   std::make_unique<testing::FakeAlertPoster>(posts_),
                                   *std::move(deliveries));
    EXPECT_TRUE(n.ok()) << n.status();
    return n.ok() ? *std::move(n) : nullptr;
  }
  void Set(const Flag& f) {
    flags_[f.flag_id()] = f;
    if (source_ != nullptr) source_->Set(f);
  }
  std::vector<testing::RecordedPost> TakePosts() {
    absl::MutexLock lock(&posts_->mu);
    return std::exchange(posts_->posts, {});
  }
  void Fail(const std::string& url, absl::Status s) {
    absl::MutexLock lock(&posts_->mu);
    posts_->fail[url] = std::move(s);
  }
  void Heal(const std::string& url) {
    absl::MutexLock lock(&posts_->mu);
    posts_->fail.erase(url);
  }
  uint64_t Attempts() {
    absl::MutexLock lock(&posts_->mu);
    return posts_->attempts;
  }
  // "F-1:firing" / "F-1:resolved" for each alert of a post (resolved: endsAt <= now).
  std::vector<std::string> Summary(const testing::RecordedPost& p) {
    std::vector<std::string> out;
    for (const auto& a : p.alerts) {
      const bool resolved = a["endsAt"].get<std::string>() <= Rfc3339(clock_.Now());
      out.push_back(a["labels"]["flag_id"].get<std::string>() +
                    (resolved ? ":resolved" : ":firing"));
    }
    return out;
  }

  server::testing::TempDir dir_;
  FakeClock clock_{kT0};
  std::shared_ptr<testing::FakeAlertPoster::State> posts_ =
      std::make_shared<testing::FakeAlertPoster::State>();
  std::map<std::string, Flag> flags_;
  testing::FakeFlagSource* source_ = nullptr;
};

TEST_F(AlertNotifierTest, PostsFlagsAtOrAboveTheMinimumWithLabelsAndAnnotations) {
  Set(MakeFlag("F-1", SEVERITY_CRITICAL));
  Set(MakeFlag("F-2", SEVERITY_HIGH, FLAG_STATUS_ACKNOWLEDGED));
  Set(MakeFlag("F-3", SEVERITY_MEDIUM));                          // below the minimum
  Set(MakeFlag("F-4", SEVERITY_CRITICAL, FLAG_STATUS_RESOLVED));  // never fired here: not sent
  auto n = Make();
  n->Poll();
  auto posts = TakePosts();
  ASSERT_THAT(posts, SizeIs(1));
  EXPECT_EQ(posts[0].url, kAm1);
  EXPECT_THAT(Summary(posts[0]), UnorderedElementsAre("F-1:firing", "F-2:firing"));
  const auto& a =
      posts[0].alerts[0]["labels"]["flag_id"] == "F-1" ? posts[0].alerts[0] : posts[0].alerts[1];
  EXPECT_EQ(a["labels"]["alertname"], "ProvenanceFlag");
  EXPECT_EQ(a["labels"]["severity"], "critical");
  EXPECT_EQ(a["labels"]["rule"], "compute_tier:tier-1e20");
  EXPECT_EQ(a["labels"]["bundle"], "B-1");
  EXPECT_EQ(a["labels"]["accounts"], "acme");
  EXPECT_EQ(a["labels"]["datacenters"], "dc-east");
  EXPECT_EQ(a["annotations"]["flag_url"], "http://provd.example:8080/#/flag/F-1");
  EXPECT_EQ(a["annotations"]["runbook_url"], "http://rb");
  EXPECT_EQ(a["annotations"]["case_status"], "open");
  EXPECT_EQ(a["generatorURL"], "http://provd.example:8080/#/flag/F-1");
  EXPECT_EQ(a["startsAt"], Rfc3339(kT0 - absl::Minutes(1)));
  EXPECT_EQ(a["endsAt"], Rfc3339(kT0 + absl::Minutes(4)));  // 4 resend intervals
  EXPECT_EQ(n->stats().firing, 2u);
}

TEST_F(AlertNotifierTest, ResendsEveryIntervalAndPostsChangesAtOnce) {
  Set(MakeFlag("F-1", SEVERITY_HIGH));
  auto n = Make();
  n->Poll();
  EXPECT_THAT(TakePosts(), SizeIs(1));
  clock_.Advance(absl::Seconds(30));
  n->Poll();
  EXPECT_THAT(TakePosts(), IsEmpty());  // not due yet
  // More evidence on the same flag is not urgent...
  Flag more = MakeFlag("F-1", SEVERITY_HIGH);
  more.set_revision(2);
  Set(more);
  n->Poll();
  EXPECT_THAT(TakePosts(), IsEmpty());
  // ...a new flag is.
  Set(MakeFlag("F-2", SEVERITY_HIGH));
  n->Poll();
  auto posts = TakePosts();
  ASSERT_THAT(posts, SizeIs(1));
  EXPECT_THAT(Summary(posts[0]), UnorderedElementsAre("F-1:firing", "F-2:firing"));
  clock_.Advance(absl::Seconds(60));
  n->Poll();
  posts = TakePosts();
  ASSERT_THAT(posts, SizeIs(1));
  EXPECT_EQ(posts[0].alerts[0]["endsAt"], Rfc3339(clock_.Now() + absl::Minutes(4)));
  EXPECT_EQ(posts[0].alerts[0]["annotations"]["revision"], "2");
}

TEST_F(AlertNotifierTest, ResolvesOnceWhenTheCaseIsClosed) {
  Set(MakeFlag("F-1", SEVERITY_HIGH));
  Set(MakeFlag("F-2", SEVERITY_HIGH));
  auto n = Make();
  n->Poll();
  TakePosts();
  clock_.Advance(absl::Seconds(5));
  Set(MakeFlag("F-1", SEVERITY_HIGH, FLAG_STATUS_ACKNOWLEDGED));  // case status: posted at once
  n->Poll();
  auto posts = TakePosts();
  ASSERT_THAT(posts, SizeIs(1));
  EXPECT_THAT(Summary(posts[0]), UnorderedElementsAre("F-1:firing", "F-2:firing"));
  clock_.Advance(absl::Seconds(5));
  Set(MakeFlag("F-1", SEVERITY_HIGH, FLAG_STATUS_RESOLVED));
  n->Poll();
  posts = TakePosts();
  ASSERT_THAT(posts, SizeIs(1));
  EXPECT_THAT(Summary(posts[0]), UnorderedElementsAre("F-1:resolved", "F-2:firing"));
  for (const auto& a : posts[0].alerts) {
    if (a["labels"]["flag_id"] != "F-1") continue;
    EXPECT_EQ(a["endsAt"], Rfc3339(clock_.Now()));
    EXPECT_EQ(a["startsAt"], Rfc3339(kT0 - absl::Minutes(1)));
    EXPECT_EQ(a["annotations"]["case_status"], "resolved");
  }
  EXPECT_EQ(n->stats().resolutions_pending, 0u);
  clock_.Advance(absl::Minutes(1));
  n->Poll();
  posts = TakePosts();
  ASSERT_THAT(posts, SizeIs(1));
  EXPECT_THAT(Summary(posts[0]), ElementsAre("F-2:firing"));  // resolved once, not again
}

TEST_F(AlertNotifierTest, SeverityBelowTheMinimumOrAVanishedFlagResolves) {
  Set(MakeFlag("F-1", SEVERITY_HIGH));
  Set(MakeFlag("F-2", SEVERITY_HIGH));
  auto n = Make();
  n->Poll();
  TakePosts();
  Set(MakeFlag("F-1", SEVERITY_MEDIUM));
  source_->Remove("F-2");
  clock_.Advance(absl::Minutes(1));
  n->Poll();
  auto posts = TakePosts();
  ASSERT_THAT(posts, SizeIs(1));
  EXPECT_THAT(Summary(posts[0]), UnorderedElementsAre("F-1:resolved", "F-2:resolved"));
}

TEST_F(AlertNotifierTest, ChangedLabelsResolveTheOldLabelSet) {
  Set(MakeFlag("F-1", SEVERITY_HIGH, FLAG_STATUS_OPEN, {"acme"}));
  auto n = Make();
  n->Poll();
  TakePosts();
  Set(MakeFlag("F-1", SEVERITY_HIGH, FLAG_STATUS_OPEN, {"acme", "shell-b"}));
  n->Poll();
  auto posts = TakePosts();
  ASSERT_THAT(posts, SizeIs(1));
  ASSERT_THAT(posts[0].alerts, SizeIs(2));
  EXPECT_EQ(posts[0].alerts[0]["labels"]["accounts"], "acme,shell-b");
  EXPECT_GT(posts[0].alerts[0]["endsAt"].get<std::string>(), Rfc3339(clock_.Now()));
  EXPECT_EQ(posts[0].alerts[1]["labels"]["accounts"], "acme");
  EXPECT_EQ(posts[0].alerts[1]["endsAt"], Rfc3339(clock_.Now()));
}

TEST_F(AlertNotifierTest, ASupersededLabelSetIsDroppedOnceAlertmanagerExpiredItAnyway) {
  Set(MakeFlag("F-1", SEVERITY_HIGH, FLAG_STATUS_OPEN, {"acme"}));
  auto n = Make();
  n->Poll();
  TakePosts();
  Fail(kAm1, absl::UnavailableError("down"));
  Set(MakeFlag("F-1", SEVERITY_HIGH, FLAG_STATUS_OPEN, {"acme", "shell-b"}));
  n->Poll();
  EXPECT_EQ(n->stats().resolutions_pending, 1u);
  // Down for longer than the last endsAt posted for {accounts="acme"} (4 minutes ahead).
  for (int i = 0; i < 40; ++i) {
    clock_.Advance(absl::Seconds(8));
    n->Poll();
  }
  EXPECT_EQ(n->stats().resolutions_pending, 0u);
  Heal(kAm1);
  clock_.Advance(absl::Seconds(8));
  n->Poll();
  auto posts = TakePosts();
  ASSERT_THAT(posts, SizeIs(1));
  ASSERT_THAT(posts[0].alerts, SizeIs(1));
  EXPECT_EQ(posts[0].alerts[0]["labels"]["accounts"], "acme,shell-b");
}

TEST_F(AlertNotifierTest, RetriesWithBackoffAndDeliversWhatHappenedMeanwhile) {
  Set(MakeFlag("F-1", SEVERITY_HIGH));
  Fail(kAm1, absl::UnavailableError("connection refused"));
  auto n = Make();
  n->Poll();
  EXPECT_EQ(Attempts(), 1u);
  // Backoff 1 s, 2 s, 4 s, 8 s, 8 s (max_backoff).
  for (absl::Duration step :
       {absl::Seconds(1), absl::Seconds(2), absl::Seconds(4), absl::Seconds(8), absl::Seconds(8)}) {
    clock_.Advance(step - absl::Milliseconds(1));
    n->Poll();
    const uint64_t before = Attempts();
    clock_.Advance(absl::Milliseconds(1));
    n->Poll();
    EXPECT_EQ(Attempts(), before + 1) << step;
  }
  EXPECT_EQ(n->stats().posts_failed, 6u);
  // While down: the case closes and another flag appears. Neither is lost.
  Set(MakeFlag("F-1", SEVERITY_HIGH, FLAG_STATUS_RESOLVED));
  Set(MakeFlag("F-2", SEVERITY_CRITICAL));
  n->Poll();  // still in backoff: no attempt
  EXPECT_EQ(Attempts(), 6u);
  Heal(kAm1);
  clock_.Advance(absl::Seconds(8));
  n->Poll();
  auto posts = TakePosts();
  ASSERT_THAT(posts, SizeIs(1));
  EXPECT_THAT(Summary(posts[0]), UnorderedElementsAre("F-1:resolved", "F-2:firing"));
  EXPECT_EQ(n->stats().resolutions_pending, 0u);
}

TEST_F(AlertNotifierTest, EachAlertmanagerOfAPairGetsEverythingAndIsRetriedAlone) {
  Set(MakeFlag("F-1", SEVERITY_HIGH));
  auto n = Make({kAm1, kAm2});
  n->Poll();
  auto posts = TakePosts();
  ASSERT_THAT(posts, SizeIs(2));
  EXPECT_EQ(posts[0].url, kAm1);
  EXPECT_EQ(posts[1].url, kAm2);
  Fail(kAm2, absl::UnavailableError("down"));
  Set(MakeFlag("F-1", SEVERITY_HIGH, FLAG_STATUS_RESOLVED));
  n->Poll();
  posts = TakePosts();
  ASSERT_THAT(posts, SizeIs(1));  // am-1 took it; am-2 failed
  EXPECT_THAT(Summary(posts[0]), ElementsAre("F-1:resolved"));
  EXPECT_EQ(n->stats().resolutions_pending, 1u);  // owed to am-2
  Heal(kAm2);
  clock_.Advance(absl::Seconds(1));
  n->Poll();
  posts = TakePosts();
  ASSERT_THAT(posts, SizeIs(1));
  EXPECT_EQ(posts[0].url, kAm2);
  EXPECT_THAT(Summary(posts[0]), ElementsAre("F-1:resolved"));
  EXPECT_EQ(n->stats().resolutions_pending, 0u);
}

TEST_F(AlertNotifierTest, RejectedBatchesAreCountedNotRetried) {
  Set(MakeFlag("F-1", SEVERITY_HIGH));
  Fail(kAm1, absl::InvalidArgumentError("HTTP 400: bad alert"));
  auto n = Make();
  n->Poll();
  EXPECT_EQ(n->stats().posts_rejected, 1u);
  clock_.Advance(absl::Seconds(30));
  n->Poll();
  EXPECT_EQ(Attempts(), 1u);  // next try is the regular resend, not a backoff retry
  clock_.Advance(absl::Seconds(30));
  n->Poll();
  EXPECT_EQ(Attempts(), 2u);
}

TEST_F(AlertNotifierTest, AResolutionOwedAtShutdownIsDeliveredAfterRestart) {
  Set(MakeFlag("F-1", SEVERITY_HIGH));
  Set(MakeFlag("F-2", SEVERITY_HIGH));
  {
    auto n = Make();
    n->Poll();  // both fire
    TakePosts();
    Fail(kAm1, absl::UnavailableError("down"));
    Set(MakeFlag("F-1", SEVERITY_HIGH, FLAG_STATUS_RESOLVED));
    n->Poll();
    EXPECT_EQ(n->stats().resolutions_pending, 1u);
  }
  // provd restarts; the case of F-2 is closed while it is down.
  flags_["F-2"] = MakeFlag("F-2", SEVERITY_HIGH, FLAG_STATUS_RESOLVED);
  Heal(kAm1);
  clock_.Advance(absl::Minutes(10));
  {
    auto n = Make();
    EXPECT_EQ(n->stats().firing, 2u);  // from alert_deliveries
    n->Poll();
    auto posts = TakePosts();
    ASSERT_THAT(posts, SizeIs(1));
    EXPECT_THAT(Summary(posts[0]), UnorderedElementsAre("F-1:resolved", "F-2:resolved"));
    EXPECT_EQ(n->stats().resolutions_pending, 0u);
  }
  // Delivered resolutions are not sent again after another restart.
  {
    auto n = Make();
    EXPECT_EQ(n->stats().firing, 0u);
    n->Poll();
    auto posts = TakePosts();
    ASSERT_THAT(posts, SizeIs(1));
    EXPECT_THAT(posts[0].alerts, IsEmpty());  // "[]": only a health check
  }
}

TEST_F(AlertNotifierTest, AReopenedCaseFiresAgain) {
  Set(MakeFlag("F-1", SEVERITY_HIGH));
  auto n = Make();
  n->Poll();
  Set(MakeFlag("F-1", SEVERITY_HIGH, FLAG_STATUS_RESOLVED));
  n->Poll();
  TakePosts();
  Set(MakeFlag("F-1", SEVERITY_HIGH, FLAG_STATUS_ESCALATED));
  n->Poll();
  auto posts = TakePosts();
  ASSERT_THAT(posts, SizeIs(1));
  EXPECT_THAT(Summary(posts[0]), ElementsAre("F-1:firing"));
  EXPECT_EQ(posts[0].alerts[0]["annotations"]["case_status"], "escalated");
}

TEST_F(AlertNotifierTest, LargeFiringSetsGoInBatches) {
  for (int i = 0; i < 1203; ++i) Set(MakeFlag("F-" + std::to_string(i), SEVERITY_HIGH));
  auto n = Make();
  n->Poll();
  auto posts = TakePosts();
  ASSERT_THAT(posts, SizeIs(3));
  EXPECT_THAT(posts[0].alerts, SizeIs(500));
  EXPECT_THAT(posts[2].alerts, SizeIs(203));
}

TEST(AlertNotifierOptionsTest, BadOptionsNameTheOption) {
  FakeClock clock;
  AlertNotifierOptions o;
  o.clock = &clock;
  EXPECT_THAT(std::string(ValidateAlertNotifierOptions(o).message()),
              ::testing::HasSubstr("alertmanager_urls"));
  o.alertmanager_urls = {"am:9093"};
  EXPECT_THAT(std::string(ValidateAlertNotifierOptions(o).message()),
              ::testing::HasSubstr("http://"));
  o.alertmanager_urls = {"http://am:9093/prefix/"};
  EXPECT_TRUE(ValidateAlertNotifierOptions(o).ok());
  o.resend_interval = absl::ZeroDuration();
  EXPECT_THAT(std::string(ValidateAlertNotifierOptions(o).message()),
              ::testing::HasSubstr("resend_interval"));
}

}  // namespace
}  // namespace prov::server
