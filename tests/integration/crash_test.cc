// THE CRASH TEST: provd is SIGKILLed in the middle of ingest from prov-sim and restarted on the
// same data dir and port; prov-sim finishes; every report is stored exactly once (checked in the
// SQLite file itself: per node, count == reports submitted, seqs 1..N with no gap or duplicate).
#include <sqlite3.h>

#include <map>
#include <thread>

#include "gtest/gtest.h"
#include "tests/integration/provd_process.h"
#include "tests/integration/subprocess.h"
#include "tests/uplink/test_util.h"

namespace prov {
namespace {

using testing::BinDir;

struct NodeRows {
  int64_t rows = 0, distinct_seqs = 0, min_seq = 0, max_seq = 0, reports_stored = 0;
};

// Per node: rows in `reports`, distinct (boot_id, seq), seq range, and nodes.reports_stored.
std::map<std::string, NodeRows> ReadLedger(const std::string& db_path, std::string* error) {
  std::map<std::string, NodeRows> out;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    *error = sqlite3_errmsg(db);
    sqlite3_close(db);
    return out;
  }
  sqlite3_busy_timeout(db, 5000);
  const char* sql =
      "SELECT n.node_id, COUNT(r.id), COUNT(DISTINCT r.boot_id || ':' || r.seq), "
      "MIN(r.seq), MAX(r.seq), n.reports_stored "
      "FROM nodes n LEFT JOIN reports r ON r.node = n.id GROUP BY n.id";
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) != SQLITE_OK) {
    *error = sqlite3_errmsg(db);
  } else {
    while (sqlite3_step(st) == SQLITE_ROW) {
      NodeRows& n = out[reinterpret_cast<const char*>(sqlite3_column_text(st, 0))];
      n.rows = sqlite3_column_int64(st, 1);
      n.distinct_seqs = sqlite3_column_int64(st, 2);
      n.min_seq = sqlite3_column_int64(st, 3);
      n.max_seq = sqlite3_column_int64(st, 4);
      n.reports_stored = sqlite3_column_int64(st, 5);
    }
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

int64_t CountReports(const std::string& db_path) {
  std::string error;
  int64_t total = 0;
  for (const auto& [node, rows] : ReadLedger(db_path, &error)) total += rows.rows;
  return total;
}

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
