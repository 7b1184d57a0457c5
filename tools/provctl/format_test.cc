#include "tools/provctl/format.h"

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tools/provctl/cli.h"

namespace prov::provctl {
namespace {

TEST(FormatTest, HumanUnits) {
  EXPECT_EQ(FormatHours(12.345), "12.3");
  EXPECT_EQ(FormatHours(0), "0.0");
  EXPECT_EQ(FormatFlop(2.34e24), "2.3e24");
  EXPECT_EQ(FormatFlop(1e25), "1.0e25");
  EXPECT_EQ(FormatFlop(9.96e3), "1.0e4");
  EXPECT_EQ(FormatFlop(0), "0");
  EXPECT_EQ(FormatFlop(0.0015), "1.5e-3");
  provenance::v1::FlopEstimate est;
  est.set_low(1.2e20);
  est.set_high(3.46e21);
  EXPECT_EQ(FormatFlopRange(est), "1.2e20..3.5e21");
  google::protobuf::Timestamp t;
  EXPECT_EQ(FormatTime(t), "-");
  t.set_seconds(1700000000);
  EXPECT_EQ(FormatTime(t), "2023-11-14 22:13:20Z");
}

TEST(FormatTest, TableColumnsAlignAndNumbersRightAlign) {
  std::string table =
      RenderTable({"NAME", "N"}, {{"a", "1"}, {"longer", "100"}, {"", "7"}}, {false, true});
  EXPECT_EQ(table,
            "NAME      N\n"
            "a         1\n"
            "longer  100\n"
            "-         7\n");
}

TEST(FormatTest, ServerStatusNamesLeaderBacklogAndReplicas) {
  provenance::v1::GetServerStatusResponse r;
  r.set_replica("provd-b");
  r.set_leading(false);
  r.set_store("postgresql: host=db1 dbname=provd");
  r.set_leader("provd-a");
  r.set_leader_term(3);
  r.mutable_leader_since()->set_seconds(1796083200);  // 2026-12-01 00:00 UTC
  r.set_analysis_behind_batches(2);
  r.set_analysis_behind_reports(120);
  r.set_analysis_lag_seconds(0.44);
  auto* a = r.add_replicas();
  a->set_name("provd-a");
  a->set_address("10.0.0.1:7443");
  a->set_version("0.1.0");
  a->set_leading(true);
  r.add_replicas()->set_name("provd-b");
  const std::string text = ServerStatusText(r);
  EXPECT_NE(text.find("replica   provd-b (standby)"), std::string::npos) << text;
  EXPECT_NE(text.find("leader    provd-a, term 3, since 2026-12-01"), std::string::npos) << text;
  EXPECT_NE(text.find("120 reports behind ingest (2 batches, oldest 0.4 s)"), std::string::npos)
      << text;
  EXPECT_NE(text.find("10.0.0.1:7443"), std::string::npos) << text;
  r.clear_leader();
  EXPECT_NE(ServerStatusText(r).find("leader    none elected"), std::string::npos);
}

TEST(FormatTest, UsageTableShowsHoursAndFlop) {
  provenance::v1::GetAccountUsageResponse resp;
  auto* a = resp.add_accounts();
  a->set_account("acme");
  a->set_accelerator_hours(1234.56);
  a->set_training_accelerator_hours(1000);
  a->mutable_flop()->set_low(2.3e24);
  a->mutable_flop()->set_high(4.4e24);
  a->add_datacenters("dc1");
  a->add_datacenters("dc2");
  std::string table = UsageTable(resp);
  std::vector<std::string> lines = absl::StrSplit(table, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[1].find("1234.6"), std::string::npos) << table;
  EXPECT_NE(lines[1].find("2.3e24..4.4e24"), std::string::npos) << table;
  EXPECT_NE(lines[1].find("dc1,dc2"), std::string::npos) << table;
  EXPECT_NE(lines[0].find("GAP_H"), std::string::npos) << table;
}

TEST(FormatTest, NodeDetailListsEvidenceGaps) {
  provenance::v1::GetNodeResponse resp;
  resp.mutable_node()->set_node_id("node-0001");
  resp.mutable_node()->set_evidence_gaps(1);
  resp.mutable_node()->set_evidence_gap_seconds(590);
  auto* g = resp.add_evidence_gaps();
  g->set_boot_id("boot-a");
  g->set_seq(42);
  g->set_gap_seconds(590);
  g->set_claimed_interval_seconds(10);
  g->set_accelerator_hours(0.5);
  std::string detail = NodeDetail(resp);
  EXPECT_NE(detail.find("evidence_gap_seconds  590"), std::string::npos) << detail;
  EXPECT_NE(detail.find("1 evidence gaps"), std::string::npos) << detail;
  EXPECT_NE(detail.find("boot-a"), std::string::npos) << detail;
  EXPECT_NE(detail.find("590"), std::string::npos) << detail;
}

TEST(FormatTest, NodesAndWorkloadsTables) {
  provenance::v1::ListNodesResponse nodes;
  auto* n = nodes.add_nodes();
  n->set_node_id("node-0001");
  n->set_datacenter("dc-east");
  n->set_accelerator_count(8);
  n->set_silent(true);
  std::string table = NodesTable(nodes);
  EXPECT_NE(table.find("node-0001"), std::string::npos);
  EXPECT_NE(table.find("SILENT"), std::string::npos);
  provenance::v1::ListWorkloadsResponse workloads;
  auto* w = workloads.add_workloads();
  w->set_workload_id("k8s:abc");
  w->set_kind(provenance::v1::WORKLOAD_KIND_K8S_POD);
  w->set_workload_class(provenance::v1::WORKLOAD_CLASS_TRAINING);
  w->set_class_confidence(0.9);
  w->set_accelerator_count(4);
  w->set_accelerator_model("H100 SXM5 80GB");
  w->set_accelerator_hours(2.25);
  table = WorkloadsTable(workloads);
  EXPECT_NE(table.find("training(0.90)"), std::string::npos) << table;
  EXPECT_NE(table.find("4x H100 SXM5 80GB"), std::string::npos) << table;
  EXPECT_NE(table.find(" pod "), std::string::npos) << table;
  EXPECT_NE(table.find("2.2"), std::string::npos) << table;
}

TEST(FormatTest, NodeThatSendsOnlyRejectedReportsShowsRejectingAndWhy) {
  provenance::v1::ListNodesResponse nodes;
  auto* n = nodes.add_nodes();
  n->set_node_id("node-0002");
  n->set_silent(true);
  n->set_rejecting(true);
  EXPECT_NE(NodesTable(nodes).find("REJECTING"), std::string::npos) << NodesTable(nodes);
  provenance::v1::GetNodeResponse detail;
  *detail.mutable_node() = *n;
  detail.mutable_node()->set_reports_rejected(7);
  detail.mutable_node()->set_last_rejection("seq: 9 is far ahead");
  detail.mutable_node()->mutable_rejecting_since()->set_seconds(1'700'000'000);
  const std::string text = NodeDetail(detail);
  EXPECT_NE(text.find("reports_rejected      7"), std::string::npos) << text;
  EXPECT_NE(text.find("seq: 9 is far ahead"), std::string::npos) << text;
  EXPECT_NE(text.find("REJECTING"), std::string::npos) << text;
  EXPECT_NE(text.find("last_rejected         -"), std::string::npos) << text;
}

TEST(FormatTest, NodeDetailShowsWhatTheAgentLost) {
  provenance::v1::GetNodeResponse detail;
  auto* h = detail.mutable_node()->mutable_agent_health();
  h->mutable_as_of()->set_seconds(1'700'000'000);
  h->set_unreadable_reports(3);
  h->set_dropped_reports(12);
  h->set_strings_repaired(5);
  const std::string text = NodeDetail(detail);
  EXPECT_NE(text.find("agent_unreadable      3"), std::string::npos) << text;
  EXPECT_NE(text.find("agent_dropped         12"), std::string::npos) << text;
  EXPECT_NE(text.find("strings_repaired      5"), std::string::npos) << text;
}

TEST(CliTest, ParsesCommandsAndFlagsInAnyOrder) {
  auto inv = ParseArgs({"workloads", "--account", "acme", "-o", "json", "--server=h:1",
                        "--insecure", "--node", "n1"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->command, "workloads");
  EXPECT_EQ(inv->account, "acme");
  EXPECT_EQ(inv->node_id, "n1");
  EXPECT_EQ(inv->server, "h:1");
  EXPECT_TRUE(inv->json);
  EXPECT_TRUE(inv->insecure);
  inv = ParseArgs({"node", "node-7"});
  ASSERT_TRUE(inv.ok());
  EXPECT_EQ(inv->node_id, "node-7");
  EXPECT_EQ(inv->server, kDefaultServer);
}

TEST(CliTest, ErrorsNameTheProblem) {
  auto expect_error = [](std::vector<std::string> args, const std::string& needle) {
    auto inv = ParseArgs(args);
    ASSERT_FALSE(inv.ok());
    EXPECT_NE(inv.status().message().find(needle), std::string::npos) << inv.status();
  };
  expect_error({"frobnicate"}, "unknown command 'frobnicate'");
  expect_error({}, "missing command");
  expect_error({"nodes", "--bogus"}, "unknown flag '--bogus'");
  expect_error({"nodes", "-o", "yaml"}, "unknown output format 'yaml'");
  expect_error({"node"}, "missing <node-id>");
  expect_error({"usage", "--server"}, "--server needs a value");
  expect_error({"nodes", "extra"}, "unexpected argument 'extra'");
  expect_error({"nodes", "--timeout", "-1"}, "--timeout");
}

TEST(FormatTest, NodeDetailShowsTheHardwareIdentityAndItsChanges) {
  provenance::v1::GetNodeResponse resp;
  resp.mutable_node()->set_node_id("node-0001");
  EXPECT_NE(NodeDetail(resp).find("hardware identity: none reported"), std::string::npos);
  auto* id = resp.mutable_node()->mutable_hardware();
  id->mutable_hardware()->set_system_uuid("4c4c4544-0042");
  id->mutable_hardware()->set_board_serial("BRD-9");
  id->set_since_boot_id("boot-z");
  id->set_changes_total(1);
  auto* c = id->add_changes();
  c->set_field("system_uuid");
  c->set_old_value("4c4c4544-0001");
  c->set_new_value("4c4c4544-0042");
  c->set_boot_id("boot-z");
  const std::string text = NodeDetail(resp);
  EXPECT_NE(text.find("system_uuid     4c4c4544-0042"), std::string::npos) << text;
  EXPECT_NE(text.find("1 hardware identity changes"), std::string::npos) << text;
  EXPECT_NE(text.find("4c4c4544-0001 -> 4c4c4544-0042"), std::string::npos) << text;
}

}  // namespace
}  // namespace prov::provctl
