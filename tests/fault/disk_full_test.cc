// DISK FULL UNDER PROVD: provd's data dir lives on a small tmpfs (mounted by the test, as root);
// prov-sim's agents stream reports; the test fills the tmpfs with a filler file mid-ingest. Then
// provd's commits fail (SQLITE_FULL) and nothing they held is acked (a rare commit that still fits
// in space SQLite holds is stored and acked honestly), the agents keep their reports in their
// spools (on another file system), provd says why on stderr and counts it in
// prov_commit_failures_total{reason="disk_full"}. The test frees the filler file and ingest
// resumes by itself: every report ends up stored exactly once (per node: seqs 1..N, no gap, no
// duplicate, nodes.reports_stored agrees). Skips where mount(2) is not allowed.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <thread>

#include "gtest/gtest.h"
#include "tests/fault/fault_util.h"
#include "tests/integration/ledger_rows.h"
#include "tests/integration/provd_process.h"
#include "tests/integration/subprocess.h"
#include "tests/uplink/test_util.h"

namespace prov {
namespace {

using testing::BinDir;
using testing::CountReports;

// Report files (not the state blob) in all spools under `root`.
int64_t SpooledReports(const std::string& root) {
  int64_t n = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(root, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file() && it->path().filename() != "state") ++n;
  }
  return n;
}

double DiskFullFailures(int metrics_port) {
  return testing::ScrapeMetric(metrics_port, "prov_commit_failures_total", "reason=\"disk_full\"")
      .value_or(-1);
}

TEST(DiskFullTest, CommitsFailNothingAckedAndIngestResumesWhenSpaceReturns) {
  constexpr int kNodes = 20, kReports = 60;
  testing::TempDir dir;
  std::string why;
  auto mount = testing::TmpfsMount::Make(dir.Sub("mnt"), 16 << 20, &why);
  if (!mount) GTEST_SKIP() << why;
  const std::string data = mount->dir() + "/provd";
  ASSERT_EQ(::mkdir(data.c_str(), 0755), 0);
  const std::string db = data + "/provd.db";
  const std::string filler = mount->dir() + "/filler";
  const std::string spool = dir.Sub("spool");  // the agents' spools: not on the full disk
  const int metrics_port = testing::PickFreePort();
  testing::ProvdProcess provd(
      data, 0, {"--insecure", "--metrics-listen", "127.0.0.1:" + std::to_string(metrics_port)});
  ASSERT_TRUE(provd.ok()) << provd.log();
  ASSERT_EQ(DiskFullFailures(metrics_port), 0) << "the series exists (at 0) before any failure";

  // 20 agents x 60 reports, a 10 s interval at time scale 50: about 12 s of real reporting.
  testing::Subprocess sim({BinDir() + "/prov-sim",
                           "--server",
                           provd.address(),
                           "--insecure",
                           "--nodes",
                           std::to_string(kNodes),
                           "--reports-per-node",
                           std::to_string(kReports),
                           "--time-scale",
                           "50",
                           "--wait-acks",
                           "90",
                           "--spool-root",
                           spool,
                           "--backoff-initial-ms",
                           "100",
                           "--backoff-max-ms",
                           "500",
                           "--seed",
                           "13"},
                          dir.Sub("sim.out"));
  ASSERT_TRUE(sim.started());
  const int64_t total = int64_t{kNodes} * kReports;
  ASSERT_TRUE(testing::PollUntil([&] { return CountReports(db) >= total / 10; }, {},
                                 std::chrono::seconds(30)))
      << "ingest did not start\n"
      << provd.log() << testing::ReadFile(dir.Sub("sim.out"));

  // Fill the disk. The next commits that need a page fail with SQLITE_FULL.
  const int64_t filled = testing::FillDisk(filler);
  ASSERT_GT(filled, 0) << "filling " << filler << ": " << strerror(errno);
  ASSERT_TRUE(testing::PollUntil([&] { return DiskFullFailures(metrics_port) >= 1; }, {},
                                 std::chrono::seconds(30)))
      << "no commit failed with disk_full\n"
      << provd.log();

  // While the disk stays full: failures keep being counted as the agents resend, the agents
  // still run and hold the unacked reports in their spools (provd acks only what a commit
  // stored). A commit can still fit now and then in space SQLite already holds (a WAL rewound
  // after a checkpoint, pages a failed transaction gave back: CI saw one more report stored
  // 26 ms after the first failure, and once one stored 1.7 s into the full period, between two
  // runs of failures). Such a commit is durable and its ack honest (the ledger check at the end
  // finds every report once), so what is checked is that ingest does not go on: most of what
  // the agents sent meanwhile waits in their spools, refused, not stored.
  const double first_failures = DiskFullFailures(metrics_port);
  ASSERT_TRUE(
      testing::PollUntil([&] { return DiskFullFailures(metrics_port) >= first_failures + 3; }, {},
                         std::chrono::seconds(30)))
      << "commits should keep failing while the disk is full\n"
      << provd.log();
  const int64_t stored_when_full = CountReports(db);
  const double failures_when_full = DiskFullFailures(metrics_port);
  // Hold the disk full until the agents have spooled 200 more reports (2 s of the fleet's
  // reporting) and provd has refused their resends a few more times.
  ASSERT_TRUE(testing::PollUntil(
      [&] {
        return SpooledReports(spool) >= 200 &&
               DiskFullFailures(metrics_port) >= failures_when_full + 3;
      },
      {}, std::chrono::seconds(30)))
      << "the agents' resends should keep failing and their spools grow while the disk is full: "
      << SpooledReports(spool) << " spooled\n"
      << provd.log();
  const int64_t stored_while_full = CountReports(db) - stored_when_full;
  EXPECT_LT(stored_while_full, SpooledReports(spool) / 2)
      << "ingest went on while the disk was full: " << stored_while_full
      << " reports stored meanwhile, " << SpooledReports(spool) << " spooled";
  EXPECT_LT(stored_when_full, total) << "the disk filled only after ingest had finished";
  EXPECT_TRUE(sim.Running()) << testing::ReadFile(dir.Sub("sim.out"));
  const int64_t spooled = SpooledReports(spool);
  const std::string full_log = provd.log();
  EXPECT_NE(full_log.find("[disk_full]"), std::string::npos) << full_log;
  EXPECT_NE(full_log.find("database or disk is full"), std::string::npos) << full_log;
  EXPECT_NE(full_log.find("ingest resumes by itself once space is freed"), std::string::npos)
      << full_log;

  // Space returns: ingest resumes without any restart.
  ASSERT_EQ(::unlink(filler.c_str()), 0);
  std::optional<int> rc = sim.Wait(std::chrono::seconds(90));
  const std::string sim_out = testing::ReadFile(dir.Sub("sim.out"));
  ASSERT_TRUE(rc.has_value()) << "prov-sim did not finish\n" << sim_out << provd.log();
  EXPECT_EQ(*rc, 0) << sim_out;
  EXPECT_NE(sim_out.find("acked:        " + std::to_string(total) + "\n"), std::string::npos)
      << sim_out;
  EXPECT_NE(provd.log().find("commits succeed again after"), std::string::npos) << provd.log();
  EXPECT_EQ(SpooledReports(spool), 0) << "every spooled report was acked and deleted";

  std::string error;
  auto ledger = testing::ReadLedger(db, &error);
  ASSERT_TRUE(error.empty()) << error;
  ASSERT_EQ(ledger.size(), size_t{kNodes});
  for (const auto& [node, rows] : ledger) {
    EXPECT_EQ(rows.rows, kReports) << node << ": every report stored";
    EXPECT_EQ(rows.distinct_seqs, rows.rows) << node << ": no duplicates";
    EXPECT_EQ(rows.min_seq, 1) << node;
    EXPECT_EQ(rows.max_seq, kReports) << node << ": no gaps";
    EXPECT_EQ(rows.reports_stored, kReports) << node << ": nodes.reports_stored agrees";
  }
  std::printf(
      "disk full test: %lld of %lld reports stored when the disk filled (%lld bytes of filler), "
      "%lld more stored while it stayed full, "
      "%.0f disk_full commit failures in all, %lld reports spooled at the agents meanwhile, "
      "%.0f queued reports dropped after their stream's commit failed\n",
      static_cast<long long>(stored_when_full), static_cast<long long>(total),
      static_cast<long long>(filled), static_cast<long long>(stored_while_full),
      DiskFullFailures(metrics_port), static_cast<long long>(spooled),
      testing::ScrapeMetric(metrics_port, "prov_reports_dropped_after_failure_total", "")
          .value_or(-1));
  provd.Kill(SIGTERM);
  EXPECT_TRUE(provd.Wait(std::chrono::seconds(30)).has_value());
  std::printf("provd's stderr:\n%s", provd.log().c_str());
}

}  // namespace
}  // namespace prov
