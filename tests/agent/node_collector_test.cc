#include "agent/collect/node_collector.h"

#include <net/if.h>
#include <sys/socket.h>

#include <map>

#include "agent/nvml/fake_nvml.h"
#include "common/sha256.h"
#include "common/testing/fake_clock.h"
#include "gtest/gtest.h"
#include "tests/agent/fixture_tree.h"

namespace prov::agent {
namespace {

using provenance::v1::NodeReport;
using provenance::v1::Workload;
using testing::FixtureTree;

constexpr char kBoot[] = "2431f2f7-9d93-448f-9344-e16c78ae6abe";

class NodeCollectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    t_.AddBoot(kBoot, 1'700'000'000);
    t_.Write("etc/machine-id", "0123456789abcdef0123456789abcdef\n");
    t_.AddPci("0000:3b:00.0", 0x10de, 0x2330, 0x030200, "nvidia");
    t_.AddPci("0000:3c:00.0", 0x10de, 0x2330, 0x030200, "nvidia");
    t_.AddNvidiaInfo("0000:3b:00.0", 0, "GPU-11111111-2222-3333-4444-555555555555");
    t_.AddNvidiaInfo("0000:3c:00.0", 1, "GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee");
    opts_.sysfs_root = t_.sys();
    opts_.procfs_root = t_.proc();
    opts_.machine_id_file = t_.Path("etc/machine-id");
    opts_.hostname = "gpu-node-1";
    opts_.datacenter = "fra1";
    opts_.region = "eu-central";
    opts_.address_source = &addresses_;
  }

  std::map<std::string, Workload> ById(const NodeReport& r) {
    std::map<std::string, Workload> out;
    for (const auto& w : r.workloads()) out[w.workload_id()] = w;
    return out;
  }

  FixtureTree t_;
  NodeCollectorOptions opts_;
  FakeClock clock_{absl::FromUnixSeconds(1'700'000'123)};
  FixedInterfaceAddressSource addresses_{{{"lo", AF_INET, "127.0.0.1", IFF_UP | IFF_LOOPBACK},
                                          {"eth0", AF_INET6, "2001:db8::5", IFF_UP},
                                          {"eth0", AF_INET6, "fe80::5", IFF_UP},
                                          {"eth0", AF_INET, "10.0.0.5", IFF_UP}}};
};

TEST_F(NodeCollectorTest, WithoutNvmlUsesDriverProcfs) {
  t_.AddProcess({.pid = 200,
                 .uid = 1000,
                 .start_ticks = 12345,
                 .argv = {"python3", "train.py", "--lr=3e-4"},
                 .env = {{"SLURM_JOB_ACCOUNT", "physics"},
                         {"SLURM_JOB_ID", "77"},
                         {"TORCHELASTIC_RUN_ID", "r1"},
                         {"RANK", "0"},
                         {"WORLD_SIZE", "16"},
                         {"MASTER_ADDR", "10.0.0.9"},
                         {"MASTER_PORT", "29500"}},
                 .cgroup = "0::/system.slice/slurmstepd.scope/job_77/step_0/user/task_0\n",
                 .fds = {"/dev/nvidiactl", "/dev/nvidia1", "socket:[700]"}});
  t_.AddProcess({.pid = 201,
                 .start_ticks = 12346,
                 .argv = {"python3", "train.py"},
                 .env = {{"RANK", "1"}, {"WORLD_SIZE", "16"}},
                 .cgroup = "0::/system.slice/slurmstepd.scope/job_77/step_0/user/task_1\n",
                 .fds = {"/dev/nvidia0"}});
  t_.AddProcess({.pid = 300, .argv = {"nvidia-smi"}, .fds = {"/dev/nvidiactl"}});
  t_.Write("proc/200/net/tcp",
           "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
           "timeout inode\n   0: 0500000A:C350 0900000A:7339 01 00000000:00000000 00:00000000 "
           "00000000  1000        0 700 1 0\n");
  NodeCollector collector(opts_, nullptr, clock_);
  NodeReport r = collector.Collect();

  EXPECT_EQ(r.node().node_id(), "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(r.node().hostname(), "gpu-node-1");
  EXPECT_EQ(r.node().datacenter(), "fra1");
  EXPECT_EQ(r.node().boot_id(), kBoot);
  EXPECT_EQ(std::vector<std::string>(r.node().addresses().begin(), r.node().addresses().end()),
            (std::vector<std::string>{"10.0.0.5", "2001:db8::5"}));
  EXPECT_EQ(r.collected_at().seconds(), 1'700'000'123);
  EXPECT_EQ(r.seq(), 0u);
  EXPECT_FALSE(r.health().nvml_available());
  EXPECT_EQ(r.health().collector_errors_size(), 0) << r.health().DebugString();

  ASSERT_EQ(r.accelerators_size(), 2);
  EXPECT_EQ(r.accelerators(1).device_minor(), 1);
  EXPECT_EQ(r.accelerators(1).uuid(), "GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee");
  EXPECT_EQ(r.accelerators(1).fact_sources().at("uuid"), provenance::v1::FACT_SOURCE_DRIVER_PROCFS);
  ASSERT_EQ(r.samples_size(), 2);
  EXPECT_FALSE(r.samples(0).has_utilization_pct());

  auto w = ById(r);
  ASSERT_EQ(w.size(), 2u);
  const Workload& job = w.at("slurm:77");
  EXPECT_EQ(job.kind(), provenance::v1::WORKLOAD_KIND_SLURM_JOB);
  EXPECT_EQ(job.slurm_step(), "0");
  EXPECT_EQ(std::vector<uint32_t>(job.pids().begin(), job.pids().end()),
            (std::vector<uint32_t>{200, 201}));
  EXPECT_EQ(job.accelerator_pci_addresses_size(), 2);
  EXPECT_EQ(job.attribution().account(), "physics");
  EXPECT_EQ(job.attribution().source(), provenance::v1::ATTRIBUTION_SOURCE_SLURM_ENV);
  EXPECT_EQ(job.workload_class(), provenance::v1::WORKLOAD_CLASS_TRAINING);
  EXPECT_EQ(job.launcher(), "torchrun");
  EXPECT_EQ(job.distributed().world_size(), 16);
  EXPECT_EQ(job.distributed().rank(), 0);
  EXPECT_EQ(job.distributed().master_port(), 29500u);
  EXPECT_EQ(job.cmdline_digest(), Sha256Hex(std::string("python3\0train.py\0--lr=3e-4", 26)));
  EXPECT_EQ(job.started_at().seconds(), 1'700'000'000 + 12345 / 100);
  ASSERT_EQ(job.peers_size(), 1);
  EXPECT_EQ(job.peers(0).remote_address(), "10.0.0.9");
  EXPECT_EQ(job.peers(0).remote_port(), 29497u);

  const Workload& smi = w.at(absl::StrCat("proc:", kBoot, ":300:5000"));
  EXPECT_EQ(smi.kind(), provenance::v1::WORKLOAD_KIND_BARE_PROCESS);
  EXPECT_EQ(smi.accelerator_pci_addresses_size(), 0);
  bool noted = false;
  for (const auto& reason : smi.class_reasons())
    noted |= reason.find("node-level") != std::string::npos;
  EXPECT_TRUE(noted);
  EXPECT_EQ(smi.attribution().source(), provenance::v1::ATTRIBUTION_SOURCE_UNIX_USER);
  EXPECT_EQ(smi.attribution().account(), "uid:1000");

  // Nothing secret leaves: no argument value anywhere in the report.
  EXPECT_EQ(r.DebugString().find("3e-4"), std::string::npos);
}

TEST_F(NodeCollectorTest, NvmlEnrichesAndAddsComputeProcesses) {
  FakeNvml nvml;
  NvmlDeviceInfo a{.uuid = "GPU-nvml-0",
                   .serial = "1650123",
                   .board_part_number = "692-2G520",
                   .name = "NVIDIA H100 80GB HBM3",
                   .memory_total_bytes = 85'520'809'984ull,
                   .memory_used_bytes = 1'000'000,
                   .utilization_gpu_pct = 97,
                   .power_milliwatts = 650'500,
                   .energy_millijoules = 123'456'789,
                   .minor_number = 4};
  a.compute_processes = {{400, 70'000'000'000ull}};
  nvml.AddDevice("0000:3b:00.0", a);  // 0000:3c:00.0 unknown to NVML: an error, not a crash
  t_.AddProcess(
      {.pid = 400,
       .argv = {"vllm", "serve", "m"},
       .cgroup = "0::/kubepods.slice/kubepods-pod12_34.slice/cri-containerd-abcdef.scope\n"});
  t_.Write("pods.json", R"({"items":[{"metadata":{"uid":"12-34","name":"vllm-0","namespace":"ml",
    "labels":{"provenance.io/account":"acme"}},"status":{"containerStatuses":[
    {"containerID":"containerd://abcdef","imageID":"reg/vllm@sha256:feed"}]}}]})");
  opts_.kubelet_pods_file = t_.Path("pods.json");
  NodeCollector collector(opts_, &nvml, clock_);
  NodeReport r = collector.Collect();
  EXPECT_TRUE(r.health().nvml_available());
  const auto& acc = r.accelerators(0);
  EXPECT_EQ(acc.uuid(), "GPU-nvml-0");
  EXPECT_EQ(acc.serial(), "1650123");
  EXPECT_EQ(acc.device_minor(), 4);
  EXPECT_EQ(acc.memory_total_bytes(), 85'520'809'984ull);
  EXPECT_EQ(acc.fact_sources().at("uuid"), provenance::v1::FACT_SOURCE_NVML);
  EXPECT_EQ(acc.fact_sources().at("memory_total_bytes"), provenance::v1::FACT_SOURCE_NVML);
  EXPECT_EQ(acc.model(), "H100 SXM5 80GB");  // catalog model kept when known
  EXPECT_EQ(r.samples(0).source(), provenance::v1::FACT_SOURCE_NVML);
  EXPECT_DOUBLE_EQ(r.samples(0).utilization_pct(), 97);
  EXPECT_DOUBLE_EQ(r.samples(0).power_watts(), 650.5);
  EXPECT_EQ(r.samples(0).energy_millijoules(), 123'456'789u);
  EXPECT_FALSE(r.samples(0).has_tensor_activity());
  EXPECT_FALSE(r.samples(1).has_utilization_pct());
  ASSERT_EQ(r.health().collector_errors_size(), 1);
  EXPECT_EQ(r.health().collector_errors(0).collector(), "nvml");

  ASSERT_EQ(r.workloads_size(), 1);
  const Workload& w = r.workloads(0);
  EXPECT_EQ(w.workload_id(), "k8s:12-34");
  EXPECT_EQ(w.pod_name(), "vllm-0");
  EXPECT_EQ(w.pod_namespace(), "ml");
  EXPECT_EQ(w.image_digest(), "sha256:feed");
  EXPECT_EQ(w.container_runtime(), "containerd");
  EXPECT_EQ(w.attribution().source(), provenance::v1::ATTRIBUTION_SOURCE_K8S_LABEL);
  EXPECT_EQ(w.accelerator_pci_addresses(0), "0000:3b:00.0");
  EXPECT_EQ(w.workload_class(), provenance::v1::WORKLOAD_CLASS_INFERENCE);
}

// The kubelet's PodResources answer (pod_resources.h), fixed for the test.
class FixedPodResources : public PodResourcesSource {
 public:
  absl::StatusOr<DeviceOwnerIndex> List() override {
    ++calls;
    if (!error.ok()) return error;
    return index;
  }
  DeviceOwnerIndex index;
  absl::Status error;
  int calls = 0;
};

TEST_F(NodeCollectorTest, KubeletPodResourcesNameThePodAndFeedAttribution) {
  // No pods file: the pod's name and namespace come from the kubelet's device allocation, and the
  // static map's namespace entry attributes it.
  t_.AddProcess({.pid = 500,
                 .argv = {"python3", "train.py"},
                 .cgroup = "0::/kubepods.slice/kubepods-pod77_88.slice/cri-containerd-beef.scope\n",
                 .fds = {"/dev/nvidiactl", "/dev/nvidia1"}});
  FixedPodResources kubelet;
  kubelet.index.Add("GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
                    {.pod_namespace = "ml-team",
                     .pod_name = "train-0",
                     .container = "trainer",
                     .resource_name = "nvidia.com/gpu"});
  opts_.pod_resources = &kubelet;
  auto map = ParseAccountMap("namespace:ml-team acme-ml\n", "accounts.map");
  ASSERT_TRUE(map.ok());
  opts_.attribution.account_map = &*map;
  NodeCollector collector(opts_, nullptr, clock_);
  NodeReport r = collector.Collect();
  EXPECT_EQ(kubelet.calls, 1);
  ASSERT_EQ(r.workloads_size(), 1);
  const Workload& w = r.workloads(0);
  EXPECT_EQ(w.workload_id(), "k8s:77-88");
  EXPECT_EQ(w.pod_namespace(), "ml-team");
  EXPECT_EQ(w.pod_name(), "train-0");
  EXPECT_EQ(w.attribution().account(), "acme-ml");
  EXPECT_EQ(w.attribution().source(), provenance::v1::ATTRIBUTION_SOURCE_STATIC_MAP);
}

TEST_F(NodeCollectorTest, KubeletPodResourcesDisagreementIsNotedAndErrorsGoToHealth) {
  // The pods file names the process's pod; the kubelet gave the card to another pod.
  t_.AddProcess(
      {.pid = 600,
       .argv = {"python3", "train.py"},
       .cgroup = "0::/kubepods.slice/kubepods-pod12_34.slice/cri-containerd-abcdef.scope\n",
       .fds = {"/dev/nvidia0"}});
  t_.Write("pods.json", R"({"items":[{"metadata":{"uid":"12-34","name":"sneaky-0",
    "namespace":"tenant-b"}}]})");
  opts_.kubelet_pods_file = t_.Path("pods.json");
  FixedPodResources kubelet;
  kubelet.index.Add("0000:3b:00.0", {.pod_namespace = "tenant-a", .pod_name = "rented-0"});
  opts_.pod_resources = &kubelet;
  {
    NodeCollector collector(opts_, nullptr, clock_);
    NodeReport r = collector.Collect();
    ASSERT_EQ(r.workloads_size(), 1);
    const Workload& w = r.workloads(0);
    EXPECT_EQ(w.pod_name(), "sneaky-0");  // what the process really runs in is kept
    bool noted = false;
    for (const auto& reason : w.class_reasons()) {
      noted |= reason.find(
                   "allocated its accelerators to pod tenant-a/rented-0, not to this "
                   "workload's pod tenant-b/sneaky-0") != std::string::npos;
    }
    EXPECT_TRUE(noted) << w.DebugString();
  }
  kubelet.error = absl::UnavailableError("kubelet pod resources at /x.sock: connection refused");
  NodeCollector collector(opts_, nullptr, clock_);
  NodeReport r = collector.Collect();
  bool reported = false;
  for (const auto& e : r.health().collector_errors()) {
    reported |= e.collector() == "podresources" &&
                e.message().find("connection refused") != std::string::npos;
  }
  EXPECT_TRUE(reported) << r.health().DebugString();
  EXPECT_EQ(r.workloads(0).pod_name(), "sneaky-0");
}

TEST_F(NodeCollectorTest, ContainerOnAmdAndHabanaMappedThroughSysfs) {
  t_.AddPci("0000:4a:00.0", 0x1002, 0x74a1, 0x120000, "amdgpu");
  t_.AddPci("0000:4b:00.0", 0x1002, 0x74a1, 0x120000, "amdgpu");
  t_.AddPci("0000:6a:00.0", 0x1da3, 0x1020, 0x120000, "habanalabs");
  t_.Link("sys/class/drm/renderD129/device", "../../../0000:4b:00.0");
  t_.Link("sys/class/accel/accel0/device", "../../../0000:6a:00.0");
  t_.AddProcess({.pid = 500,
                 .argv = {"python3", "serve.py"},
                 .cgroup = "0::/system.slice/docker-0123456789abcdef.scope\n",
                 .fds = {"/dev/kfd", "/dev/dri/renderD129"}});
  t_.AddProcess({.pid = 600,
                 .argv = {"python3", "-m", "deepspeed.launcher.launch", "x.py"},
                 .cgroup = "0::/machine.slice/libpod-feedfacecafe.scope\n",
                 .fds = {"/dev/accel/accel0"}});
  NodeCollector collector(opts_, nullptr, clock_);
  NodeReport r = collector.Collect();
  EXPECT_EQ(r.accelerators_size(), 5);
  auto w = ById(r);
  ASSERT_EQ(w.size(), 2u);
  const Workload& docker = w.at("container:0123456789abcdef");
  EXPECT_EQ(docker.kind(), provenance::v1::WORKLOAD_KIND_CONTAINER);
  EXPECT_EQ(docker.container_runtime(), "docker");
  // /dev/kfd charges every AMD GPU (and says so), renderD129 alone would be 0000:4b:00.0.
  EXPECT_EQ(docker.accelerator_pci_addresses_size(), 2);
  bool noted = false;
  for (const auto& reason : docker.class_reasons()) {
    noted |= reason.rfind("device mapping: /dev/kfd", 0) == 0;
  }
  EXPECT_TRUE(noted);
  const Workload& podman = w.at("container:feedfacecafe");
  EXPECT_EQ(podman.container_runtime(), "podman");
  ASSERT_EQ(podman.accelerator_pci_addresses_size(), 1);
  EXPECT_EQ(podman.accelerator_pci_addresses(0), "0000:6a:00.0");
  EXPECT_EQ(podman.launcher(), "deepspeed");
  EXPECT_EQ(podman.workload_class(), provenance::v1::WORKLOAD_CLASS_TRAINING);
}

TEST_F(NodeCollectorTest, UnreadableFdDirectoriesAreReported) {
  t_.AddProcess({.pid = 10, .argv = {"x"}});
  t_.Write("proc/11/cmdline", "y");  // no fd/ (permission denied looks the same to the agent)
  NodeCollector collector(opts_, nullptr, clock_);
  NodeReport r = collector.Collect();
  ASSERT_EQ(r.health().collector_errors_size(), 1);
  EXPECT_EQ(r.health().collector_errors(0).collector(), "procfs");
  EXPECT_EQ(r.health().collector_errors(0).message(),
            "fd directory unreadable for 1 of 2 processes (permission, or exited)");
}

TEST_F(NodeCollectorTest, BadKubeletFileAndMissingBootIdGoToHealth) {
  FixtureTree empty;
  opts_.procfs_root = empty.proc();
  opts_.sysfs_root = empty.sys();
  opts_.kubelet_pods_file = t_.Path("missing.json");
  opts_.machine_id_file = t_.Path("nope");
  NodeCollector collector(opts_, nullptr, clock_);
  NodeReport r = collector.Collect();
  EXPECT_EQ(r.node().node_id(), "gpu-node-1");  // falls back to the hostname
  std::set<std::string> collectors;
  for (const auto& e : r.health().collector_errors()) collectors.insert(e.collector());
  EXPECT_EQ(collectors, (std::set<std::string>{"kubelet", "pci", "procfs"}));
  EXPECT_EQ(r.accelerators_size(), 0);
  EXPECT_EQ(r.workloads_size(), 0);
}

TEST_F(NodeCollectorTest, AddressesAreReReadEachReportAndErrorsGoToHealth) {
  NodeCollector collector(opts_, nullptr, clock_);
  EXPECT_EQ(collector.Collect().node().addresses_size(), 2);
  // Renumbered: the next report already has the new address; eth0 going down drops its own.
  addresses_.Set(std::vector<InterfaceAddress>{{"eth0", AF_INET, "10.0.0.6", 0},
                                               {"ib0", AF_INET, "192.168.7.2", IFF_UP}});
  NodeReport r = collector.Collect();
  ASSERT_EQ(r.node().addresses_size(), 1);
  EXPECT_EQ(r.node().addresses(0), "192.168.7.2");
  EXPECT_EQ(r.health().collector_errors_size(), 0) << r.health().DebugString();

  addresses_.Set(absl::ErrnoToStatus(ENOBUFS, "getifaddrs"));
  r = collector.Collect();
  EXPECT_EQ(r.node().addresses_size(), 0);
  ASSERT_EQ(r.health().collector_errors_size(), 1) << r.health().DebugString();
  EXPECT_EQ(r.health().collector_errors(0).collector(), "addresses");
  EXPECT_EQ(r.health().collector_errors(0).message(), "getifaddrs: No buffer space available");
  EXPECT_EQ(r.node().node_id(), "0123456789abcdef0123456789abcdef");  // the rest still reported
  EXPECT_EQ(addresses_.calls(), 3);
}

}  // namespace
}  // namespace prov::agent
