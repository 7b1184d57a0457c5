// prov-sim fleet -> the real provd (process) -> the real provctl, in table and JSON output.
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/proto_json.h"
#include "gtest/gtest.h"
#include "provenance/v1/audit.pb.h"
#include "tests/integration/provd_process.h"
#include "tests/integration/subprocess.h"
#include "tests/uplink/test_util.h"
#include "tools/prov-sim/generator.h"

namespace prov {
namespace {

using testing::BinDir;
using testing::RunCommand;

constexpr int kNodes = 12, kReports = 4, kInterval = 10;

class FleetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // prov-sim runs at --time-scale 1000: the ledger credits the reports' own timeline
    // (--ledger-clock report), else only the real seconds provd saw pass (server/ledger/credit.h).
    provd_ = std::make_unique<testing::ProvdProcess>(
        dir_.path(), 0, std::vector<std::string>{"--insecure", "--ledger-clock", "report"});
    ASSERT_TRUE(provd_->ok()) << provd_->log();
  }
  std::pair<int, std::string> Provctl(std::vector<std::string> args) {
    args.insert(args.begin(), {BinDir() + "/provctl", "--server", provd_->address(), "--insecure",
                               "--token-file", provd_->token_path()});
    return RunCommand(args);
  }
  template <typename T>
  T ProvctlJson(std::vector<std::string> args) {
    args.push_back("-o");
    args.push_back("json");
    auto [rc, out] = Provctl(args);
    EXPECT_EQ(rc, 0) << out;
    T message;
    absl::Status s = FromJson(out, &message);
    EXPECT_TRUE(s.ok()) << s << "\n" << out;
    return message;
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::ProvdProcess> provd_;
};

TEST_F(FleetTest, SimulatedFleetIsQueryableWithProvctl) {
  sim::FleetOptions fleet{.nodes = kNodes,
                          .datacenters = 3,
                          .accounts = 4,
                          .workloads_per_node = 2,
                          .interval_seconds = kInterval,
                          .reports_per_node = kReports,
                          .seed = 5};
  auto [rc, out] = RunCommand({BinDir() + "/prov-sim",
                               "--server",
                               provd_->address(),
                               "--insecure",
                               "--nodes",
                               std::to_string(kNodes),
                               "--datacenters",
                               "3",
                               "--accounts",
                               "4",
                               "--workloads-per-node",
                               "2",
                               "--interval",
                               std::to_string(kInterval),
                               "--reports-per-node",
                               std::to_string(kReports),
                               "--seed",
                               "5",
                               "--time-scale",
                               "1000",
                               "--wait-acks",
                               "30"},
                              std::chrono::seconds(90));
  ASSERT_EQ(rc, 0) << out << provd_->log();
  EXPECT_NE(out.find("acked:        48\n"), std::string::npos) << out;
  EXPECT_NE(out.find("SYNTHETIC"), std::string::npos) << "synthetic data must be labelled";

  // The same generator, same seed: what provd should now hold.
  sim::v1::Scenario scenario = sim::GenerateFleet(fleet, nullptr);
  std::set<std::pair<std::string, std::string>> want_workloads;
  std::map<std::string, double> want_hours;  // account -> accelerator-hours
  for (const auto& w : scenario.workloads()) {
    want_workloads.emplace(w.node_id(), w.workload_id());
    want_hours[w.account()] += w.accelerator_count() * kReports * kInterval / 3600.0;
  }

  std::map<std::string, uint32_t> want_accelerators;
  for (const auto& n : scenario.nodes()) want_accelerators[n.node_id()] = n.accelerator_count();
  auto nodes = ProvctlJson<provenance::v1::ListNodesResponse>({"nodes"});
  ASSERT_EQ(nodes.nodes_size(), kNodes);
  for (const auto& n : nodes.nodes()) {
    EXPECT_EQ(n.reports_stored(), uint64_t{kReports}) << n.node_id();
    EXPECT_EQ(n.last_seq(), uint64_t{kReports}) << n.node_id();
    EXPECT_EQ(n.accelerator_count(), want_accelerators[n.node_id()]) << n.node_id();
  }
  auto [table_rc, table] = Provctl({"nodes"});
  ASSERT_EQ(table_rc, 0);
  EXPECT_EQ(std::count(table.begin(), table.end(), '\n'), kNodes + 1) << table;
  EXPECT_EQ(table.rfind("NODE ", 0), 0u) << table;
  for (const auto& n : scenario.nodes()) EXPECT_NE(table.find(n.node_id()), std::string::npos);

  auto workloads = ProvctlJson<provenance::v1::ListWorkloadsResponse>({"workloads"});
  std::set<std::pair<std::string, std::string>> got_workloads;
  for (const auto& w : workloads.workloads()) got_workloads.emplace(w.node_id(), w.workload_id());
  EXPECT_EQ(got_workloads, want_workloads);

  const std::string account = want_hours.begin()->first;
  auto filtered =
      ProvctlJson<provenance::v1::ListWorkloadsResponse>({"workloads", "--account", account});
  ASSERT_GT(filtered.workloads_size(), 0);
  for (const auto& w : filtered.workloads()) EXPECT_EQ(w.account(), account);

  auto usage = ProvctlJson<provenance::v1::GetAccountUsageResponse>({"usage"});
  std::map<std::string, double> got_hours;
  for (const auto& a : usage.accounts()) {
    got_hours[a.account()] = a.accelerator_hours();
    EXPECT_GT(a.flop().high(), 0) << a.account();
    EXPECT_LE(a.flop().low(), a.flop().high()) << a.account();
  }
  ASSERT_EQ(got_hours.size(), want_hours.size());
  for (const auto& [acct, hours] : want_hours) EXPECT_NEAR(got_hours[acct], hours, 1e-9) << acct;

  auto [usage_rc, usage_table] = Provctl({"usage"});
  ASSERT_EQ(usage_rc, 0);
  EXPECT_NE(usage_table.find(account), std::string::npos);
  EXPECT_TRUE(usage_table.find("e1") != std::string::npos ||
              usage_table.find("e2") != std::string::npos)
      << "FLOP in scientific notation: " << usage_table;

  auto [node_rc, node_table] = Provctl({"node", scenario.nodes(0).node_id()});
  ASSERT_EQ(node_rc, 0) << node_table;
  EXPECT_NE(node_table.find(absl::StrCat(scenario.nodes(0).accelerator_count(), " accelerators")),
            std::string::npos)
      << node_table;
}

TEST_F(FleetTest, ProvctlErrorsAreClearAndNonZero) {
  auto [rc, out] = RunCommand({BinDir() + "/provctl", "--server",
                               "127.0.0.1:" + std::to_string(testing::PickFreePort()), "--insecure",
                               "--timeout", "5", "nodes"});
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("cannot reach provd"), std::string::npos) << out;
  std::tie(rc, out) = Provctl({"frobnicate"});
  EXPECT_EQ(rc, 2);
  EXPECT_NE(out.find("unknown command 'frobnicate'"), std::string::npos) << out;
  std::tie(rc, out) = Provctl({"node", "no-such-node"});
  EXPECT_EQ(rc, 1) << out;
}

}  // namespace
}  // namespace prov
