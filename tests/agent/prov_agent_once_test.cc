// Runs the real prov-agent binary (--once) on fixture trees and checks its JSON.
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/fs.h"
#include "gtest/gtest.h"
#include "tests/agent/fixture_tree.h"

namespace prov::agent {
namespace {

using nlohmann::json;

struct RunResult {
  int exit_code = -1;
  std::string out, err;
};

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  EXPECT_NE(v, nullptr) << name << " is set by ctest (prov_add_test)";
  return v ? v : "";
}

RunResult RunAgent(const std::string& args, testing::FixtureTree& scratch) {
  std::string err_file = scratch.Path("stderr.txt");
  std::string cmd = absl::StrCat(Env("PROV_BIN_DIR"), "/prov-agent ", args, " 2>", err_file);
  RunResult r;
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (pipe == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), pipe)) > 0) r.out.append(buf, n);
  int status = ::pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = ReadFileToString(err_file).value_or("");
  return r;
}

json FindWorkload(const json& report, const std::string& id) {
  for (const json& w : report["workloads"]) {
    if (w["workload_id"] == id) return w;
  }
  ADD_FAILURE() << "no workload " << id << " in " << report.dump(1);
  return json::object();
}

TEST(ProvAgentOnceTest, ExampleNode) {
  testing::FixtureTree scratch;
  std::string ex = Env("PROV_SOURCE_DIR") + "/tests/fixtures/agent/example-node";
  RunResult r = RunAgent(
      absl::StrCat("--once --sysfs-root ", ex, "/sys --procfs-root ", ex,
                   "/proc --machine-id-file ", ex, "/etc/machine-id --passwd-file ", ex,
                   "/etc/passwd --account-map ", ex, "/etc/account-map --kubelet-pods-file ", ex,
                   "/kubelet-pods.json --datacenter fra1 --region eu-central "
                   "--nvml-library /nonexistent/libnvidia-ml.so.1"),
      scratch);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("NVML unavailable: cannot load /nonexistent/libnvidia-ml.so.1"),
            std::string::npos)
      << r.err;
  json report = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << r.out;

  EXPECT_EQ(report["node"]["node_id"], "4c6f1e2d9a8b7c6d5e4f3a2b1c0d9e8f");
  EXPECT_EQ(report["node"]["boot_id"], "8f4c7a52-3f1e-4b8e-9d2a-6c1b0e7f5a33");
  EXPECT_EQ(report["node"]["datacenter"], "fra1");
  EXPECT_EQ(report["node"]["region"], "eu-central");
  ASSERT_EQ(report["accelerators"].size(), 2u);  // NVSwitch and NIC excluded
  const json& gpu0 = report["accelerators"][0];
  EXPECT_EQ(gpu0["pci_address"], "0000:18:00.0");
  EXPECT_EQ(gpu0["model"], "H100 SXM5 80GB");
  EXPECT_EQ(gpu0["uuid"], "GPU-5e1b1c1a-0c36-4d6b-9f3a-7a2d4b8c9e01");
  EXPECT_EQ(gpu0["fact_sources"]["uuid"], "FACT_SOURCE_DRIVER_PROCFS");
  EXPECT_EQ(report["accelerators"][1]["device_minor"], 1);
  EXPECT_FALSE(report["health"].value("nvml_available", false));
  EXPECT_GT(report["health"].value("cpu_seconds", 0.0) +
                std::stod(report["health"].value("rss_bytes", std::string("0"))),
            0);

  ASSERT_EQ(report["workloads"].size(), 2u);
  json job = FindWorkload(report, "slurm:fra1-a:4242");
  EXPECT_EQ(job["kind"], "WORKLOAD_KIND_SLURM_JOB");
  EXPECT_EQ(job["accelerator_pci_addresses"], json::array({"0000:18:00.0"}));
  EXPECT_EQ(job["attribution"]["account"], "physics-lab");
  EXPECT_EQ(job["attribution"]["source"], "ATTRIBUTION_SOURCE_SLURM_ENV");
  EXPECT_EQ(job["workload_class"], "WORKLOAD_CLASS_TRAINING");
  EXPECT_EQ(job["launcher"], "torchrun");
  EXPECT_TRUE(std::find(job["class_reasons"].begin(), job["class_reasons"].end(),
                        "launcher torchrun") != job["class_reasons"].end())
      << job["class_reasons"].dump();
  EXPECT_EQ(job["distributed"]["world_size"], 16);
  EXPECT_EQ(job["distributed"]["rank"], 8);
  EXPECT_EQ(job["distributed"]["master_addr"], "10.20.0.11");
  EXPECT_EQ(job["peers"].size(), 2u);
  EXPECT_EQ(job["cmdline_digest"].get<std::string>().size(), 64u);

  json pod = FindWorkload(report, "k8s:6b0e2c1d-7a4f-4e3b-9c5d-2f1a0b9c8d7e");
  EXPECT_EQ(pod["kind"], "WORKLOAD_KIND_K8S_POD");
  EXPECT_EQ(pod["pod_name"], "llm-serving-0");
  EXPECT_EQ(pod["pod_namespace"], "inference");
  EXPECT_EQ(pod["container_runtime"], "containerd");
  EXPECT_EQ(pod["accelerator_pci_addresses"], json::array({"0000:3b:00.0"}));
  EXPECT_EQ(pod["attribution"]["account"], "acme-serving");
  EXPECT_EQ(pod["attribution"]["source"], "ATTRIBUTION_SOURCE_K8S_ANNOTATION");
  EXPECT_EQ(pod["workload_class"], "WORKLOAD_CLASS_INFERENCE");
  EXPECT_EQ(pod["launcher"], "vllm");
  EXPECT_EQ(pod["listening_ports"], json::array({8000}));
  EXPECT_EQ(pod["peers"].size(), 5u);
  EXPECT_EQ(pod["image_digest"],
            "sha256:3b7a9c2e5d1f4a6b8c0e2d4f6a8b0c2e4d6f8a0b2c4e6d8f0a2b4c6e8d0f2a4b");

  for (const char* secret : {"hf_never_reported", "sk-never-reported", "cfg.yaml", "some-model",
                             "train_llm", "HF_TOKEN", "OPENAI_API_KEY", "/usr/bin"}) {
    EXPECT_EQ(r.out.find(secret), std::string::npos) << secret;
  }
}

TEST(ProvAgentOnceTest, FakeNvmlLibraryAndDashedFlagfile) {
  testing::FixtureTree t;
  t.AddPci("0000:3b:00.0", 0x10de, 0x2335, 0x030200, "nvidia");
  t.AddBoot("b00t", 1'700'000'000);
  t.AddProcess(
      {.pid = 77, .argv = {"python3", "-m", "sglang.launch_server"}, .fds = {"/dev/nvidia5"}});
  t.Write("nvml.txt", "device 0000:3b:00.0\nuuid GPU-from-nvml\nminor 5\nutil 41\nmemory 100 50\n");
  t.Write("agent.flags", absl::StrCat("# prov-agent config\n--once\n--sysfs-root=", t.sys(),
                                      "\n--procfs-root=", t.proc(), "\n--node-id=n1\n",
                                      "--nvml-library=", FAKE_NVML_LIBRARY, "\n"));
  ::setenv("FAKE_NVML_FIXTURE", t.Path("nvml.txt").c_str(), 1);
  RunResult r = RunAgent("--flagfile " + t.Path("agent.flags"), t);
  ::unsetenv("FAKE_NVML_FIXTURE");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("NVML unavailable"), std::string::npos) << r.err;
  json report = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << r.out;
  EXPECT_EQ(report["node"]["node_id"], "n1");
  EXPECT_TRUE(report["health"].value("nvml_available", false));
  EXPECT_EQ(report["accelerators"][0]["uuid"], "GPU-from-nvml");
  EXPECT_EQ(report["accelerators"][0]["fact_sources"]["uuid"], "FACT_SOURCE_NVML");
  EXPECT_EQ(report["samples"][0]["utilization_pct"], 41);
  ASSERT_EQ(report["workloads"].size(), 1u);
  EXPECT_EQ(report["workloads"][0]["accelerator_pci_addresses"], json::array({"0000:3b:00.0"}));
  EXPECT_EQ(report["workloads"][0]["launcher"], "sglang");
}

TEST(ProvAgentOnceTest, ConfigErrorsAreClearAndNonZero) {
  testing::FixtureTree t;
  t.Write("bad.map", "uid:1000 ok\nuser:bob\n");
  RunResult chain = RunAgent("--once --attribution-chain=slurm,ldap", t);
  EXPECT_EQ(chain.exit_code, 2);
  EXPECT_NE(chain.err.find("unknown source 'ldap'"), std::string::npos) << chain.err;
  RunResult map = RunAgent("--once --account-map " + t.Path("bad.map"), t);
  EXPECT_EQ(map.exit_code, 2);
  EXPECT_NE(map.err.find("bad.map:2: expected"), std::string::npos) << map.err;
  RunResult positional = RunAgent("--once stray", t);
  EXPECT_EQ(positional.exit_code, 2);
  EXPECT_NE(positional.err.find("unexpected argument 'stray'"), std::string::npos)
      << positional.err;
  RunResult interval = RunAgent("--once --interval=0s", t);
  EXPECT_EQ(interval.exit_code, 2);
  RunResult server = RunAgent("--nvml-library=/nonexistent", t);
  EXPECT_EQ(server.exit_code, 2);
  EXPECT_NE(server.err.find("--server is required"), std::string::npos) << server.err;
}

// The watchdog is wired into the collection loop: resident memory over --watchdog-memory-mb
// after the first collection ends the agent with status 3 and a record saying why (JSON logs).
// Bad watchdog flags are usage errors.
TEST(ProvAgentOnceTest, WatchdogMemoryLimitExitsThreeForTheSupervisor) {
  testing::FixtureTree t;
  RunResult r = RunAgent(absl::StrCat("--server=127.0.0.1:1 --insecure --nvml-library=/nonexistent "
                                      "--interval=1s --watchdog-memory-mb=1 --log-format=json "
                                      "--spool-dir=",
                                      t.Path("spool")),
                         t);
  EXPECT_EQ(r.exit_code, 3) << r.err;
  bool found = false;
  for (size_t at = 0, end; (end = r.err.find('\n', at)) != std::string::npos; at = end + 1) {
    json line = json::parse(r.err.substr(at, end - at), nullptr, /*allow_exceptions=*/false);
    if (line.is_discarded() || line["component"] != "watchdog") continue;  // gRPC's own lines
    found = true;
    EXPECT_EQ(line["level"], "error");
    EXPECT_EQ(line["limit_mb"], 1);
    EXPECT_GE(line["rss_mb"].get<int>(), 1);
  }
  EXPECT_TRUE(found) << r.err;
  EXPECT_EQ(RunAgent("--once --watchdog-memory-mb=-1", t).exit_code, 2);
  RunResult cpu = RunAgent("--once --watchdog-cpu-percent=-5", t);
  EXPECT_EQ(cpu.exit_code, 2);
  EXPECT_NE(cpu.err.find("--watchdog-cpu-percent: must be between"), std::string::npos) << cpu.err;
  EXPECT_EQ(RunAgent("--once --log-level=loud", t).exit_code, 2);
}

TEST(ProvAgentOnceTest, ThisMachineReportsCleanly) {
  testing::FixtureTree t;
  RunResult r = RunAgent("--once --nvml-library=/nonexistent", t);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json report = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(report.is_discarded());
  EXPECT_FALSE(report["node"]["node_id"].get<std::string>().empty());
  EXPECT_FALSE(report["node"]["boot_id"].get<std::string>().empty());
}

}  // namespace
}  // namespace prov::agent
