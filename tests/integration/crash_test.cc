// THE CRASH TEST: provd is SIGKILLed in the middle of ingest from prov-sim and restarted on the
// same data dir and port; prov-sim finishes; every report is stored exactly once (checked in the
// SQLite file itself: per node, count == reports submitted, seqs 1..N with no gap or duplicate).
#include <map>
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
using testing::NodeRows;
using testing::ReadLedger;

TEST(CrashTest, SigkillMidIngestLosesAndDuplicatesNothing) {
  constexpr int kNodes = 40, kReports = 50;
  testing::TempDir dir;
  const std::string data = dir.Sub("provd");
  ASSERT_EQ(::mkdir(data.c_str(), 0755), 0);
  const std::string db = data + "/provd.db";
  const int port = testing::PickFreePort();
  auto provd =
      std::make_unique<testing::ProvdProcess>(data, port, std::vector<std::string>{"--insecure"});
  ASSERT_TRUE(provd->ok()) << provd->log();

  // 40 agents x 50 reports at 10 s simulated, time scale 100: about 5 s of real ingest.
  testing::Subprocess sim(
      {BinDir() + "/prov-sim", "--server", provd->address(), "--insecure", "--nodes",
       std::to_string(kNodes), "--reports-per-node", std::to_string(kReports), "--time-scale",
       "100", "--wait-acks", "60", "--spool-root", dir.Sub("spool"), "--backoff-max-ms", "1000",
       "--seed", "11"},
      dir.Sub("sim.out"));
  ASSERT_TRUE(sim.started());

  // Kill provd once a good part (but not all) of the fleet's reports are committed.
  const int64_t total = int64_t{kNodes} * kReports;
  ASSERT_TRUE(testing::PollUntil([&] { return CountReports(db) >= total / 4; }, {},
                                 std::chrono::seconds(60)))
      << "ingest did not start\n"
      << provd->log() << testing::ReadFile(dir.Sub("sim.out"));
  provd->Kill(SIGKILL);
  ASSERT_EQ(provd->Wait(std::chrono::seconds(10)), 128 + SIGKILL);
  const int64_t at_kill = CountReports(db);
  EXPECT_LT(at_kill, total) << "provd was killed after ingest had finished: not mid-ingest";
  EXPECT_TRUE(sim.Running()) << "prov-sim must still be running when provd dies";

  // Restart on the same data dir and port; prov-sim reconnects on its own.
  provd =
      std::make_unique<testing::ProvdProcess>(data, port, std::vector<std::string>{"--insecure"});
  ASSERT_TRUE(provd->ok()) << provd->log();
  std::optional<int> rc = sim.Wait(std::chrono::seconds(120));
  std::string sim_out = testing::ReadFile(dir.Sub("sim.out"));
  ASSERT_TRUE(rc.has_value()) << "prov-sim did not finish\n" << sim_out;
  EXPECT_EQ(*rc, 0) << sim_out;
  EXPECT_NE(sim_out.find("acked:        " + std::to_string(total) + "\n"), std::string::npos)
      << sim_out;
  EXPECT_EQ(sim_out.find("reconnects:   0\n"), std::string::npos)
      << "the agents must have reconnected to the restarted provd\n"
      << sim_out;
  provd->Kill(SIGTERM);
  ASSERT_TRUE(provd->Wait(std::chrono::seconds(30)).has_value());

  std::string error;
  auto ledger = ReadLedger(db, &error);
  ASSERT_TRUE(error.empty()) << error;
  ASSERT_EQ(ledger.size(), size_t{kNodes});
  for (const auto& [node, rows] : ledger) {
    EXPECT_EQ(rows.rows, kReports) << node << ": every report stored";
    EXPECT_EQ(rows.distinct_seqs, rows.rows) << node << ": no duplicates";
    EXPECT_EQ(rows.min_seq, 1) << node;
    EXPECT_EQ(rows.max_seq, kReports) << node << ": no gaps (count == max seq, seqs distinct)";
    EXPECT_EQ(rows.reports_stored, kReports) << node << ": nodes.reports_stored agrees";
  }
  std::printf("crash test: %lld of %lld reports committed when provd was SIGKILLed\n",
              static_cast<long long>(at_kill), static_cast<long long>(total));
}

}  // namespace
}  // namespace prov
