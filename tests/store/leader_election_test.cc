// Leader election (server/store/repo/leader_election.h): one provd on SQLite leads alone; provd
// replicas on one PostgreSQL elect exactly one leader, hand over when it stops or its session is
// gone, and fence a deposed leader's writes by term. Real PostgreSQL (pg_server.h), real time:
// the elections run with takeover = 1.5 s (a try or check every 100 ms).
#include "server/store/repo/leader_election.h"

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/store/pg/pg_conn.h"
#include "server/store/pg/pg_leader_election.h"
#include "server/store/pg/pg_schema.h"
#include "tests/store/pg_server.h"
#include "tests/store/store_fixture.h"

namespace prov::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The events one election reported, in order ("elected 1", "deposed", ...).
class EventLog {
 public:
  LeaderEvents Events() {
    return {.elected = [this](int64_t term) { Add(absl::StrCat("elected ", term)); },
            .deposed = [this] { Add("deposed"); }};
  }
  std::vector<std::string> Get() const {
    absl::MutexLock lock(&mu_);
    return events_;
  }

 private:
  void Add(std::string e) {
    absl::MutexLock lock(&mu_);
    events_.push_back(std::move(e));
  }
  mutable absl::Mutex mu_;
  std::vector<std::string> events_ ABSL_GUARDED_BY(mu_);
};

// Polls `done` every 10 ms for at most `limit`; returns how long it took (or limit).
template <typename F>
absl::Duration WaitFor(F done, absl::Duration limit = absl::Seconds(10)) {
  const absl::Time start = absl::Now();
  while (!done() && absl::Now() - start < limit) absl::SleepFor(absl::Milliseconds(10));
  return absl::Now() - start;
}

TEST(SoleLeaderTest, LeadsFromStartToStop) {
  SoleLeader leader;
  EventLog log;
  EXPECT_FALSE(leader.leading());
  ASSERT_TRUE(leader.Start(log.Events()).ok());
  EXPECT_TRUE(leader.leading());
  EXPECT_EQ(leader.term(), 1);
  EXPECT_EQ(leader.Start(log.Events()).code(), absl::StatusCode::kFailedPrecondition);
  leader.Stop();
  leader.Stop();
  EXPECT_FALSE(leader.leading());
  EXPECT_EQ(leader.term(), 0);
  EXPECT_THAT(log.Get(), ElementsAre("elected 1", "deposed"));
}

class PgLeaderTest : public prov::testing::StoreTest {
 protected:
  std::unique_ptr<PgLeaderElection> Open(const std::string& holder,
                                         std::function<void()> before_hold = nullptr) {
    auto e = PgLeaderElection::Open(pg_conninfo(), {.holder = holder,
                                                    .takeover = absl::Milliseconds(1500),
                                                    .before_hold = std::move(before_hold)});
    EXPECT_TRUE(e.ok()) << e.status();
    return e.ok() ? *std::move(e) : nullptr;
  }
  std::unique_ptr<PgConn> Connect() {
    auto conn =
        PgConn::Connect(pg_conninfo(), {.application_name = "prov-test", .search_path = kPgSchema});
    EXPECT_TRUE(conn.ok()) << conn.status();
    return conn.ok() ? *std::move(conn) : nullptr;
  }
  LeaderRecord Leader(PgConn& conn) {
    auto r = ReadLeader(conn);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() && r->has_value() ? **r : LeaderRecord{};
  }
};

TEST_P(PgLeaderTest, OneReplicaLeadsAndTheOtherStandsBy) {
  EventLog log_a, log_b;  // outlives the elections: their destructors report deposed
  auto a = Open("provd-a");
  auto b = Open("provd-b");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(PgLeaderElection::Open(pg_conninfo(), {.holder = ""}).status().code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(a->Start(log_a.Events()).ok());
  WaitFor([&] { return a->leading(); });
  ASSERT_TRUE(a->leading());
  ASSERT_TRUE(b->Start(log_b.Events()).ok());
  absl::SleepFor(absl::Milliseconds(600));  // six tries by b
  EXPECT_FALSE(b->leading());
  EXPECT_EQ(a->term(), 1);
  EXPECT_THAT(log_a.Get(), ElementsAre("elected 1"));
  EXPECT_TRUE(log_b.Get().empty());
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  LeaderRecord r = Leader(*conn);
  EXPECT_EQ(r.term, 1);
  EXPECT_EQ(r.holder, "provd-a");
  EXPECT_GT(r.since_us, 0);
}

TEST_P(PgLeaderTest, StopHandsOverToTheStandbyAtItsNextTry) {
  EventLog log_a, log_b;
  auto a = Open("provd-a");
  auto b = Open("provd-b");
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->Start(log_a.Events()).ok());
  WaitFor([&] { return a->leading(); });
  ASSERT_TRUE(b->Start(log_b.Events()).ok());
  a->Stop();
  EXPECT_THAT(log_a.Get(), ElementsAre("elected 1", "deposed"));
  const absl::Duration took = WaitFor([&] { return b->leading(); });
  ASSERT_TRUE(b->leading());
  // One try every 100 ms: far under the 10 s WaitFor limit even on a loaded machine.
  EXPECT_LT(took, absl::Seconds(5));
  EXPECT_EQ(b->term(), 2);
  EXPECT_THAT(log_b.Get(), ElementsAre("elected 2"));
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  EXPECT_EQ(Leader(*conn).holder, "provd-b");
}

// The leader's session is gone (what a failover of PostgreSQL, or an administrator, does): the
// leader notices at its next check and steps down, and a replica takes over in a new term:
// the standby, or the old leader itself on a new session (both are right; which one is a race).
// Exactly one leads; when it stops, the other takes over.
TEST_P(PgLeaderTest, ALeaderWhoseSessionIsGoneStepsDownAndOneReplicaTakesOver) {
  EventLog log_a, log_b;
  auto a = Open("provd-a");
  auto b = Open("provd-b");
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->Start(log_a.Events()).ok());
  WaitFor([&] { return a->leading(); });
  ASSERT_TRUE(a->leading());
  ASSERT_TRUE(b->Start(log_b.Events()).ok());
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  auto n = prov::testing::TerminateBackends(
      *conn, absl::StrCat("pid IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND "
                          "granted AND objid = ",
                          kPgLeaderLock, ")"));
  ASSERT_TRUE(n.ok() && *n == 1);
  // b may win term 2 before a's next check tells a it lost term 1 (fencing covers that
  // overlap): wait for both.
  WaitFor([&] { return (a->term() == 2 || b->term() == 2) && log_a.Get().size() >= 2; });
  ASSERT_TRUE(a->term() == 2 || b->term() == 2);
  ASSERT_GE(log_a.Get().size(), 2u);
  EXPECT_EQ(log_a.Get()[0], "elected 1");
  EXPECT_EQ(log_a.Get()[1], "deposed");
  EXPECT_NE(a->leading(), b->leading());
  PgLeaderElection* leader = a->leading() ? a.get() : b.get();
  PgLeaderElection* standby = a->leading() ? b.get() : a.get();
  absl::SleepFor(absl::Milliseconds(500));  // the standby keeps trying
  EXPECT_TRUE(leader->leading());
  EXPECT_FALSE(standby->leading());
  leader->Stop();
  WaitFor([&] { return standby->leading(); });
  EXPECT_EQ(standby->term(), 3);
}

// A hung leader (its process stopped or deadlocked while its kernel keeps the session up: the
// lock would never be released) stops renewing its lease; the standby, finding the lease older
// than the takeover, ends the leader's session and takes over in term 2. When the old leader
// resumes it finds its session gone and steps down; its term-1 writes are fenced.
TEST_P(PgLeaderTest, AHungLeaderIsEndedByTheStandbyWhenItsLeaseRunsOut) {
  EventLog log_a, log_b;
  absl::Mutex hang_mu;
  bool hang = false;
  auto a = Open("provd-a", [&] {
    absl::MutexLock lock(&hang_mu);
    hang_mu.Await(absl::Condition(
        +[](bool* h) { return !*h; }, &hang));
  });
  auto b = Open("provd-b");
  ASSERT_TRUE(a && b);
  // Whatever fails below, a's thread is let go before a is destroyed (its Stop joins it).
  absl::Cleanup let_go = [&] {
    absl::MutexLock lock(&hang_mu);
    hang = false;
  };
  ASSERT_TRUE(a->Start(log_a.Events()).ok());
  WaitFor([&] { return a->leading(); });
  ASSERT_EQ(a->term(), 1);
  ASSERT_TRUE(b->Start(log_b.Events()).ok());
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  // While a renews, b stands by (three takeovers).
  absl::SleepFor(absl::Milliseconds(4500));
  EXPECT_FALSE(b->leading());
  EXPECT_THAT(log_b.Get(), ElementsAre());
  auto renewed = conn->Query("SELECT term, holder FROM leader_lease");
  ASSERT_TRUE(renewed.ok() && renewed->rows() == 1);
  EXPECT_EQ(renewed->Text(0, 0), "1");
  EXPECT_EQ(renewed->Text(0, 1), "provd-a");

  {
    absl::MutexLock lock(&hang_mu);
    hang = true;
  }
  const absl::Time hung_at = absl::Now();
  const absl::Duration took = WaitFor([&] { return b->leading(); });
  ASSERT_TRUE(b->leading()) << "the standby never took over from the hung leader";
  EXPECT_EQ(b->term(), 2);
  // The lease ran out (1.5 s after a's last renewal, at most a check before the hang), then a
  // try or two of b's (100 ms apart).
  EXPECT_GE(absl::Now() - hung_at, absl::Milliseconds(1300));
  EXPECT_LT(took, absl::Seconds(5));
  EXPECT_EQ(Leader(*conn).holder, "provd-b");
  EXPECT_TRUE(a->leading());  // hung: it has not noticed yet
  // a's writes of term 1 are fenced already.
  EXPECT_EQ(conn->Transaction([&] { return CheckLeaderTerm(*conn, 1); }).code(),
            absl::StatusCode::kFailedPrecondition);

  {
    absl::MutexLock lock(&hang_mu);
    hang = false;
  }
  WaitFor([&] { return !a->leading(); });
  EXPECT_FALSE(a->leading());
  EXPECT_THAT(log_a.Get(), ElementsAre("elected 1", "deposed"));
  // a campaigns again and stands by: b renews its lease.
  absl::SleepFor(absl::Milliseconds(3000));
  EXPECT_TRUE(b->leading());
  EXPECT_FALSE(a->leading());
  EXPECT_THAT(log_b.Get(), ElementsAre("elected 2"));
  b->Stop();
  a->Stop();
}

// Fencing: a write checking term 1 commits before term 2 begins (the new leader's term bump
// waits for it), and a write checking term 1 after that fails.
TEST_P(PgLeaderTest, ADeposedLeadersWritesAreFencedByTerm) {
  EventLog log_a, log_b;
  auto a = Open("provd-a");
  auto b = Open("provd-b");
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->Start(log_a.Events()).ok());
  WaitFor([&] { return a->leading(); });
  ASSERT_EQ(a->term(), 1);
  auto writer = Connect();
  ASSERT_NE(writer, nullptr);
  EXPECT_EQ(CheckLeaderTerm(*writer, 1).code(), absl::StatusCode::kFailedPrecondition);  // no txn
  ASSERT_TRUE(b->Start(log_b.Events()).ok());
  std::atomic<bool> checked{false}, release{false};
  std::thread old_leader_write([&] {
    absl::Status s = writer->Transaction([&]() -> absl::Status {
      absl::Status c = CheckLeaderTerm(*writer, 1);
      checked = true;
      if (!c.ok()) return c;
      while (!release) absl::SleepFor(absl::Milliseconds(10));
      return writer->Exec("CREATE TABLE fenced_write (x BIGINT)");
    });
    EXPECT_TRUE(s.ok()) << s;
  });
  WaitFor([&] { return checked.load(); });
  a->Stop();
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_FALSE(b->leading());  // b holds the lock, its term bump waits for the write
  release = true;
  old_leader_write.join();
  WaitFor([&] { return b->leading(); });
  ASSERT_EQ(b->term(), 2);
  absl::Status late = writer->Transaction([&] { return CheckLeaderTerm(*writer, 1); });
  EXPECT_EQ(late.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(late.message()), HasSubstr("term 2 is led by provd-b"));
  EXPECT_TRUE(writer->Transaction([&] { return CheckLeaderTerm(*writer, 2); }).ok());
  EXPECT_TRUE(writer->Query("SELECT 1 FROM fenced_write").ok());  // the fenced write landed
}

INSTANTIATE_TEST_SUITE_P(Engines, PgLeaderTest, ::testing::Values(prov::testing::Engine::kPostgres),
                         [](const auto& info) { return prov::testing::EngineName(info.param); });

}  // namespace
}  // namespace prov::server
