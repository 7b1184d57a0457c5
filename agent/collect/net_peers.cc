#include "agent/collect/net_peers.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/fs.h"

namespace prov::agent {
namespace {

const char* StateName(uint32_t st) {
  static const char* const kNames[] = {
      "UNKNOWN", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",   "TIME_WAIT",
      "CLOSE",   "CLOSE_WAIT",  "LAST_ACK", "LISTEN",   "CLOSING",   "NEW_SYN_RECV"};
  return st < sizeof(kNames) / sizeof(kNames[0]) ? kNames[st] : "UNKNOWN";
}

// "0100007F:0CEA" -> ("127.0.0.1", 3306).
bool ParseEndpoint(absl::string_view s, bool ipv6, std::string* addr, uint32_t* port) {
  size_t colon = s.find(':');
  if (colon == absl::string_view::npos) return false;
  absl::string_view hex = s.substr(0, colon);
  if (hex.size() != (ipv6 ? 32u : 8u)) return false;
  unsigned char bytes[16];
  for (size_t w = 0; w < hex.size() / 8; ++w) {
    uint32_t word = 0;
    if (!absl::SimpleHexAtoi(hex.substr(w * 8, 8), &word)) return false;
    for (int b = 0; b < 4; ++b) bytes[w * 4 + b] = static_cast<unsigned char>(word >> (8 * b));
  }
  char text[INET6_ADDRSTRLEN] = {};
  if (::inet_ntop(ipv6 ? AF_INET6 : AF_INET, bytes, text, sizeof(text)) == nullptr) return false;
  *addr = text;
  return absl::SimpleHexAtoi(s.substr(colon + 1), port) && *port <= 0xffff;
}

}  // namespace

std::vector<TcpSocket> ParseProcNetTcp(absl::string_view text, bool ipv6,
                                       absl::string_view source_name,
                                       std::vector<std::string>* errors) {
  std::vector<TcpSocket> out;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (f.empty() || f[0] == "sl") continue;  // blank or header
    auto bad = [&](absl::string_view what) {
      errors->push_back(absl::StrCat(source_name, " line ", line_no, ": ", what));
    };
    if (f.size() < 10) {
      bad("expected at least 10 fields");
      continue;
    }
    TcpSocket s;
    uint32_t st = 0;
    if (!ParseEndpoint(f[1], ipv6, &s.local_address, &s.local_port)) {
      bad("bad local address");
      continue;
    }
    if (!ParseEndpoint(f[2], ipv6, &s.remote_address, &s.remote_port)) {
      bad("bad remote address");
      continue;
    }
    if (!absl::SimpleHexAtoi(f[3], &st)) {
      bad("bad state");
      continue;
    }
    if (!absl::SimpleAtoi(f[9], &s.inode)) {
      bad("bad inode");
      continue;
    }
    s.state = StateName(st);
    out.push_back(std::move(s));
  }
  return out;
}

NetSummary CollectNetPeers(const std::string& procfs_root, const std::vector<uint32_t>& pids,
                           const absl::flat_hash_set<uint64_t>& inodes,
                           std::vector<std::string>* errors, const TcpVolume* volume) {
  NetSummary out;
  if (inodes.empty()) return out;
  absl::flat_hash_set<uint64_t> seen;
  std::set<uint32_t> listening;
  std::vector<TcpSocket> connected;
  for (uint32_t pid : pids) {
    for (bool v6 : {false, true}) {
      std::string rel = absl::StrCat(pid, v6 ? "/net/tcp6" : "/net/tcp");
      auto text = ReadFilePrefix(JoinPath(procfs_root, rel), 64 << 20);
      if (!text.ok()) continue;  // no IPv6, or the process is gone
      for (TcpSocket& s : ParseProcNetTcp(*text, v6, rel, errors)) {
        if (s.inode == 0 || !inodes.contains(s.inode) || !seen.insert(s.inode).second) continue;
        if (s.state == "LISTEN") {
          listening.insert(s.local_port);
        } else {
          connected.push_back(std::move(s));
        }
      }
    }
  }
  std::set<std::string> inbound;
  for (const TcpSocket& s : connected) {
    provenance::v1::NetPeer* p = &out.peers.emplace_back();
    p->set_remote_address(s.remote_address);
    p->set_remote_port(s.remote_port);
    p->set_local_port(s.local_port);
    p->set_state(s.state);
    if (volume != nullptr) volume->Fill(s.inode, p);
    if (listening.count(s.local_port)) inbound.insert(s.remote_address);
  }
  out.listening_ports.assign(listening.begin(), listening.end());
  out.inbound_peer_addresses = inbound.size();
  return out;
}

}  // namespace prov::agent
