// Issue 14: a tenant with root on the node controls environments, command lines, cgroup paths,
// kubelet's pod JSON, passwd and what NVML says. Whatever bytes it puts there, the report the
// collector builds must serialize and parse back (proto3 strings are UTF-8), stay bounded, keep
// the raw value's digest where it is evidence, and say in health what was repaired.
#include <net/if.h>
#include <sys/socket.h>

#include <map>

#include "agent/collect/account_map.h"
#include "agent/collect/node_collector.h"
#include "agent/collect/report_strings.h"
#include "agent/nvml/fake_nvml.h"
#include "common/sha256.h"
#include "common/testing/fake_clock.h"
#include "common/utf8.h"
#include "gtest/gtest.h"
#include "tests/agent/fixture_tree.h"

namespace prov::agent {
namespace {

using provenance::v1::NodeReport;
using provenance::v1::Workload;
using testing::FixtureTree;

constexpr char kBoot[] = "2431f2f7-9d93-448f-9344-e16c78ae6abe";
constexpr char kBadAddr[] = "10.20.0.\xff\xfe";
const std::string kFffd = "\xEF\xBF\xBD";

class NodeStringsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    t_.AddBoot(kBoot, 1'700'000'000);
    t_.Write("etc/machine-id", "0123456789abcdef0123456789abcdef\n");
    t_.AddPci("0000:3b:00.0", 0x10de, 0x2330, 0x030200, "nvidia");
    opts_.sysfs_root = t_.sys();
    opts_.procfs_root = t_.proc();
    opts_.machine_id_file = t_.Path("etc/machine-id");
    opts_.hostname = "gpu-node-1";
    opts_.address_source = &addresses_;
  }

  // Collects, checks the report survives the wire, and returns it.
  NodeReport CollectAndRoundTrip(Nvml* nvml = nullptr) {
    NodeCollector collector(opts_, nvml, clock_);
    NodeReport r = collector.Collect();
    NodeReport back;
    EXPECT_TRUE(back.ParseFromString(r.SerializeAsString())) << "report does not parse back";
    return r;
  }

  std::string StringsError(const NodeReport& r) {
    for (const auto& e : r.health().collector_errors()) {
      if (e.collector() == "strings") return e.message();
    }
    return "";
  }

  FixtureTree t_;
  NodeCollectorOptions opts_;
  FakeClock clock_{absl::FromUnixSeconds(1'700'000'123)};
  FixedInterfaceAddressSource addresses_{{{"eth0", AF_INET, "10.0.0.5", IFF_UP}}};
};

TEST_F(NodeStringsTest, InvalidMasterAddrIsRepairedAndKeepsItsRawDigest) {
  t_.AddProcess({.pid = 200,
                 .argv = {"torchrun", "train.py"},
                 .env = {{"RANK", "0"},
                         {"WORLD_SIZE", "2"},
                         {"MASTER_ADDR", kBadAddr},
                         {"MASTER_PORT", "29500"}},
                 .fds = {"/dev/nvidia0"}});
  NodeReport r = CollectAndRoundTrip();
  ASSERT_EQ(r.workloads_size(), 1);
  const auto& d = r.workloads(0).distributed();
  EXPECT_EQ(d.master_addr(), "10.20.0." + kFffd + kFffd);
  EXPECT_EQ(d.master_addr_raw_sha256(), Sha256Hex(kBadAddr));
  EXPECT_EQ(d.master_port(), 29500u);
  EXPECT_EQ(r.health().strings_repaired(), 1u);
  EXPECT_EQ(r.health().strings_truncated(), 0u);
  EXPECT_NE(StringsError(r).find("provenance.v1.DistributedMarkers.master_addr"), std::string::npos)
      << r.health().DebugString();
}

TEST_F(NodeStringsTest, CleanNodeReportsNothingRepaired) {
  t_.AddProcess({.pid = 200,
                 .argv = {"torchrun", "train.py"},
                 .env = {{"MASTER_ADDR", "10.20.0.7"}},
                 .fds = {"/dev/nvidia0"}});
  NodeReport r = CollectAndRoundTrip();
  EXPECT_EQ(r.workloads(0).distributed().master_addr(), "10.20.0.7");
  EXPECT_EQ(r.workloads(0).distributed().master_addr_raw_sha256(), "");
  EXPECT_EQ(r.health().strings_repaired(), 0u);
  EXPECT_EQ(r.health().strings_truncated(), 0u);
  EXPECT_EQ(StringsError(r), "");
}

TEST_F(NodeStringsTest, OversizedAndInvalidSlurmAccountIsBoundedWithRawDigest) {
  const std::string raw = "\xc3(" + std::string(5000, 'a');
  t_.AddProcess({.pid = 200,
                 .argv = {"python3", "train.py"},
                 .env = {{"SLURM_JOB_ID", "77"},
                         {"SLURM_JOB_ACCOUNT", raw},
                         {"SLURM_CLUSTER_NAME", std::string(3000, 'k')},
                         {"MASTER_ADDR", std::string(300, 'm')}},
                 .cgroup = "0::/system.slice/slurmstepd.scope/job_77/step_0/user/task_0\n",
                 .fds = {"/dev/nvidia0"}});
  NodeReport r = CollectAndRoundTrip();
  ASSERT_EQ(r.workloads_size(), 1);
  const Workload& w = r.workloads(0);
  EXPECT_EQ(w.attribution().account().size(), 255u);
  EXPECT_EQ(w.attribution().account().substr(0, 4), kFffd + "(");
  EXPECT_EQ(w.attribution().account_raw_sha256(), Sha256Hex(raw));
  EXPECT_EQ(w.workload_id().size(), 255u);
  EXPECT_EQ(w.distributed().master_addr(), std::string(255, 'm'));
  EXPECT_EQ(w.distributed().master_addr_raw_sha256(), Sha256Hex(std::string(300, 'm')));
  EXPECT_EQ(r.health().strings_repaired(), 1u);
  EXPECT_EQ(r.health().strings_truncated(), 3u);  // account, workload id, master_addr
}

TEST_F(NodeStringsTest, CmdlineIsDigestedRawAndCgroupPathIsRepairedAndBounded) {
  const std::string cgroup = "0::/user.slice/\xfe" + std::string(6000, 'x') + ".scope\n";
  t_.AddProcess(
      {.pid = 200, .argv = {"python3", "tr\xffin.py"}, .cgroup = cgroup, .fds = {"/dev/nvidia0"}});
  NodeReport r = CollectAndRoundTrip();
  ASSERT_EQ(r.workloads_size(), 1);
  const Workload& w = r.workloads(0);
  // The digest is of the raw argv (evidence), not of a repaired copy.
  EXPECT_EQ(w.cmdline_digest(), Sha256Hex(std::string("python3") + '\0' + "tr\xffin.py"));
  EXPECT_EQ(w.cgroup_path().size(), 4096u);
  EXPECT_TRUE(IsValidUtf8(w.cgroup_path()));
  EXPECT_GE(r.health().strings_repaired(), 1u);
  EXPECT_GE(r.health().strings_truncated(), 1u);
}

TEST_F(NodeStringsTest, KubeletJsonOversizedValuesAndInvalidBytes) {
  t_.AddProcess(
      {.pid = 400,
       .argv = {"vllm", "serve", "m"},
       .cgroup = "0::/kubepods.slice/kubepods-pod12_34.slice/cri-containerd-abcdef.scope\n",
       .fds = {"/dev/nvidia0"}});
  t_.Write("pods.json", absl::StrCat(R"({"items":[{"metadata":{"uid":"12-34","name":")",
                                     std::string(10000, 'n'), R"(","namespace":"ml","labels":{
    "provenance.io/account":")",
                                     std::string(2000, 'a'), R"("}},"status":{"containerStatuses":[
    {"containerID":"containerd://abcdef","imageID":"reg/vllm@sha256:feed"}]}}]})"));
  opts_.kubelet_pods_file = t_.Path("pods.json");
  NodeReport r = CollectAndRoundTrip();
  ASSERT_EQ(r.workloads_size(), 1);
  EXPECT_EQ(r.workloads(0).pod_name(), std::string(253, 'n'));
  EXPECT_EQ(r.workloads(0).attribution().account(), std::string(255, 'a'));
  EXPECT_EQ(r.workloads(0).attribution().account_raw_sha256(), Sha256Hex(std::string(2000, 'a')));

  // Raw invalid bytes in the JSON: the file is refused (an error in health), the report is fine.
  t_.Write("pods.json", "{\"items\":[{\"metadata\":{\"uid\":\"12-34\",\"name\":\"\xff\xfe\"}}]}");
  r = CollectAndRoundTrip();
  bool kubelet_error = false;
  for (const auto& e : r.health().collector_errors()) {
    kubelet_error |= e.collector() == "kubelet";
    EXPECT_TRUE(IsValidUtf8(e.message()));
  }
  EXPECT_TRUE(kubelet_error) << r.health().DebugString();
}

TEST_F(NodeStringsTest, PasswdNameAndNvmlStringsAreRepaired) {
  std::map<uint32_t, std::string> users = ParsePasswd("r\xe9my:x:1000:1000::/home/remy:/bin/sh\n");
  ASSERT_EQ(users.count(1000), 1u);
  opts_.attribution.users = &users;
  t_.AddProcess({.pid = 200, .uid = 1000, .argv = {"python3"}, .fds = {"/dev/nvidia0"}});
  FakeNvml nvml;
  NvmlDeviceInfo info;
  info.uuid = "GPU-\xff";
  info.serial = std::string(5000, '7');
  info.board_part_number = "692\x80";
  info.name = "NVIDIA H100";
  nvml.AddDevice("0000:3b:00.0", info);
  NodeReport r = CollectAndRoundTrip(&nvml);
  ASSERT_EQ(r.workloads_size(), 1);
  EXPECT_EQ(r.workloads(0).attribution().account(), "r" + kFffd + "my");
  EXPECT_EQ(r.workloads(0).attribution().account_raw_sha256(), Sha256Hex("r\xe9my"));
  EXPECT_EQ(r.accelerators(0).uuid(), "GPU-" + kFffd);
  EXPECT_EQ(r.accelerators(0).serial().size(), 255u);
  EXPECT_EQ(r.accelerators(0).board_part_number(), "692" + kFffd);
  EXPECT_EQ(r.health().strings_repaired(), 3u);
  EXPECT_EQ(r.health().strings_truncated(), 1u);
}

}  // namespace
}  // namespace prov::agent
