// The node's own unicast addresses, for NodeIdentity.addresses: provd matches a workload's peer
// address or MASTER_ADDR against them to tell which node it belongs to.
//
//   std::vector<std::string> errors;
//   std::vector<std::string> addrs = CollectNodeAddresses(RealInterfaceAddresses(), &errors);
//   // {"10.0.0.5", "192.168.7.2", "2001:db8::5"}; errors name what was skipped or failed
//
//   FixedInterfaceAddressSource fake({{"eth0", AF_INET, "10.0.0.5", IFF_UP}});   // tests
//
// Kept: IPv4 and IPv6 unicast addresses of interfaces that are up (IFF_UP). Dropped: loopback
// (127.0.0.0/8, ::1), link-local (169.254.0.0/16, fe80::/10), multicast (224.0.0.0/4, ff00::/8),
// unspecified (0.0.0.0, ::) and duplicates. Loopback is decided by the address, not by the
// interface's IFF_LOOPBACK flag: fabrics that route to the host (BGP unnumbered) put the node's
// routable /32 on `lo`, and that is the address its peers dial. Addresses are canonicalised
// (inet_pton, then inet_ntop: "2001:DB8:0::1" -> "2001:db8::1"), sorted IPv4 before IPv6 and
// numerically within a family, and capped at kMaxNodeAddresses (the first ones in that order).
//
// Errors never abort: a failing source (getifaddrs) gives no addresses and one error; an entry
// whose text does not parse as its family is skipped and named; a cut at the cap is named too.
// Thread-safety: RealInterfaceAddresses() is safe from any thread; the functions keep no state.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace prov::agent {

inline constexpr size_t kMaxNodeAddresses = 64;

// One address of one interface, as getifaddrs(3) reports it.
struct InterfaceAddress {
  std::string ifname;   // "eth0"
  int family = 0;       // AF_INET or AF_INET6; others are ignored
  std::string address;  // textual, inet_ntop form: "10.0.0.5", "2001:db8::5"
  unsigned flags = 0;   // the interface's IFF_* flags
};

// The seam: where interface addresses come from.
class InterfaceAddressSource {
 public:
  virtual ~InterfaceAddressSource() = default;
  // Every AF_INET/AF_INET6 address of every interface, unfiltered.
  virtual absl::StatusOr<std::vector<InterfaceAddress>> List() = 0;
};

// getifaddrs(3) / freeifaddrs(3) and inet_ntop(3). Stateless; one process-wide instance.
InterfaceAddressSource& RealInterfaceAddresses();

// A fixed answer: a list, or an error (tests; simulated nodes). Counts calls to List().
class FixedInterfaceAddressSource final : public InterfaceAddressSource {
 public:
  explicit FixedInterfaceAddressSource(std::vector<InterfaceAddress> entries = {})
      : result_(std::move(entries)) {}
  void Set(absl::StatusOr<std::vector<InterfaceAddress>> result) { result_ = std::move(result); }
  absl::StatusOr<std::vector<InterfaceAddress>> List() override {
    ++calls_;
    return result_;
  }
  int calls() const { return calls_; }

 private:
  absl::StatusOr<std::vector<InterfaceAddress>> result_;
  int calls_ = 0;
};

// Filters, dedups, sorts and caps source.List() as described above; problems go to *errors.
std::vector<std::string> CollectNodeAddresses(InterfaceAddressSource& source,
                                              std::vector<std::string>* errors,
                                              size_t max_addresses = kMaxNodeAddresses);

}  // namespace prov::agent
