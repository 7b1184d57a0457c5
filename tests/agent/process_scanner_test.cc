#include "agent/collect/process_scanner.h"

#include <algorithm>

#include "gtest/gtest.h"
#include "tests/agent/fixture_tree.h"

namespace prov::agent {
namespace {

using testing::FixtureTree;

TEST(ProcessScannerTest, EnvironKeepsOnlyAllowListAndMarkerNames) {
  constexpr char kEnv[] =
      "SLURM_JOB_ACCOUNT=physics\0HF_TOKEN=hf_secret\0RANK=3\0"
      "DEEPSPEED_ZERO_STAGE=3\0ACCELERATE_MIXED_PRECISION=bf16\0"
      "AWS_SECRET_ACCESS_KEY=abc\0MASTER_ADDR=10.0.0.1\0NOEQUALS\0";
  std::string raw(kEnv, sizeof(kEnv) - 1);
  auto env = FilterEnviron(raw);
  EXPECT_TRUE(raw.empty());
  EXPECT_EQ(env.size(), 5u);
  EXPECT_EQ(env["SLURM_JOB_ACCOUNT"], "physics");
  EXPECT_EQ(env["RANK"], "3");
  EXPECT_EQ(env["MASTER_ADDR"], "10.0.0.1");
  EXPECT_EQ(env["DEEPSPEED_ZERO_STAGE"], "");  // name only, value dropped
  EXPECT_EQ(env["ACCELERATE_MIXED_PRECISION"], "");
  EXPECT_FALSE(env.count("HF_TOKEN"));
  EXPECT_FALSE(env.count("AWS_SECRET_ACCESS_KEY"));
}

TEST(ProcessScannerTest, StatAndStatusParsers) {
  uint32_t ppid = 0;
  uint64_t start = 0;
  ASSERT_TRUE(ParseStat("42 (my (odd) name) S 7 1 1 0 -1 0 0 0 0 0 5 3 0 0 20 0 8 0 123456 1 2",
                        &ppid, &start));
  EXPECT_EQ(ppid, 7u);
  EXPECT_EQ(start, 123456u);
  EXPECT_FALSE(ParseStat("42 (x) S 7", &ppid, &start));
  EXPECT_FALSE(ParseStat("garbage", &ppid, &start));
  EXPECT_EQ(ParseStatusUid("Name:\tx\nUid:\t1001\t1001\t1001\t1001\n"), 1001u);
  EXPECT_EQ(ParseStatusUid("Name:\tx\n"), std::nullopt);
  EXPECT_EQ(SplitCmdline(std::string("python\0-m\0vllm.entrypoints\0", 27)),
            (std::vector<std::string>{"python", "-m", "vllm.entrypoints"}));
  EXPECT_TRUE(SplitCmdline("").empty());
}

TEST(ProcessScannerTest, FindsOnlyAcceleratorUsersWithTheirDetails) {
  FixtureTree t;
  t.AddProcess({.pid = 100, .argv = {"torchrun", "--nproc-per-node=8", "train.py"}});
  t.AddProcess(
      {.pid = 101,
       .ppid = 100,
       .uid = 1001,
       .start_ticks = 777,
       .argv = {"python3", "train.py", "--token=s3cret"},
       .env = {{"RANK", "0"}, {"SECRET", "x"}},
       .cgroup = "0::/system.slice/slurmstepd.scope/job_5/step_0\n",
       .fds = {"/dev/null", "/dev/nvidiactl", "/dev/nvidia3", "/dev/nvidia3", "socket:[9001]",
               "pipe:[5]", "/dev/dri/renderD128", "/dev/kfd", "/dev/accel/accel2", "/dev/accel1",
               "/dev/davinci4", "/dev/davinci_manager"}});
  t.AddProcess({.pid = 102, .argv = {"bash"}, .fds = {"/dev/pts/0", "socket:[1]"}});
  t.Write("proc/self/stat", "x");  // non-numeric entries are ignored
  ProcessScanStats stats;
  auto procs = ScanAcceleratorProcesses(t.proc(), &stats);
  EXPECT_EQ(stats.processes_seen, 3u);
  ASSERT_EQ(procs.size(), 1u);
  const ProcessInfo& p = procs[0];
  EXPECT_EQ(p.pid, 101u);
  EXPECT_EQ(p.ppid, 100u);
  EXPECT_EQ(p.uid, 1001u);
  EXPECT_EQ(p.start_ticks, 777u);
  EXPECT_EQ(p.argv.size(), 3u);
  EXPECT_EQ(p.parent_argv.front(), "torchrun");
  EXPECT_EQ(p.env.size(), 1u);
  EXPECT_EQ(p.socket_inodes, std::vector<uint64_t>{9001});
  EXPECT_NE(p.cgroup.find("job_5"), std::string::npos);
  std::vector<DeviceRef> want = {{DeviceKind::kNvidiaControl, -1}, {DeviceKind::kNvidia, 3},
                                 {DeviceKind::kAmdRender, 128},    {DeviceKind::kAmdKfd, -1},
                                 {DeviceKind::kAccel, 2},          {DeviceKind::kAccel, 1},
                                 {DeviceKind::kDavinci, 4},        {DeviceKind::kDavinci, -1}};
  // fd/* is listed in name order ("10" < "3"), so compare as sets.
  auto key = [](const DeviceRef& r) { return std::make_pair(static_cast<int>(r.kind), r.index); };
  auto sorted = [&](std::vector<DeviceRef> v) {
    std::sort(v.begin(), v.end(), [&](const auto& a, const auto& b) { return key(a) < key(b); });
    return v;
  };
  EXPECT_EQ(sorted(p.devices), sorted(want));
}

TEST(ProcessScannerTest, ReadProcessMissingIsNotFound) {
  FixtureTree t;
  t.AddProcess({.pid = 5, .argv = {"x"}});
  EXPECT_TRUE(ReadProcess(t.proc(), 5).ok());
  EXPECT_TRUE(absl::IsNotFound(ReadProcess(t.proc(), 6).status()));
}

}  // namespace
}  // namespace prov::agent
