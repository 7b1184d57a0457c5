#include "agent/collect/tcp_counters.h"

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace prov::agent {
namespace {

constexpr size_t kCountersEnd = offsetof(struct tcp_info, tcpi_bytes_received) + sizeof(uint64_t);
static_assert(offsetof(struct tcp_info, tcpi_bytes_acked) < kCountersEnd);

class SockDiagSource : public TcpCounterSource {
 public:
  absl::StatusOr<TcpCounterMap> Read() override {
    const int fd = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0) return absl::UnavailableError(absl::StrCat("sock_diag: ", std::strerror(errno)));
    TcpCounterMap out;
    absl::Status status;
    for (uint8_t family : {AF_INET, AF_INET6}) {
      status = Dump(fd, family, &out);
      if (!status.ok()) break;
    }
    ::close(fd);
    if (!status.ok()) return status;
    return out;
  }

 private:
  static absl::Status Dump(int fd, uint8_t family, TcpCounterMap* out) {
    struct {
      nlmsghdr nlh;
      inet_diag_req_v2 req;
    } msg{};
    msg.nlh.nlmsg_len = sizeof(msg);
    msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    msg.nlh.nlmsg_seq = family;
    msg.req.sdiag_family = family;
    msg.req.sdiag_protocol = IPPROTO_TCP;
    msg.req.idiag_states = ~0u;
    msg.req.idiag_ext = 1u << (INET_DIAG_INFO - 1);
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    if (::sendto(fd, &msg, sizeof(msg), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof(kernel)) <
        0) {
      return absl::UnavailableError(absl::StrCat("sock_diag send: ", std::strerror(errno)));
    }
    alignas(nlmsghdr) char buf[64 * 1024];
    for (;;) {
      const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        return absl::UnavailableError(absl::StrCat("sock_diag recv: ", std::strerror(errno)));
      }
      if (n == 0) return absl::UnavailableError("sock_diag: the dump ended without NLMSG_DONE");
      absl::StatusOr<bool> done = ParseSockDiagReply(absl::string_view(buf, n), out);
      if (!done.ok()) return done.status();
      if (*done) return absl::OkStatus();
    }
  }
};

}  // namespace

std::unique_ptr<TcpCounterSource> RealTcpCounterSource() {
  return std::make_unique<SockDiagSource>();
}

absl::StatusOr<bool> ParseSockDiagReply(absl::string_view bytes, TcpCounterMap* out) {
  const char* p = bytes.data();
  size_t left = bytes.size();
  while (left >= sizeof(nlmsghdr)) {
    nlmsghdr h;
    std::memcpy(&h, p, sizeof(h));
    if (h.nlmsg_len < sizeof(nlmsghdr) || h.nlmsg_len > left) {
      return absl::DataLossError(
          absl::StrCat("sock_diag: netlink message of ", h.nlmsg_len, " bytes in ", left));
    }
    if (h.nlmsg_type == NLMSG_DONE) return true;
    if (h.nlmsg_type == NLMSG_ERROR) {
      int error = 0;
      if (h.nlmsg_len >= NLMSG_LENGTH(sizeof(nlmsgerr))) {
        std::memcpy(&error, p + NLMSG_HDRLEN, sizeof(error));
      }
      return absl::UnavailableError(absl::StrCat("sock_diag: ", std::strerror(-error)));
    }
    if (h.nlmsg_len >= NLMSG_LENGTH(sizeof(inet_diag_msg))) {
      inet_diag_msg m;
      std::memcpy(&m, p + NLMSG_HDRLEN, sizeof(m));
      size_t attr = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(inet_diag_msg));
      while (attr + sizeof(rtattr) <= h.nlmsg_len) {
        rtattr a;
        std::memcpy(&a, p + attr, sizeof(a));
        if (a.rta_len < sizeof(rtattr) || attr + a.rta_len > h.nlmsg_len) break;
        const size_t payload = a.rta_len - RTA_LENGTH(0);
        if (a.rta_type == INET_DIAG_INFO && payload >= kCountersEnd && m.idiag_inode != 0) {
          tcp_info info{};
          std::memcpy(&info, p + attr + RTA_LENGTH(0), std::min(payload, sizeof(info)));
          (*out)[m.idiag_inode] = {info.tcpi_bytes_acked, info.tcpi_bytes_received};
        }
        attr += RTA_ALIGN(a.rta_len);
      }
    }
    const size_t step = NLMSG_ALIGN(h.nlmsg_len);
    if (step >= left) break;
    p += step;
    left -= step;
  }
  return false;
}

void TcpVolume::Update(absl::StatusOr<TcpCounterMap> counters) {
  previous_ = std::move(current_);
  have_previous_ = have_current_;
  have_current_ = counters.ok();
  current_ = counters.ok() ? *std::move(counters) : TcpCounterMap{};
}

void TcpVolume::Fill(uint64_t inode, provenance::v1::NetPeer* peer) const {
  auto it = current_.find(inode);
  if (it == current_.end()) return;
  const TcpCounters& now = it->second;
  peer->set_bytes_sent(now.bytes_acked);
  peer->set_bytes_received(now.bytes_received);
  if (!have_previous_) return;  // the first read: the bytes may predate the interval
  auto before = previous_.find(inode);
  if (before == previous_.end()) {  // opened since the previous collection
    peer->set_interval_bytes_sent(now.bytes_acked);
    peer->set_interval_bytes_received(now.bytes_received);
    return;
  }
  if (now.bytes_acked < before->second.bytes_acked ||
      now.bytes_received < before->second.bytes_received) {
    return;  // an inode reused by a new socket: unknown
  }
  peer->set_interval_bytes_sent(now.bytes_acked - before->second.bytes_acked);
  peer->set_interval_bytes_received(now.bytes_received - before->second.bytes_received);
}

}  // namespace prov::agent
