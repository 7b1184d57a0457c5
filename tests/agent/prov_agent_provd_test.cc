// End to end: the real prov-agent (continuous mode, on the committed example node) reports to a
// real provd over gRPC; provd stores the node and its workloads; SIGTERM stops the agent cleanly.
#include <signal.h>

#include <chrono>
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

}  // namespace
}  // namespace prov::agent
