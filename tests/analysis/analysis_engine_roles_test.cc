// AnalysisEngine roles (analysis_engine.h) where the order of events matters, steered by holding
// the engine thread inside a store load (test_analysis_facts.h): queued Reloads coalesce, a Follow
// that comes during a Lead's reload leaves a follower, a Lead whose reload failed is reported to
// WaitLeadPosition and retried on the tick, logged batches queued before a Lead are not applied
// after its reload, a logged batch saves its position even when it changed nothing, and a
// follower's identity snapshot is applied again after a reload. Both
// engines' stores: tests/store/analysis_roles_test.cc.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/testing/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/analysis/analysis_engine.h"
#include "server/analysis/analysis_metrics.h"
#include "tests/analysis/analysis_test_util.h"
#include "tests/analysis/test_analysis_facts.h"
#include "tests/server/temp_dir.h"

namespace prov::server {
namespace {

using namespace testing;  // NOLINT: test builders

class EngineRolesTest : public ::testing::Test {
 protected:
  std::unique_ptr<AnalysisEngine> StartEngine(bool lead, absl::Duration tick = absl::Seconds(5)) {
    AnalysisEngine::Options o;
    o.clock = &clock_;
    o.policy = TestPolicy();
    o.tick = tick;
    o.lead_at_start = lead;
    o.open_store = [this] { return TestAnalysisStore(dir_.path() + "/provd.db", shared_); };
    auto e = AnalysisEngine::Start(std::move(o));
    EXPECT_TRUE(e.ok()) << e.status();
    return e.ok() ? *std::move(e) : nullptr;
  }
  static bool HasNode(const AnalysisEngine& e, const std::string& node) {
    return e.Read([&](const Analyzer& a) { return a.node(node) != nullptr; });
  }
  static double Metric(const AnalysisEngine& e, const std::string& name) {
    AnalysisCollector collector(const_cast<AnalysisEngine&>(e));
    for (const auto& family : collector.Collect()) {
      if (family.name != name || family.metric.empty()) continue;
      const auto& m = family.metric[0];
      return family.type == prometheus::MetricType::Gauge ? m.gauge.value : m.counter.value;
    }
    return -1;
  }

  server::testing::TempDir dir_;
  FakeClock clock_{kT0};
  TestAnalysisFacts::Shared shared_;
};

TEST_F(EngineRolesTest, ReloadsQueuedDuringAReloadCoalesceIntoOne) {
  auto e = StartEngine(/*lead=*/false);
  ASSERT_NE(e, nullptr);
  ASSERT_EQ(shared_.Loads(), 1);  // Start's
  shared_.HoldLoads();
  e->Reload();
  ASSERT_TRUE(shared_.WaitForHeldLoad());  // the engine thread is inside the first reload
  e->Reload();
  e->Reload();
  e->Reload();
  shared_.ReleaseLoads();
  e->Flush();
  EXPECT_EQ(e->counters().reloads, 2u);
  EXPECT_EQ(shared_.Loads(), 3);
}

TEST_F(EngineRolesTest, AFollowDuringALeadsReloadLeavesAFollower) {
  auto e = StartEngine(/*lead=*/false);
  ASSERT_NE(e, nullptr);
  shared_.HoldLoads();
  e->Lead(1);
  ASSERT_TRUE(shared_.WaitForHeldLoad());
  e->Follow();
  auto position = e->WaitLeadPosition(absl::Seconds(1));
  EXPECT_TRUE(absl::IsCancelled(position.status())) << position.status();
  shared_.ReleaseLoads();
  e->Flush();
  EXPECT_FALSE(e->leading());
  e->Submit({Node("n-1", "dc-east", "us-east", kT0)});
  e->Flush();
  EXPECT_EQ(e->counters().reports, 0u);
  EXPECT_EQ(e->counters().dropped_not_leader, 1u);
  EXPECT_FALSE(HasNode(*e, "n-1"));
  EXPECT_EQ(Metric(*e, "prov_analysis_leading"), 0);
  EXPECT_EQ(Metric(*e, "prov_analysis_dropped_not_leader_total"), 1);
}

TEST_F(EngineRolesTest, AFailedLeadReloadIsReportedAndRetriedOnTheTick) {
  auto e = StartEngine(/*lead=*/false, /*tick=*/absl::Milliseconds(10));
  ASSERT_NE(e, nullptr);
  shared_.FailLoads(absl::UnavailableError("server closed the connection"));
  e->Lead(1);
  auto failed = e->WaitLeadPosition(absl::Seconds(10));
  EXPECT_TRUE(absl::IsUnavailable(failed.status())) << failed.status();
  EXPECT_FALSE(e->leading());
  shared_.FailLoads(std::nullopt);
  // The tick retries it (polled: the engine's own timer).
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!e->leading() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
  ASSERT_TRUE(e->leading());
  auto led = e->WaitLeadPosition(absl::Seconds(10));
  ASSERT_TRUE(led.ok()) << led.status();
  EXPECT_EQ(*led, std::nullopt);
  EXPECT_GE(e->counters().reload_failures, 1u);
  EXPECT_EQ(Metric(*e, "prov_analysis_leading"), 1);
}

TEST_F(EngineRolesTest, LoggedBatchesQueuedBeforeALeadAreNotAppliedAfterItsReload) {
  auto e = StartEngine(/*lead=*/true);
  ASSERT_NE(e, nullptr);
  // A logged batch saves its position even when its observations change nothing.
  e->SubmitLogged({}, IngestPosition{.horizon = 7, .seen = {}});
  e->Flush();
  ASSERT_FALSE(shared_.Positions().empty());
  EXPECT_EQ(shared_.Positions().back().horizon, 7u);

  shared_.HoldLoads();
  e->Lead(2);
  ASSERT_TRUE(shared_.WaitForHeldLoad());  // the engine thread is busy: the next batch queues
  e->SubmitLogged({Node("n-old", "dc-east", "us-east", kT0)},
                  IngestPosition{.horizon = 8, .seen = {}});
  e->Lead(3);  // elected again: its feed reads from the position Lead(3) loads
  shared_.ReleaseLoads();
  auto position = e->WaitLeadPosition(absl::Seconds(10));
  ASSERT_TRUE(position.ok()) << position.status();
  ASSERT_TRUE(position->has_value());
  EXPECT_EQ((*position)->horizon, 7u);
  e->Flush();
  EXPECT_FALSE(HasNode(*e, "n-old"));
  EXPECT_EQ(e->counters().dropped_not_leader, 1u);
  EXPECT_EQ(shared_.Positions().back().horizon, 7u);

  e->SubmitLogged({Node("n-new", "dc-east", "us-east", kT0)},
                  IngestPosition{.horizon = 9, .seen = {}});
  e->Flush();
  EXPECT_TRUE(HasNode(*e, "n-new"));
  EXPECT_EQ(shared_.Positions().back().horizon, 9u);
}

// The identity snapshot a follower was given is applied again to every reloaded analyzer: the
// identity link two accounts' shared payment instrument makes survives a reload (the store,
// which no leader wrote, has no link).
TEST_F(EngineRolesTest, AFollowersIdentitySnapshotIsAppliedAgainAfterAReload) {
  auto e = StartEngine(/*lead=*/false);
  ASSERT_NE(e, nullptr);
  IdentitySnapshot snap;
  snap.kyc_version = 3;
  auto accounts = std::make_shared<std::vector<provenance::v1::AccountIdentity>>();
  for (const char* id : {"acct-a", "acct-b"}) {
    auto& a = accounts->emplace_back();
    a.set_account_id(id);
    a.set_payment_fingerprint("card-4242");
  }
  snap.accounts = accounts;
  e->OnIdentityChanged(snap);
  e->Flush();
  auto links = [&] { return e->Read([](const Analyzer& a) { return a.stats().links; }); };
  ASSERT_EQ(links(), 1u);
  e->Reload();
  e->Flush();
  EXPECT_EQ(e->counters().reloads, 1u);
  EXPECT_EQ(links(), 1u);
}

}  // namespace
}  // namespace prov::server
