// Network peers of a workload: TCP sockets its processes hold, from <procfs>/<pid>/net/tcp{,6}
// matched against the socket inodes of the processes' fd/* links (socket:[inode]).
//
//   std::vector<TcpSocket> socks = ParseProcNetTcp(text, /*ipv6=*/false, "net/tcp", &errors);
//   NetSummary s = CollectNetPeers("/proc", {4242, 4243}, {12345, 12346}, &errors);
//   s.peers (non-listening sockets: remote address/port, local port, state), s.listening_ports
//
// Format (proc(5)): "sl local rem st ... uid timeout inode"; addresses are hex, IPv4 one 32-bit
// word and IPv6 four, each word in host byte order (little-endian here). Bytes per socket are not
// in procfs: with a TcpVolume (tcp_counters.h, sock_diag) they are filled by socket inode,
// otherwise NetPeer.bytes_* stay unset. Malformed lines are skipped and named in *errors.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "agent/collect/tcp_counters.h"
#include "provenance/v1/report.pb.h"

namespace prov::agent {

struct TcpSocket {
  std::string local_address;
  uint32_t local_port = 0;
  std::string remote_address;
  uint32_t remote_port = 0;
  std::string state;  // "ESTABLISHED", "LISTEN", ...
  uint64_t inode = 0;
};

std::vector<TcpSocket> ParseProcNetTcp(absl::string_view text, bool ipv6,
                                       absl::string_view source_name,
                                       std::vector<std::string>* errors);

struct NetSummary {
  std::vector<provenance::v1::NetPeer> peers;
  std::vector<uint32_t> listening_ports;  // sorted, unique
  // Distinct remote addresses connected to one of the listening ports (inbound clients).
  size_t inbound_peer_addresses = 0;
};

NetSummary CollectNetPeers(const std::string& procfs_root, const std::vector<uint32_t>& pids,
                           const absl::flat_hash_set<uint64_t>& inodes,
                           std::vector<std::string>* errors, const TcpVolume* volume = nullptr);

}  // namespace prov::agent
