#include "tools/bench/proc_stats.h"

#include <unistd.h>

#include "gtest/gtest.h"

namespace prov::bench {
namespace {

// A real /proc/<pid>/stat line whose comm holds a space and a ')'.
constexpr char kStat[] =
    "4242 (my prog) x) S 1 4242 4242 0 -1 4194560 1234 0 0 0 700 55 0 0 20 0 9 0 12345 "
    "123456789 2345 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0\n";

TEST(ProcStatsTest, CpuTicksCountFieldsFromTheLastParen) {
  absl::StatusOr<uint64_t> ticks = ParseStatCpuTicks(kStat);
  ASSERT_TRUE(ticks.ok()) << ticks.status();
  EXPECT_EQ(*ticks, 755u);
}

TEST(ProcStatsTest, TruncatedStatIsAnError) {
  EXPECT_FALSE(ParseStatCpuTicks("4242 (x) S 1 2 3").ok());
  EXPECT_FALSE(ParseStatCpuTicks("no paren at all").ok());
  EXPECT_FALSE(ParseStatCpuTicks("1 (x) S 1 1 1 0 -1 0 0 0 0 0 abc 5 0").ok());
}

TEST(ProcStatsTest, StatusGivesRssPeakAndThreads) {
  ProcSample s;
  ASSERT_TRUE(ParseStatus("Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\nThreads:\t7\n", s).ok());
  EXPECT_EQ(s.rss_bytes, 1024u * 1024);
  EXPECT_EQ(s.peak_rss_bytes, 2048u * 1024);
  EXPECT_EQ(s.threads, 7);
}

TEST(ProcStatsTest, StatusWithoutRssOrWithBadNumbersIsAnError) {
  ProcSample s;
  EXPECT_FALSE(ParseStatus("Name:\tzombie\nThreads:\t1\n", s).ok());
  EXPECT_FALSE(ParseStatus("VmRSS:\t12 MB\n", s).ok());
  EXPECT_FALSE(ParseStatus("VmRSS:\tlots kB\n", s).ok());
}

TEST(ProcStatsTest, MachineBusySkipsIdleAndIowait) {
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  absl::StatusOr<double> busy =
      ParseMachineBusySeconds("cpu  100 5 50 9000 300 7 3 0 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n");
  ASSERT_TRUE(busy.ok()) << busy.status();
  EXPECT_DOUBLE_EQ(*busy, 165 / tick);
  EXPECT_FALSE(ParseMachineBusySeconds("cpu0 1 2 3 4 5 6 7 8\n").ok());
  EXPECT_FALSE(ParseMachineBusySeconds("cpu 1 2 x 4 5 6 7 8\n").ok());
  EXPECT_TRUE(ReadMachineBusySeconds("/proc").ok());
}

TEST(ProcStatsTest, ReadsThisProcess) {
  absl::StatusOr<ProcSample> s = ReadSelfSample("/proc");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_GT(s->rss_bytes, 0u);
  EXPECT_GE(s->peak_rss_bytes, s->rss_bytes);
  EXPECT_GE(s->threads, 1);
  EXPECT_FALSE(ReadProcSample("/nonexistent-procfs", 1).ok());
}

}  // namespace
}  // namespace prov::bench
