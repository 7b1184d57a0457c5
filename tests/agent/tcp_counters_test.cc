// Per-socket TCP byte counters (issue 9): the sock_diag reply parser on hand-built netlink
// messages, the interval arithmetic of TcpVolume, CollectNetPeers filling them by inode, and the
// real NETLINK_SOCK_DIAG dump on a loopback connection.
#include "agent/collect/tcp_counters.h"

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "agent/collect/net_peers.h"
#include "gtest/gtest.h"
#include "tests/agent/fixture_tree.h"

namespace prov::agent {
namespace {

// One SOCK_DIAG_BY_FAMILY reply message for `inode`, with an INET_DIAG_INFO of `info_bytes`.
std::string DiagMessage(uint32_t inode, uint64_t acked, uint64_t received,
                        size_t info_bytes = sizeof(tcp_info)) {
  inet_diag_msg m{};
  m.idiag_family = AF_INET;
  m.idiag_inode = inode;
  tcp_info info{};
  info.tcpi_bytes_acked = acked;
  info.tcpi_bytes_received = received;
  std::string attr(RTA_SPACE(info_bytes), '\0');
  rtattr a{};
  a.rta_len = static_cast<unsigned short>(RTA_LENGTH(info_bytes));
  a.rta_type = INET_DIAG_INFO;
  std::memcpy(attr.data(), &a, sizeof(a));
  std::memcpy(attr.data() + RTA_LENGTH(0), &info, std::min(info_bytes, sizeof(info)));
  std::string body(NLMSG_ALIGN(sizeof(m)), '\0');
  std::memcpy(body.data(), &m, sizeof(m));
  body += attr;
  nlmsghdr h{};
  h.nlmsg_len = static_cast<uint32_t>(NLMSG_LENGTH(body.size()));
  h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  std::string out(NLMSG_HDRLEN, '\0');
  std::memcpy(out.data(), &h, sizeof(h));
  out += body;
  out.resize(NLMSG_ALIGN(out.size()), '\0');
  return out;
}

std::string Done() {
  nlmsghdr h{};
  h.nlmsg_len = NLMSG_LENGTH(sizeof(int));
  h.nlmsg_type = NLMSG_DONE;
  std::string out(NLMSG_SPACE(sizeof(int)), '\0');
  std::memcpy(out.data(), &h, sizeof(h));
  return out;
}

TEST(TcpCountersTest, ParsesADumpReply) {
  TcpCounterMap m;
  auto done = ParseSockDiagReply(DiagMessage(500, 1000, 2000) + DiagMessage(501, 7, 9), &m);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_FALSE(*done);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[500].bytes_acked, 1000u);
  EXPECT_EQ(m[500].bytes_received, 2000u);
  EXPECT_EQ(m[501].bytes_received, 9u);
  done = ParseSockDiagReply(Done(), &m);
  ASSERT_TRUE(done.ok());
  EXPECT_TRUE(*done);
}

TEST(TcpCountersTest, ShortTcpInfoIsLeftOutAndGarbageIsAnError) {
  TcpCounterMap m;
  // An old kernel's tcp_info, ending before the byte counters: no counters, not zeros.
  ASSERT_TRUE(ParseSockDiagReply(DiagMessage(600, 5, 5, 104), &m).ok());
  EXPECT_TRUE(m.empty());
  std::string bad = DiagMessage(601, 1, 1);
  const uint32_t huge = 1 << 20;
  std::memcpy(bad.data(), &huge, sizeof(huge));  // nlmsg_len past the buffer
  auto r = ParseSockDiagReply(bad, &m);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(std::string(r.status().message()).find("netlink message"), std::string::npos);
}

TEST(TcpCountersTest, IntervalIsTheGrowthSinceThePreviousRead) {
  TcpVolume v;
  provenance::v1::NetPeer p;
  v.Update(TcpCounterMap{{500, {1000, 2000}}});
  v.Fill(500, &p);
  EXPECT_EQ(p.bytes_sent(), 1000u);
  EXPECT_FALSE(p.has_interval_bytes_sent()) << "first read: the bytes may predate the interval";
  v.Update(TcpCounterMap{{500, {5000, 2500}}, {501, {300, 400}}});
  p.Clear();
  v.Fill(500, &p);
  EXPECT_EQ(p.interval_bytes_sent(), 4000u);
  EXPECT_EQ(p.interval_bytes_received(), 500u);
  p.Clear();
  v.Fill(501, &p);  // opened since the previous read: all of it
  EXPECT_EQ(p.interval_bytes_sent(), 300u);
  EXPECT_EQ(p.interval_bytes_received(), 400u);
  p.Clear();
  v.Fill(999, &p);  // not in the dump (another network namespace)
  EXPECT_FALSE(p.has_bytes_sent());
  EXPECT_FALSE(p.has_interval_bytes_sent());
  // A failed read: nothing now, and the next interval is unknown too.
  v.Update(absl::UnavailableError("sock_diag: Permission denied"));
  p.Clear();
  v.Fill(500, &p);
  EXPECT_FALSE(p.has_bytes_sent());
  v.Update(TcpCounterMap{{500, {6000, 2600}}});
  p.Clear();
  v.Fill(500, &p);
  EXPECT_EQ(p.bytes_sent(), 6000u);
  EXPECT_FALSE(p.has_interval_bytes_sent());
  // Counters that went down: the inode is another socket now; unknown, not negative.
  v.Update(TcpCounterMap{{500, {10, 10}}});
  p.Clear();
  v.Fill(500, &p);
  EXPECT_FALSE(p.has_interval_bytes_sent());
}

TEST(TcpCountersTest, CollectNetPeersFillsByInode) {
  testing::FixtureTree t;
  // 10.0.0.5:50000 -> 10.0.0.7:29509, ESTABLISHED, inode 502.
  t.Write("proc/10/net/tcp",
          "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
          "timeout inode\n"
          "   0: 0500000A:C350 0700000A:7345 01 00000000:00000000 00:00000000 00000000  1000   "
          "     0 502 1 0\n");
  TcpVolume v;
  v.Update(TcpCounterMap{{502, {100, 100}}});
  v.Update(TcpCounterMap{{502, {1100, 900}}});
  std::vector<std::string> errors;
  NetSummary s = CollectNetPeers(t.proc(), {10}, {502}, &errors, &v);
  ASSERT_EQ(s.peers.size(), 1u) << (errors.empty() ? "" : errors[0]);
  EXPECT_EQ(s.peers[0].bytes_sent(), 1100u);
  EXPECT_EQ(s.peers[0].interval_bytes_sent(), 1000u);
  EXPECT_EQ(s.peers[0].interval_bytes_received(), 800u);
}

// The real dump: a loopback connection that sent 1 MiB shows at least that much acknowledged.
TEST(TcpCountersTest, RealSockDiagSeesALoopbackConnection) {
  const int server = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(server, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(server, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(server, 1), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::getsockname(server, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int client = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  const int accepted = ::accept(server, nullptr, nullptr);
  ASSERT_GE(accepted, 0);
  std::string chunk(64 << 10, 'x');
  size_t sent = 0, got = 0;
  char buf[64 << 10];
  while (sent < (1u << 20)) {
    ssize_t n = ::send(client, chunk.data(), chunk.size(), 0);
    ASSERT_GT(n, 0);
    sent += static_cast<size_t>(n);
    while (got < sent) {
      ssize_t r = ::recv(accepted, buf, sizeof(buf), 0);
      ASSERT_GT(r, 0);
      got += static_cast<size_t>(r);
    }
  }
  struct stat st {};
  ASSERT_EQ(::fstat(client, &st), 0);
  auto counters = RealTcpCounterSource()->Read();
  if (!counters.ok()) {
    ::close(accepted), ::close(client), ::close(server);
    GTEST_SKIP() << "no sock_diag here: " << counters.status();
  }
  auto it = counters->find(st.st_ino);
  ASSERT_NE(it, counters->end()) << counters->size() << " sockets in the dump";
  EXPECT_GE(it->second.bytes_acked, 1u << 20);
  EXPECT_EQ(it->second.bytes_received, 0u);
  ::close(accepted), ::close(client), ::close(server);
}

}  // namespace
}  // namespace prov::agent
