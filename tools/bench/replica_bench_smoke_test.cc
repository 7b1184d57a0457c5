// Runs the real prov-replica-bench (real provd processes on a PostgreSQL it starts itself) for a
// few seconds per phase and checks the figures are coherent: every report that fell due was
// acked and analysed, PostgreSQL's CPU is counted only where provd runs on it, the disk figures
// describe the reports stored, and after the leader's SIGKILL the standby leads, analyses and
// catches up with the backlog (3 s of reports while the leader was SIGSTOPped, in the catch-up
// run). No duration or rate is asserted.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <regex>
#include <string>

#include "common/fs.h"
#include "gtest/gtest.h"

namespace prov::bench {
namespace {

std::string BinDir() {
  const char* dir = std::getenv("PROV_BIN_DIR");
  return dir != nullptr ? dir : "build/bin";
}

double Field(const std::string& json, const std::string& key) {
  std::smatch m;
  if (!std::regex_search(json, m, std::regex("\"" + key + "\": (-?[0-9.]+)"))) {
    ADD_FAILURE() << "no " << key << " in " << json;
    return -1;
  }
  return std::stod(m[1]);
}

TEST(ReplicaBenchSmokeTest, EveryPhaseGivesCoherentFigures) {
  const std::string json = (std::filesystem::temp_directory_path() /
                            ("prov-rbench-smoke-" + std::to_string(getpid()) + ".json"))
                               .string();
  const std::string cmd =
      BinDir() +
      "/prov-replica-bench --agents 10 --interval 500ms --seconds 2 "
      "--takeovers 1s --backlog 3s --failover-agents 10 --failover-interval 500ms "
      "--failover-lead-in 3s --failover-tail 10s --json-out " +
      json + " > /dev/null";
  const int rc = std::system(cmd.c_str());
  if (WIFEXITED(rc) && WEXITSTATUS(rc) == 3) {
    const char* require = std::getenv("PROV_REQUIRE_POSTGRES");
    ASSERT_FALSE(require != nullptr && std::string(require) == "1")
        << "no PostgreSQL 15 installed and PROV_REQUIRE_POSTGRES=1";
    GTEST_SKIP() << "no PostgreSQL 15 installed";
  }
  ASSERT_EQ(rc, 0) << cmd;
  absl::StatusOr<std::string> text = ReadFileToString(json);
  std::filesystem::remove(json);
  ASSERT_TRUE(text.ok()) << text.status();

  // 10 agents every 500 ms for 2 s: 4 rounds of 10 reports, on every engine and replica count.
  for (const std::string run :
       {"engines.sqlite", "engines.pg", "scaling.replicas1", "scaling.replicas2"}) {
    EXPECT_EQ(Field(*text, run + ".requested"), 40) << run;
    EXPECT_EQ(Field(*text, run + ".acked"), 40) << run;
    EXPECT_EQ(Field(*text, run + ".analysed_all"), 1) << run;
    EXPECT_GE(Field(*text, run + ".analysed"), 40) << run;
    EXPECT_GT(Field(*text, run + ".provd_us_per_report"), 0) << run;
  }
  EXPECT_EQ(Field(*text, "engines.sqlite.pg_us_per_report"), 0);
  EXPECT_GT(Field(*text, "engines.pg.pg_us_per_report"), 0);
  EXPECT_GT(Field(*text, "scaling.replicas2.pg_us_per_report"), 0);
  EXPECT_EQ(Field(*text, "disk.reports_stored"), 40);
  EXPECT_EQ(Field(*text, "disk.nodes"), 10);
  EXPECT_GT(Field(*text, "disk.bytes_per_report"), 0);

  // The leader SIGKILLed, then (catch-up run) SIGSTOPped for 3 s first: the standby led, then
  // analysed, then caught up, in that order, and took every report meanwhile.
  for (const std::string f : {"failover.takeover_1s", "catchup.backlog_3s"}) {
    EXPECT_GT(Field(*text, f + ".acked"), 0) << f;
    EXPECT_EQ(Field(*text, f + ".acked"), Field(*text, f + ".requested")) << f;
    EXPECT_GT(Field(*text, f + ".leading_after_s"), 0) << f;
    EXPECT_GE(Field(*text, f + ".first_analysis_after_s"), Field(*text, f + ".leading_after_s"))
        << f;
    EXPECT_GE(Field(*text, f + ".caught_up_after_s"), Field(*text, f + ".first_analysis_after_s"))
        << f;
    EXPECT_GT(Field(*text, f + ".backlog_reports"), 0) << f;
  }
  // 3 s of 20 reports/s waited for the new leader: at least those were analysed in the catch-up.
  EXPECT_GE(Field(*text, "catchup.backlog_3s.backlog_reports"), 60);
}

TEST(ReplicaBenchSmokeTest, UnknownPhaseFailsNamingIt) {
  const std::string cmd = BinDir() + "/prov-replica-bench --phases nosuch 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[256];
  while (fgets(buf, sizeof(buf), p) != nullptr) out += buf;
  const int rc = pclose(p);
  EXPECT_EQ(WEXITSTATUS(rc), 2);
  EXPECT_NE(out.find("unknown phase \"nosuch\""), std::string::npos) << out;
}

}  // namespace
}  // namespace prov::bench
