// Everything the agent parses comes from outside (procfs of customer processes, sysfs, operator
// files): random and truncated inputs must give errors or empty results, never a crash or hang.
// Deterministic (fixed seed) so a failure reproduces; run under the asan preset for full effect.
#include <random>

#include "agent/collect/account_map.h"
#include "agent/collect/cgroup_parser.h"
#include "agent/collect/classifier.h"
#include "agent/collect/kubelet_pods.h"
#include "agent/collect/net_peers.h"
#include "agent/collect/nvidia_procfs.h"
#include "agent/collect/process_scanner.h"
#include "gtest/gtest.h"

namespace prov::agent {
namespace {

const char* const kSeeds[] = {
    "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1_2.slice/crio-ab.scope\n",
    ("12:memory:/slurm/uid_1000/job_77/step_3/task_0\n0::/system.slice/slurmstepd.scope/job_9/"
     "step_0"),
    "   0: 0500000A:1F90 0600000A:D431 01 00000000:00000000 00:00000000 00000000 1000 0 501 1 0\n",
    "Device Minor: \t 3\nGPU UUID: \t GPU-11111111-2222-3333-4444-555555555555\n",
    "42 (py (x)) S 7 1 1 0 -1 0 0 0 0 0 5 3 0 0 20 0 8 0 123456 1 2",
    "uid:1000 a\nuser:alice b\nnamespace:ml c\nslurm-account:x d\n",
    R"({"items":[{"metadata":{"uid":"u","labels":{"a":"b"}},"status":{"containerStatuses":[{"containerID":"containerd://x","imageID":"y@sha256:z"}]}}]})",
    "SLURM_JOB_ACCOUNT=a\0RANK=1\0DEEPSPEED_X=1\0",
};

std::string Mutate(std::string s, std::mt19937& rng) {
  std::uniform_int_distribution<int> op(0, 3), byte(0, 255);
  int edits = 1 + static_cast<int>(rng() % 8);
  for (int i = 0; i < edits; ++i) {
    size_t pos = s.empty() ? 0 : rng() % s.size();
    switch (op(rng)) {
      case 0:
        if (!s.empty()) s[pos] = static_cast<char>(byte(rng));
        break;
      case 1:
        s.insert(pos, 1, static_cast<char>(byte(rng)));
        break;
      case 2:
        s = s.substr(0, pos);  // truncation, as when a process exits mid-read
        break;
      case 3:
        s.insert(pos, std::string(1 + rng() % 4, "/:_-0 \n\t\0"[rng() % 9]));
        break;
    }
  }
  return s;
}

TEST(ParserRobustnessTest, MutatedAndRandomInputs) {
  std::mt19937 rng(20261125);
  std::vector<std::string> errors;
  for (int round = 0; round < 3000; ++round) {
    std::string in = Mutate(kSeeds[round % (sizeof(kSeeds) / sizeof(kSeeds[0]))], rng);
    CgroupInfo c = ParseCgroupFile(in);
    if (c.kind == CgroupKind::kK8sPod) {
      EXPECT_FALSE(c.pod_uid.empty()) << in;
    }
    if (c.kind == CgroupKind::kSlurmJob) {
      EXPECT_FALSE(c.slurm_job_id.empty()) << in;
    }
    for (const auto& s : ParseProcNetTcp(in, round % 2 == 1, "fuzz", &errors)) {
      EXPECT_LE(s.local_port, 65535u);
      EXPECT_LE(s.remote_port, 65535u);
    }
    NvidiaProcfsInfo info = ParseNvidiaInformation(in);
    if (info.minor) {
      EXPECT_GE(*info.minor, 0);
    }
    uint32_t ppid = 0;
    uint64_t start = 0;
    ParseStat(in, &ppid, &start);
    ParseStatusUid(in);
    SplitCmdline(in);
    std::string env = in;
    for (const auto& [name, value] : FilterEnviron(env)) {
      bool allowed = false;
      for (const char* a : kAllowedEnv) allowed |= name == a;
      EXPECT_TRUE(allowed || value.empty()) << name;  // only allow-listed values survive
    }
    (void)ParseAccountMap(in, "fuzz");
    (void)ParseKubeletPods(in, "fuzz");
    ParsePasswd(in);
    ModelSizeHint({in});
  }
}

}  // namespace
}  // namespace prov::agent
