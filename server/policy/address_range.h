// An IPv4 or IPv6 address range (CIDR), for the policy's lists of addresses that are common by
// declaration (the provider's gateways, object stores, package mirrors).
//
//   absl::StatusOr<AddressRange> r = AddressRange::Parse("192.0.2.0/24");   // or "2001:db8::/32"
//   r->Contains("192.0.2.17");                                            // true
//   IsPublicAddress("10.1.2.3");                                          // false (RFC 1918)
//
// Immutable after Parse: safe to share between threads.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace prov::policy {

class AddressRange {
 public:
  // "a.b.c.d", "a.b.c.d/n", "x:y::z" or "x:y::/n"; INVALID_ARGUMENT naming the text otherwise.
  static absl::StatusOr<AddressRange> Parse(absl::string_view text);
  // False for anything that is not an address literal (a hostname) or of the other family.
  bool Contains(absl::string_view address) const;
  const std::string& text() const { return text_; }

 private:
  std::array<uint8_t, 16> bytes_{};
  int bits_ = 0;
  bool v6_ = false;
  std::string text_;
};

// A globally routable unicast address literal: not private (RFC 1918, fc00::/7), loopback,
// link-local, shared (100.64.0.0/10), multicast or unspecified. False for hostnames.
bool IsPublicAddress(absl::string_view address);

}  // namespace prov::policy
