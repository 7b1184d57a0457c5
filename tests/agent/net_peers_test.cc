#include "agent/collect/net_peers.h"

#include "gtest/gtest.h"
#include "tests/agent/fixture_tree.h"

namespace prov::agent {
namespace {

constexpr char kTcp[] =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout "
    "inode\n"
    "   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 "
    "500 1 0\n"
    "   1: 0500000A:1F90 0600000A:D431 01 00000000:00000000 00:00000000 00000000  1000        0 "
    "501 1 0\n"
    "   2: 0500000A:C350 0700000A:7345 01 00000000:00000000 00:00000000 00000000  1000        0 "
    "502 1 0\n"
    "   3: 0100007F:0CEA 0100007F:9C40 06 00000000:00000000 00:00000000 00000000     0        0 0 "
    "1 0\n"
    "   4: 0500000A:1F90 0800000A:D432 01 00000000:00000000 00:00000000 00000000  1000        0 "
    "999 1 0\n";
// [2001:db8::1]:443 <- [2001:db8::2]:50000, ESTABLISHED; and [::]:8000 LISTEN.
constexpr char kTcp6[] =
    "  sl  local_address                         remote_address                        st tx_queue "
    "rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    "   0: B80D0120000000000000000001000000:01BB B80D0120000000000000000002000000:C350 01 "
    "00000000:00000000 00:00000000 00000000  1000        0 600 1 0\n"
    "   1: 00000000000000000000000000000000:1F40 00000000000000000000000000000000:0000 0A "
    "00000000:00000000 00:00000000 00000000  1000        0 601 1 0\n";

TEST(NetPeersTest, ParsesIpv4) {
  std::vector<std::string> errors;
  auto socks = ParseProcNetTcp(kTcp, false, "tcp", &errors);
  EXPECT_TRUE(errors.empty());
  ASSERT_EQ(socks.size(), 5u);
  EXPECT_EQ(socks[0].local_address, "0.0.0.0");
  EXPECT_EQ(socks[0].local_port, 8080u);
  EXPECT_EQ(socks[0].state, "LISTEN");
  EXPECT_EQ(socks[1].local_address, "10.0.0.5");
  EXPECT_EQ(socks[1].remote_address, "10.0.0.6");
  EXPECT_EQ(socks[1].remote_port, 54321u);
  EXPECT_EQ(socks[1].state, "ESTABLISHED");
  EXPECT_EQ(socks[1].inode, 501u);
  EXPECT_EQ(socks[3].state, "TIME_WAIT");
  EXPECT_EQ(socks[3].remote_address, "127.0.0.1");
}

TEST(NetPeersTest, ParsesIpv6) {
  std::vector<std::string> errors;
  auto socks = ParseProcNetTcp(kTcp6, true, "tcp6", &errors);
  EXPECT_TRUE(errors.empty());
  ASSERT_EQ(socks.size(), 2u);
  EXPECT_EQ(socks[0].local_address, "2001:db8::1");
  EXPECT_EQ(socks[0].local_port, 443u);
  EXPECT_EQ(socks[0].remote_address, "2001:db8::2");
  EXPECT_EQ(socks[0].remote_port, 50000u);
  EXPECT_EQ(socks[1].local_address, "::");
  EXPECT_EQ(socks[1].state, "LISTEN");
}

TEST(NetPeersTest, MalformedLinesNamedAndSkipped) {
  std::vector<std::string> errors;
  auto socks = ParseProcNetTcp(
      "sl local\n 0: ZZZZ:1 00000000:0000 01 0 0 0 0 0 5\n 1: short\n"
      " 2: 0100007F:0050 0100007F:0051 01 0:0 0:0 0 0 0 77\n",
      false, "p/net/tcp", &errors);
  ASSERT_EQ(socks.size(), 1u);
  EXPECT_EQ(socks[0].inode, 77u);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0], "p/net/tcp line 2: bad local address");
  EXPECT_EQ(errors[1], "p/net/tcp line 3: expected at least 10 fields");
}

TEST(NetPeersTest, MatchesWorkloadInodesOnly) {
  testing::FixtureTree t;
  t.Write("proc/10/net/tcp", kTcp);
  t.Write("proc/10/net/tcp6", kTcp6);
  t.Write("proc/11/net/tcp", kTcp);  // same namespace seen twice: no duplicates
  std::vector<std::string> errors;
  NetSummary s = CollectNetPeers(t.proc(), {10, 11}, {500, 501, 502, 600, 601}, &errors);
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(s.listening_ports, (std::vector<uint32_t>{8000, 8080}));
  ASSERT_EQ(s.peers.size(), 3u);  // 999 belongs to someone else, TIME_WAIT has inode 0
  EXPECT_EQ(s.peers[0].remote_address(), "10.0.0.6");
  EXPECT_EQ(s.peers[0].local_port(), 8080u);
  EXPECT_FALSE(s.peers[0].has_bytes_sent());
  EXPECT_EQ(s.inbound_peer_addresses, 1u);  // only 10.0.0.6 hit a listening port
}

}  // namespace
}  // namespace prov::agent
