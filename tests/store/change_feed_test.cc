// The change feed between replicas (server/store/pg/pg_change_feed.h) on a real PostgreSQL: a
// change announced in a committed transaction reaches the listener, in commit order, on the
// channels it follows only; a rolled-back one never does; a listener whose session was lost
// reconnects, reports resync, and hears later changes.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/store/pg/pg_change_feed.h"
#include "server/store/pg/pg_conn.h"
#include "server/store/pg/pg_schema.h"
#include "tests/store/pg_server.h"
#include "tests/store/store_fixture.h"

namespace prov::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class Heard {
 public:
  std::function<void(const ChangeEvent&)> Callback() {
    return [this](const ChangeEvent& e) {
      absl::MutexLock lock(&mu_);
      events_.push_back(e.resync ? "resync" : absl::StrCat(e.channel, ":", e.payload));
    };
  }
  // Waits (at most 10 s) until `n` events were heard; returns them all.
  std::vector<std::string> WaitFor(size_t n) {
    absl::MutexLock lock(&mu_);
    const std::vector<std::string>* events = &events_;  // read by Await, under mu_
    auto enough = [&] { return events->size() >= n; };
    mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(10));
    return events_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> events_ ABSL_GUARDED_BY(mu_);
};

class ChangeFeedTest : public prov::testing::StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    auto conn =
        PgConn::Connect(pg_conninfo(), {.application_name = "prov-test", .search_path = kPgSchema});
    ASSERT_TRUE(conn.ok()) << conn.status();
    writer_ = *std::move(conn);
    auto listener = PgChangeListener::Open(pg_conninfo());
    ASSERT_TRUE(listener.ok()) << listener.status();
    listener_ = *std::move(listener);
  }
  absl::Status Announce(const std::string& channel, const std::string& payload) {
    return writer_->Transaction([&] { return NotifyChange(*writer_, channel, payload); });
  }

  Heard heard_;  // outlives the listener
  std::unique_ptr<PgConn> writer_;
  std::unique_ptr<PgChangeListener> listener_;
};

TEST_P(ChangeFeedTest, CommittedChangesArriveInOrderOnFollowedChannelsOnly) {
  ASSERT_TRUE(listener_->Start({"prov_flags", "prov_cases"}, heard_.Callback()).ok());
  EXPECT_EQ(listener_->Start({"x"}, heard_.Callback()).code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(Announce("prov_flags", "F-000001").ok());
  ASSERT_TRUE(Announce("prov_other", "ignored").ok());
  // Rolled back: never announced.
  absl::Status rolled = writer_->Transaction([&]() -> absl::Status {
    EXPECT_TRUE(NotifyChange(*writer_, "prov_flags", "F-rolled-back").ok());
    return absl::AbortedError("the change failed");
  });
  EXPECT_EQ(rolled.code(), absl::StatusCode::kAborted);
  ASSERT_TRUE(writer_
                  ->Transaction([&]() -> absl::Status {
                    EXPECT_TRUE(NotifyChange(*writer_, "prov_cases", "F-000001").ok());
                    return NotifyChange(*writer_, "prov_flags", "F-000002");
                  })
                  .ok());
  EXPECT_THAT(heard_.WaitFor(3),
              ElementsAre("prov_flags:F-000001", "prov_cases:F-000001", "prov_flags:F-000002"));
  absl::SleepFor(absl::Milliseconds(300));  // nothing else arrives
  EXPECT_EQ(heard_.WaitFor(0).size(), 3u);
}

TEST_P(ChangeFeedTest, AnnouncingOutsideATransactionOrTooMuchIsRefused) {
  EXPECT_EQ(NotifyChange(*writer_, "prov_flags", "F-1").code(),
            absl::StatusCode::kFailedPrecondition);
  absl::Status big = writer_->Transaction(
      [&] { return NotifyChange(*writer_, "prov_flags", std::string(8000, 'x')); });
  EXPECT_EQ(big.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(big.message()), HasSubstr("8000 bytes is over the limit of 7999"));
  EXPECT_EQ(writer_->Transaction([&] { return NotifyChange(*writer_, "", "x"); }).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(ChangeFeedTest, ALostSessionIsReplacedAndReportedAsResync) {
  ASSERT_TRUE(listener_->Start({"prov_flags"}, heard_.Callback()).ok());
  ASSERT_TRUE(Announce("prov_flags", "before").ok());
  ASSERT_EQ(heard_.WaitFor(1).size(), 1u);
  auto n = prov::testing::TerminateBackends(*writer_, "application_name = 'provd/listen'");
  ASSERT_TRUE(n.ok() && *n == 1);
  EXPECT_THAT(heard_.WaitFor(2), ElementsAre("prov_flags:before", "resync"));
  EXPECT_EQ(listener_->reconnects(), 1);
  ASSERT_TRUE(Announce("prov_flags", "after").ok());
  EXPECT_THAT(heard_.WaitFor(3), ElementsAre("prov_flags:before", "resync", "prov_flags:after"));
  listener_->Stop();
  listener_->Stop();
  ASSERT_TRUE(Announce("prov_flags", "stopped").ok());
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(heard_.WaitFor(0).size(), 3u);
}

INSTANTIATE_TEST_SUITE_P(Engines, ChangeFeedTest,
                         ::testing::Values(prov::testing::Engine::kPostgres),
                         [](const auto& info) { return prov::testing::EngineName(info.param); });

}  // namespace
}  // namespace prov::server
