#include "tools/prov-sim/sim_options.h"

#include "gtest/gtest.h"

namespace prov::sim {
namespace {

TEST(SimOptionsTest, ParsesFleetAndRunFlags) {
  auto o = ParseSimArgs({"--server", "127.0.0.1:9", "--insecure", "--nodes=100",
                         "--workloads-per-node", "3", "--interval", "5", "--duration", "60",
                         "--time-scale", "50", "--wait-acks", "5", "--seed", "9"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->server, "127.0.0.1:9");
  EXPECT_TRUE(o->insecure);
  EXPECT_EQ(o->fleet.nodes, 100u);
  EXPECT_EQ(o->fleet.workloads_per_node, 3u);
  EXPECT_EQ(o->fleet.reports_per_node, 12u);  // 60 s / 5 s
  EXPECT_DOUBLE_EQ(o->time_scale, 50);
  EXPECT_EQ(o->wait_acks, absl::Seconds(5));
  EXPECT_EQ(o->fleet.seed, 9u);
  EXPECT_TRUE(o->timeline_out.empty());
}

TEST(SimOptionsTest, ConnectWait) {
  auto o = ParseSimArgs({});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->connect_wait, absl::Seconds(10));
  o = ParseSimArgs({"--connect-wait", "0"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->connect_wait, absl::ZeroDuration());
  o = ParseSimArgs({"--connect-wait=2.5"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->connect_wait, absl::Milliseconds(2500));
  EXPECT_FALSE(ParseSimArgs({"--connect-wait", "-1"}).ok());
}

TEST(SimOptionsTest, TimelineOut) {
  auto o = ParseSimArgs({"--timeline-out", "/tmp/t.json"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->timeline_out, "/tmp/t.json");
  EXPECT_FALSE(ParseSimArgs({"--timeline-out"}).ok());
}

TEST(SimOptionsTest, InventoryFlags) {
  auto o = ParseSimArgs({"--inventory-out", "/tmp/inv.csv", "--inventory-command",
                         "provctl --insecure inventory import"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->inventory_out, "/tmp/inv.csv");
  EXPECT_EQ(o->inventory_command, "provctl --insecure inventory import");
  auto lone = ParseSimArgs({"--inventory-command", "true"});
  ASSERT_FALSE(lone.ok());
  EXPECT_EQ(lone.status().message(), "--inventory-command needs --inventory-out");
}

TEST(SimOptionsTest, ErrorsNameTheFlag) {
  auto msg = [](std::vector<std::string> args) {
    auto o = ParseSimArgs(args);
    return o.ok() ? std::string("ok") : std::string(o.status().message());
  };
  EXPECT_EQ(msg({"--nodes", "many"}), "--nodes: bad value 'many'");
  EXPECT_EQ(msg({"--time-scale", "0"}), "--time-scale: bad value '0'");
  EXPECT_EQ(msg({"--interval", "0"}), "--interval: bad value '0'");
  EXPECT_EQ(msg({"--frobnicate"}), "unknown argument '--frobnicate'");
  EXPECT_EQ(msg({"--server"}), "--server needs a value");
  EXPECT_EQ(msg({"--duration", "60", "--reports-per-node", "3"}),
            "give --duration or --reports-per-node, not both");
}

TEST(SimOptionsTest, AgentsAreSpreadOverSeveralServers) {
  EXPECT_EQ(RotateServerList("a:1", 5), "a:1");
  EXPECT_EQ(RotateServerList("a:1,b:2,c:3", 0), "a:1,b:2,c:3");
  EXPECT_EQ(RotateServerList("a:1,b:2,c:3", 1), "b:2,c:3,a:1");
  EXPECT_EQ(RotateServerList("a:1,b:2,c:3", 5), "c:3,a:1,b:2");
}

}  // namespace
}  // namespace prov::sim
