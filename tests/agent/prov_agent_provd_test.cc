// End to end: the real prov-agent (continuous mode, on the committed example node) reports to a
// real provd over gRPC; provd stores the node and its workloads; SIGTERM stops the agent cleanly.
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/grpc/bearer_channel.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "provenance/v1/audit.grpc.pb.h"
#include "tests/agent/fixture_tree.h"
#include "tests/integration/provd_process.h"
#include "tests/integration/subprocess.h"

namespace prov::agent {
namespace {

constexpr char kNodeId[] = "4c6f1e2d9a8b7c6d5e4f3a2b1c0d9e8f";

TEST(ProvAgentProvdTest, ReportsReachProvdAndSigtermStopsCleanly) {
  testing::FixtureTree t;
  std::filesystem::create_directories(t.Path("provd"));
  prov::testing::ProvdProcess provd(t.Path("provd"), 0, {"--insecure"});
  ASSERT_TRUE(provd.ok()) << provd.log();

  const std::string ex =
      std::string(std::getenv("PROV_SOURCE_DIR")) + "/tests/fixtures/agent/example-node";
  prov::testing::Subprocess agent(
      {prov::testing::BinDir() + "/prov-agent", "--server", provd.address(), "--insecure",
       "--interval=1s", "--spool-dir", t.Path("spool"), "--sysfs-root", ex + "/sys",
       "--procfs-root", ex + "/proc", "--machine-id-file", ex + "/etc/machine-id",
       "--kubelet-pods-file", ex + "/kubelet-pods.json", "--datacenter", "fra1", "--nvml-library",
       "/nonexistent/libnvidia-ml.so.1"},
      t.Path("agent.log"));
  ASSERT_TRUE(agent.started());

  auto channel =
      CreateBearerChannel(provd.address(), grpc::InsecureChannelCredentials(), provd.token());
  auto audit = provenance::v1::AuditService::NewStub(channel);
  provenance::v1::NodeSummary node;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline && node.last_seq() < 2) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    provenance::v1::ListNodesResponse resp;
    if (audit->ListNodes(&ctx, {}, &resp).ok()) {
      for (const auto& n : resp.nodes()) {
        if (n.node_id() == kNodeId) node = n;
      }
    }
    if (node.last_seq() < 2) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_GE(node.last_seq(), 2u) << "agent log:\n"
                                 << prov::testing::ReadFile(t.Path("agent.log")) << "\nprovd log:\n"
                                 << provd.log();
  EXPECT_EQ(node.datacenter(), "fra1");
  EXPECT_EQ(node.accelerator_count(), 2u);
  EXPECT_EQ(node.workload_count(), 2u);

  grpc::ClientContext ctx;
  provenance::v1::ListWorkloadsRequest req;
  req.set_node_id(kNodeId);
  provenance::v1::ListWorkloadsResponse workloads;
  ASSERT_TRUE(audit->ListWorkloads(&ctx, req, &workloads).ok());
  std::map<std::string, std::string> accounts;
  for (const auto& w : workloads.workloads()) accounts[w.workload_id()] = w.account();
  EXPECT_EQ(accounts["slurm:fra1-a:4242"], "physics-lab");
  EXPECT_EQ(accounts["k8s:6b0e2c1d-7a4f-4e3b-9c5d-2f1a0b9c8d7e"], "acme-serving");

  agent.Signal(SIGTERM);
  std::optional<int> rc = agent.Wait(std::chrono::seconds(15));
  ASSERT_TRUE(rc.has_value()) << "agent did not stop on SIGTERM";
  EXPECT_EQ(*rc, 0) << prov::testing::ReadFile(t.Path("agent.log"));
  EXPECT_NE(prov::testing::ReadFile(t.Path("agent.log")).find("prov-agent: stopping"),
            std::string::npos);
}

// Issue 14: a tenant sets MASTER_ADDR=10.20.0.\xff\xfe in its job's environment. The agent used to
// spool reports that never parsed back and drop every one of them ("dropping unreadable spool
// entry"): 0 reports stored, nothing rejected, nothing said. Now every report is stored.
TEST(ProvAgentProvdTest, TenantInvalidUtf8InEnvironmentLosesNoReports) {
  testing::FixtureTree t;
  std::filesystem::create_directories(t.Path("provd"));
  prov::testing::ProvdProcess provd(t.Path("provd"), 0, {"--insecure"});
  ASSERT_TRUE(provd.ok()) << provd.log();

  // The committed example node, with the tenant's bytes in both job processes' environments.
  const std::string ex =
      std::string(std::getenv("PROV_SOURCE_DIR")) + "/tests/fixtures/agent/example-node";
  const std::string node = t.Path("node");
  std::filesystem::copy(
      ex, node,
      std::filesystem::copy_options::recursive | std::filesystem::copy_options::copy_symlinks);
  for (const char* pid : {"1000", "1001"}) {
    const std::string path = node + "/proc/" + pid + "/environ";
    std::string env = prov::testing::ReadFile(path);
    const std::string from = "MASTER_ADDR=10.20.0.11";
    size_t at = env.find(from);
    ASSERT_NE(at, std::string::npos) << path;
    env.replace(at, from.size(), "MASTER_ADDR=10.20.0.\xff\xfe");
    std::filesystem::remove(path);
    std::ofstream(path, std::ios::binary) << env;
  }

  prov::testing::Subprocess agent(
      {prov::testing::BinDir() + "/prov-agent", "--server", provd.address(), "--insecure",
       "--interval=1s", "--spool-dir", t.Path("spool"), "--sysfs-root", node + "/sys",
       "--procfs-root", node + "/proc", "--machine-id-file", node + "/etc/machine-id",
       "--kubelet-pods-file", node + "/kubelet-pods.json", "--datacenter", "fra1", "--nvml-library",
       "/nonexistent/libnvidia-ml.so.1"},
      t.Path("agent.log"));
  ASSERT_TRUE(agent.started());

  auto channel =
      CreateBearerChannel(provd.address(), grpc::InsecureChannelCredentials(), provd.token());
  auto audit = provenance::v1::AuditService::NewStub(channel);
  auto get_node = [&] {
    provenance::v1::NodeSummary found;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    provenance::v1::ListNodesResponse resp;
    if (audit->ListNodes(&ctx, {}, &resp).ok()) {
      for (const auto& n : resp.nodes()) {
        if (n.node_id() == kNodeId) found = n;
      }
    }
    return found;
  };
  provenance::v1::NodeSummary summary;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline && summary.reports_stored() < 3) {
    summary = get_node();
    if (summary.reports_stored() < 3) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  agent.Signal(SIGTERM);
  std::optional<int> rc = agent.Wait(std::chrono::seconds(15));
  ASSERT_TRUE(rc.has_value()) << "agent did not stop on SIGTERM";
  const std::string log = prov::testing::ReadFile(t.Path("agent.log"));
  ASSERT_GE(summary.reports_stored(), 3u) << "agent log:\n"
                                          << log << "\nprovd log:\n"
                                          << provd.log();
  summary = get_node();
  // Every seq the server saw was stored: none was lost between the spool and provd.
  EXPECT_EQ(summary.reports_stored(), summary.last_seq());
  EXPECT_EQ(summary.workload_count(), 2u);
  EXPECT_EQ(log.find("unreadable"), std::string::npos) << log;
  EXPECT_EQ(*rc, 0) << log;
}

}  // namespace
}  // namespace prov::agent
