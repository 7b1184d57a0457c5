// Runs the real prov-ingest-bench against the real prov-noop-sink (child processes, loopback)
// for a couple of seconds in both modes and checks the figures are coherent: every report that
// fell due was sent and acked, none rejected, no stream failed. No timing is asserted.
#include <cstdio>
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

// The value of "key": <number> in the first target of the JSON output.
double Field(const std::string& json, const std::string& key) {
  std::smatch m;
  if (!std::regex_search(json, m, std::regex("\"" + key + "\": (-?[0-9.]+)"))) {
    ADD_FAILURE() << "no " << key << " in " << json;
    return -1;
  }
  return std::stod(m[1]);
}

std::string RunBench(const std::string& args) {
  const std::string json = (std::filesystem::temp_directory_path() /
                            ("prov-bench-smoke-" + std::to_string(getpid()) + ".json"))
                               .string();
  const std::string cmd = BinDir() + "/prov-ingest-bench --targets sink --json-out " + json + " " +
                          args + " > /dev/null";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  absl::StatusOr<std::string> text = ReadFileToString(json);
  std::filesystem::remove(json);
  EXPECT_TRUE(text.ok()) << text.status();
  return text.ok() ? *text : "";
}

TEST(IngestBenchSmokeTest, SaturationAgainstTheSinkAcksWhatItSends) {
  const std::string json = RunBench("--mode saturation --agents 20 --seconds 2 --warmup 1s");
  EXPECT_EQ(Field(json, "connected"), 20);
  EXPECT_GT(Field(json, "acked"), 0);
  EXPECT_GT(Field(json, "reports_per_second"), 0);
  EXPECT_EQ(Field(json, "rejected"), 0);
  EXPECT_EQ(Field(json, "streams_failed"), 0);
  EXPECT_GT(Field(json, "target_cpu_seconds"), 0);
  EXPECT_GT(Field(json, "target_peak_rss_mib"), 1);
}

TEST(IngestBenchSmokeTest, CadenceAcksEveryReportThatFellDue) {
  // 20 agents every 500 ms for 2 s: 4 rounds of 20 reports.
  const std::string json =
      RunBench("--mode cadence --agents 20 --interval 500ms --seconds 2 --drain 20s");
  EXPECT_EQ(Field(json, "requested"), 80);
  EXPECT_EQ(Field(json, "sent"), 80);
  EXPECT_EQ(Field(json, "acked"), 80);
  EXPECT_EQ(Field(json, "unacked_at_end"), 0);
  EXPECT_GT(Field(json, "latency_max_ms"), 0);
}

TEST(IngestBenchSmokeTest, UnknownTargetFailsWithItsName) {
  const std::string cmd = BinDir() +
                          "/prov-ingest-bench --targets nosuch --agents 1 --seconds 1 "
                          "> /dev/null 2>&1";
  EXPECT_NE(std::system(cmd.c_str()), 0);
}

}  // namespace
}  // namespace prov::bench
