// A REAL PARTITION WITH REAL BINARIES: prov-sim's agents (the agent's real uplink and spool)
// stream to the real provd; provd is frozen with SIGSTOP for 20 s mid-ingest (its sockets stay
// open but nothing answers: a blackhole as the agents see it, with no root needed) and thawed with
// SIGCONT. The agents keep spooling, time out or reconnect with backoff, and deliver everything:
// every report stored exactly once (per node: seqs 1..N, no gap, no duplicate).
#include <signal.h>
#include <sys/stat.h>

#include <thread>

#include "gtest/gtest.h"
#include "tests/integration/ledger_rows.h"
#include "tests/integration/provd_process.h"
#include "tests/integration/subprocess.h"
#include "tests/uplink/test_util.h"

namespace prov {
namespace {

using testing::BinDir;
using testing::CountReports;

TEST(PartitionTest, TwentySecondBlackholeLosesAndDuplicatesNothing) {
  constexpr int kNodes = 10, kReports = 60;
  testing::TempDir dir;
  const std::string data = dir.Sub("provd");
  ASSERT_EQ(::mkdir(data.c_str(), 0755), 0);
  const std::string db = data + "/provd.db";
  testing::ProvdProcess provd(data, 0, {"--insecure"});
  ASSERT_TRUE(provd.ok()) << provd.log();

  // 10 agents x 60 reports, a 10 s interval at time scale 20: 30 s of real reporting.
  testing::Subprocess sim({BinDir() + "/prov-sim",
                           "--server",
                           provd.address(),
                           "--insecure",
                           "--nodes",
                           std::to_string(kNodes),
                           "--reports-per-node",
                           std::to_string(kReports),
                           "--time-scale",
                           "20",
                           "--wait-acks",
                           "60",
                           "--spool-root",
                           dir.Sub("spool"),
                           "--backoff-initial-ms",
                           "200",
                           "--backoff-max-ms",
                           "2000",
                           "--seed",
                           "17"},
                          dir.Sub("sim.out"));
  ASSERT_TRUE(sim.started());
  const int64_t total = int64_t{kNodes} * kReports;
  ASSERT_TRUE(testing::PollUntil([&] { return CountReports(db) >= total / 10; }, {},
                                 std::chrono::seconds(30)))
      << provd.log();

  provd.Kill(SIGSTOP);
  const int64_t before = CountReports(db);
  std::this_thread::sleep_for(std::chrono::seconds(20));  // the partition: real time by design
  EXPECT_EQ(CountReports(db), before) << "nothing can be stored while provd is frozen";
  EXPECT_TRUE(sim.Running());
  provd.Kill(SIGCONT);

  std::optional<int> rc = sim.Wait(std::chrono::seconds(90));
  const std::string sim_out = testing::ReadFile(dir.Sub("sim.out"));
  ASSERT_TRUE(rc.has_value()) << "prov-sim did not finish\n" << sim_out;
  EXPECT_EQ(*rc, 0) << sim_out;
  EXPECT_NE(sim_out.find("acked:        " + std::to_string(total) + "\n"), std::string::npos)
      << sim_out;
  std::string error;
  auto ledger = testing::ReadLedger(db, &error);
  ASSERT_TRUE(error.empty()) << error;
  ASSERT_EQ(ledger.size(), size_t{kNodes});
  for (const auto& [node, rows] : ledger) {
    EXPECT_EQ(rows.rows, kReports) << node << ": every report stored";
    EXPECT_EQ(rows.distinct_seqs, rows.rows) << node << ": no duplicates";
    EXPECT_EQ(rows.min_seq, 1) << node;
    EXPECT_EQ(rows.max_seq, kReports) << node << ": no gaps";
  }
  std::printf(
      "partition (SIGSTOP 20 s): %lld of %lld reports stored when provd froze; all "
      "delivered once after; prov-sim:\n%s",
      static_cast<long long>(before), static_cast<long long>(total), sim_out.c_str());
  provd.Kill(SIGTERM);
  EXPECT_TRUE(provd.Wait(std::chrono::seconds(30)).has_value());
}

}  // namespace
}  // namespace prov
