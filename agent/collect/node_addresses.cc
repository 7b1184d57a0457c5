#include "agent/collect/node_addresses.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <tuple>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace prov::agent {
namespace {

class RealSource final : public InterfaceAddressSource {
 public:
  absl::StatusOr<std::vector<InterfaceAddress>> List() override {
    struct ifaddrs* head = nullptr;
    if (::getifaddrs(&head) != 0) return absl::ErrnoToStatus(errno, "getifaddrs");
    std::vector<InterfaceAddress> out;
    for (const struct ifaddrs* ifa = head; ifa != nullptr; ifa = ifa->ifa_next) {
      if (ifa->ifa_addr == nullptr) continue;  // interfaces without an address (some tunnels)
      const int family = ifa->ifa_addr->sa_family;
      const void* raw = nullptr;
      if (family == AF_INET) {
        raw = &reinterpret_cast<const struct sockaddr_in*>(ifa->ifa_addr)->sin_addr;
      } else if (family == AF_INET6) {
        raw = &reinterpret_cast<const struct sockaddr_in6*>(ifa->ifa_addr)->sin6_addr;
      } else {
        continue;  // AF_PACKET and friends: link-layer, not an IP address
      }
      char text[INET6_ADDRSTRLEN] = {};
      if (::inet_ntop(family, raw, text, sizeof(text)) == nullptr) continue;
      out.push_back({ifa->ifa_name != nullptr ? ifa->ifa_name : "", family, text, ifa->ifa_flags});
    }
    ::freeifaddrs(head);
    return out;
  }
};

// An address in network byte order; IPv4 uses the first 4 bytes.
struct Parsed {
  int family = 0;
  std::array<uint8_t, 16> bytes{};
  auto Key() const { return std::tie(family, bytes); }  // AF_INET (2) < AF_INET6 (10)
};

bool Unicast(const Parsed& a) {
  const auto& b = a.bytes;
  if (a.family == AF_INET) {
    if (b[0] == 127) return false;                 // loopback 127.0.0.0/8
    if (b[0] == 169 && b[1] == 254) return false;  // link-local 169.254.0.0/16
    if ((b[0] & 0xf0) == 0xe0) return false;       // multicast 224.0.0.0/4
    if (b[0] == 0 && b[1] == 0 && b[2] == 0 && b[3] == 0) return false;  // unspecified
    return true;
  }
  if (b[0] == 0xff) return false;                           // multicast ff00::/8
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return false;  // link-local fe80::/10
  const bool zero_prefix = std::all_of(b.begin(), b.begin() + 15, [](uint8_t x) { return x == 0; });
  if (zero_prefix && (b[15] == 0 || b[15] == 1)) return false;  // unspecified ::, loopback ::1
  return true;
}

std::string Format(const Parsed& a) {
  char text[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(a.family, a.bytes.data(), text, sizeof(text));  // cannot fail on parsed bytes
  return text;
}

}  // namespace

InterfaceAddressSource& RealInterfaceAddresses() {
  static RealSource* source = new RealSource();  // never destroyed: no exit-time ordering issues
  return *source;
}

std::vector<std::string> CollectNodeAddresses(InterfaceAddressSource& source,
                                              std::vector<std::string>* errors,
                                              size_t max_addresses) {
  auto entries = source.List();
  if (!entries.ok()) {
    errors->push_back(std::string(entries.status().message()));
    return {};
  }
  std::vector<Parsed> kept;
  for (const InterfaceAddress& e : *entries) {
    if (e.family != AF_INET && e.family != AF_INET6) continue;
    Parsed p;
    p.family = e.family;
    if (::inet_pton(e.family, e.address.c_str(), p.bytes.data()) != 1) {
      errors->push_back(absl::StrCat("interface ", e.ifname, ": '", e.address, "' is not an ",
                                     e.family == AF_INET ? "IPv4" : "IPv6", " address"));
      continue;
    }
    if ((e.flags & IFF_UP) == 0 || !Unicast(p)) continue;
    kept.push_back(p);
  }
  std::sort(kept.begin(), kept.end(),
            [](const Parsed& a, const Parsed& b) { return a.Key() < b.Key(); });
  kept.erase(std::unique(kept.begin(), kept.end(),
                         [](const Parsed& a, const Parsed& b) { return a.Key() == b.Key(); }),
             kept.end());
  if (kept.size() > max_addresses) {
    errors->push_back(absl::StrCat(kept.size(), " unicast addresses, only the first ",
                                   max_addresses, " reported"));
    kept.resize(max_addresses);
  }
  std::vector<std::string> out;
  out.reserve(kept.size());
  for (const Parsed& p : kept) out.push_back(Format(p));
  return out;
}

}  // namespace prov::agent
