// The agent's watchdog on fakes: /proc/self/stat and statm written into a temp folder (the
// injected self_dir) and a FakeClock. Sustained CPU over the limit backs off (and only
// sustained), low CPU recovers, resident memory over the limit asks for an exit, the backed-off
// interval is capped, and unreadable files or zero limits change nothing.
#include "agent/watchdog/watchdog.h"

#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "common/fs.h"
#include "common/testing/fake_clock.h"
#include "gtest/gtest.h"
#include "tests/agent/fixture_tree.h"

namespace prov::agent {
namespace {

class WatchdogTest : public ::testing::Test {
 protected:
  // The agent has used `cpu_seconds` of CPU in all and holds `rss_mib` resident.
  void Usage(double cpu_seconds, uint64_t rss_mib) {
    const long ticks = static_cast<long>(cpu_seconds * static_cast<double>(sysconf(_SC_CLK_TCK)));
    // Fields after "(comm)": state, ppid, ..., utime (14th field), stime (15th).
    const std::string stat = absl::StrCat("4242 (prov agent) S 1 4242 4242 0 -1 4194560 100 0 0 0 ",
                                          ticks / 2, " ", ticks - ticks / 2, " 0 0 20 0 9 0\n");
    const uint64_t pages = (rss_mib << 20) / static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
    ASSERT_TRUE(WriteFileAtomically(dir_.root() + "/stat", stat).ok());
    ASSERT_TRUE(
        WriteFileAtomically(dir_.root() + "/statm", absl::StrCat("9000 ", pages, " 0\n")).ok());
  }
  WatchdogOptions Options() {
    WatchdogOptions o;
    o.cpu_percent = 10;
    o.memory_bytes = 200u << 20;
    o.self_dir = dir_.root();
    return o;
  }
  // One collection period of `seconds` in which the agent used `cpu` seconds of CPU.
  WatchdogStatus Period(Watchdog& dog, double seconds, double cpu) {
    cpu_ += cpu;
    Usage(cpu_, 40);
    clock_.Advance(absl::Seconds(seconds));
    return dog.Check();
  }

  testing::FixtureTree dir_;
  FakeClock clock_;
  double cpu_ = 1.0;
};

TEST_F(WatchdogTest, SustainedCpuOverTheLimitBacksOffThenRecovers) {
  Watchdog dog(Options(), clock_);
  Usage(cpu_, 40);
  EXPECT_EQ(dog.Check().change, WatchdogChange::kNone);  // the first check only takes a baseline
  // 2 s of CPU per 10 s: 20 % of a core, twice the limit.
  EXPECT_EQ(Period(dog, 10, 2).change, WatchdogChange::kNone);
  EXPECT_EQ(Period(dog, 10, 2).change, WatchdogChange::kNone);
  WatchdogStatus s = Period(dog, 10, 2);
  EXPECT_NEAR(s.cpu_percent, 20, 0.5);
  EXPECT_EQ(s.change, WatchdogChange::kBackedOff);
  EXPECT_EQ(s.level, 1);
  EXPECT_TRUE(dog.skip_expensive());
  EXPECT_EQ(dog.Interval(absl::Seconds(10)), absl::Seconds(20));
  // Still over (now per 20 s): the next level, then no further.
  for (int i = 0; i < 2; ++i) EXPECT_EQ(Period(dog, 20, 4).change, WatchdogChange::kNone);
  EXPECT_EQ(Period(dog, 20, 4).change, WatchdogChange::kBackedOff);
  EXPECT_EQ(dog.Interval(absl::Seconds(10)), absl::Seconds(40));
  for (int i = 0; i < 6; ++i) EXPECT_EQ(Period(dog, 40, 8).level, 2);  // max_level
  // Under half the limit (1 %) for three checks in a row: one level down each time.
  for (int i = 0; i < 2; ++i) EXPECT_EQ(Period(dog, 40, 0.4).change, WatchdogChange::kNone);
  s = Period(dog, 40, 0.4);
  EXPECT_EQ(s.change, WatchdogChange::kRecovered);
  EXPECT_EQ(s.level, 1);
  for (int i = 0; i < 2; ++i) Period(dog, 20, 0.2);
  EXPECT_EQ(Period(dog, 20, 0.2).change, WatchdogChange::kRecovered);
  EXPECT_EQ(dog.level(), 0);
  EXPECT_FALSE(dog.skip_expensive());
  EXPECT_EQ(dog.Interval(absl::Seconds(10)), absl::Seconds(10));
}

TEST_F(WatchdogTest, ASpikeIsNotSustained) {
  Watchdog dog(Options(), clock_);
  Usage(cpu_, 40);
  dog.Check();
  for (int round = 0; round < 5; ++round) {
    EXPECT_EQ(Period(dog, 10, 3).change, WatchdogChange::kNone);  // 30 %
    EXPECT_EQ(Period(dog, 10, 3).change, WatchdogChange::kNone);
    EXPECT_EQ(Period(dog, 10, 0.7).change, WatchdogChange::kNone);  // 7 %: resets the run
  }
  EXPECT_EQ(dog.level(), 0);
}

TEST_F(WatchdogTest, ResidentMemoryOverTheLimitAsksForAnExit) {
  Watchdog dog(Options(), clock_);
  Usage(cpu_, 150);
  EXPECT_EQ(dog.Check().change, WatchdogChange::kNone);
  Usage(cpu_, 201);
  clock_.Advance(absl::Seconds(10));
  WatchdogStatus s = dog.Check();
  EXPECT_EQ(s.change, WatchdogChange::kOverMemory);
  EXPECT_EQ(s.rss_bytes, uint64_t{201} << 20);
}

TEST_F(WatchdogTest, TheBackedOffIntervalIsCapped) {
  WatchdogOptions o = Options();
  o.sustained_checks = 1;
  Watchdog dog(o, clock_);
  Usage(cpu_, 40);
  dog.Check();
  Period(dog, 30, 30);
  Period(dog, 60, 60);
  EXPECT_EQ(dog.level(), 2);
  EXPECT_EQ(dog.Interval(absl::Seconds(30)), absl::Seconds(45));  // not 120 s
  EXPECT_EQ(dog.Interval(absl::Seconds(60)), absl::Seconds(60));  // never below the base
  EXPECT_EQ(dog.Interval(absl::Seconds(5)), absl::Seconds(20));
}

TEST_F(WatchdogTest, UnreadableFilesAndZeroLimitsChangeNothing) {
  WatchdogOptions o = Options();
  o.self_dir = dir_.root() + "/missing";
  Watchdog blind(o, clock_);
  for (int i = 0; i < 5; ++i) {
    clock_.Advance(absl::Seconds(10));
    EXPECT_EQ(blind.Check().change, WatchdogChange::kNone);
  }
  o = Options();
  o.cpu_percent = 0;
  o.memory_bytes = 0;
  Watchdog off(o, clock_);
  Usage(cpu_, 4000);
  off.Check();
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Period(off, 10, 10).change, WatchdogChange::kNone);
}

}  // namespace
}  // namespace prov::agent
