// Per-socket TCP byte counters, for the bytes a workload exchanged with each peer (issue 9: a
// coordinator exchanges bulk, a tracker little).
//
//   std::unique_ptr<TcpCounterSource> source = RealTcpCounterSource();   // NETLINK_SOCK_DIAG
//   TcpVolume volume;                                   // lives across collections
//   volume.Update(source->Read());                      // once per collection
//   volume.Fill(inode, &net_peer);                      // bytes_* and interval_bytes_*
//
// RealTcpCounterSource dumps every TCP socket of the agent's network namespace (IPv4 and IPv6)
// with INET_DIAG_INFO and keeps tcp_info's tcpi_bytes_acked (sent and acknowledged) and
// tcpi_bytes_received, keyed by socket inode. Sockets in another network namespace (a pod
// without hostNetwork) are not in the dump: their peers carry no counters. Nothing is estimated:
// a counter the kernel did not give stays unset.
//
// TcpVolume turns lifetime counters into the interval's: the growth since the previous
// successful read, or the whole counter for a socket that was not there then (it opened in
// between). After the first read, or after a failed one, interval counters are unset (a socket's
// bytes may predate the interval). Not thread-safe: owned by the NodeCollector.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "provenance/v1/report.pb.h"

namespace prov::agent {

struct TcpCounters {
  uint64_t bytes_acked = 0;  // sent and acknowledged
  uint64_t bytes_received = 0;
};

using TcpCounterMap = absl::flat_hash_map<uint64_t, TcpCounters>;  // socket inode -> counters

class TcpCounterSource {
 public:
  virtual ~TcpCounterSource() = default;
  // Every TCP socket of the network namespace; an error when the dump could not be taken.
  virtual absl::StatusOr<TcpCounterMap> Read() = 0;
};

std::unique_ptr<TcpCounterSource> RealTcpCounterSource();

// Parses a NETLINK_SOCK_DIAG dump reply (a sequence of netlink messages, each an inet_diag_msg
// with attributes) into *out. Returns true at NLMSG_DONE; an error for NLMSG_ERROR or a
// malformed message. Sockets whose INET_DIAG_INFO is missing or too short for the two counters
// are left out. Exposed for tests.
absl::StatusOr<bool> ParseSockDiagReply(absl::string_view bytes, TcpCounterMap* out);

class TcpVolume {
 public:
  // The counters of this collection, or the error that kept them from being read.
  void Update(absl::StatusOr<TcpCounterMap> counters);
  // Sets the peer's counters for the socket `inode` where known.
  void Fill(uint64_t inode, provenance::v1::NetPeer* peer) const;

 private:
  TcpCounterMap current_, previous_;
  bool have_current_ = false, have_previous_ = false;
};

}  // namespace prov::agent
