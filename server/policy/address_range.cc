#include "server/policy/address_range.h"

#include <arpa/inet.h>

#include <cstring>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace prov::policy {
namespace {

// Parses an address literal into 16 bytes (IPv4 in the first 4); false when it is none.
bool ParseAddress(absl::string_view text, std::array<uint8_t, 16>* bytes, bool* v6) {
  const std::string s(text);
  bytes->fill(0);
  if (inet_pton(AF_INET, s.c_str(), bytes->data()) == 1) {
    *v6 = false;
    return true;
  }
  if (inet_pton(AF_INET6, s.c_str(), bytes->data()) == 1) {
    *v6 = true;
    return true;
  }
  return false;
}

bool PrefixMatches(const std::array<uint8_t, 16>& a, const std::array<uint8_t, 16>& b, int bits) {
  for (int i = 0; bits > 0; ++i, bits -= 8) {
    const uint8_t mask = bits >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - bits));
    if ((a[i] & mask) != (b[i] & mask)) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<AddressRange> AddressRange::Parse(absl::string_view text) {
  AddressRange r;
  r.text_ = std::string(text);
  absl::string_view address = text;
  int bits = -1;
  if (const size_t slash = text.find('/'); slash != absl::string_view::npos) {
    address = text.substr(0, slash);
    if (!absl::SimpleAtoi(text.substr(slash + 1), &bits) || bits < 0) {
      return absl::InvalidArgumentError(absl::StrCat("\"", text, "\": bad prefix length"));
    }
  }
  if (!ParseAddress(address, &r.bytes_, &r.v6_)) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\" is not an IPv4 or IPv6 address or CIDR range"));
  }
  const int max_bits = r.v6_ ? 128 : 32;
  if (bits > max_bits) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\": prefix length over ", max_bits));
  }
  r.bits_ = bits < 0 ? max_bits : bits;
  return r;
}

bool AddressRange::Contains(absl::string_view address) const {
  std::array<uint8_t, 16> bytes;
  bool v6 = false;
  if (!ParseAddress(address, &bytes, &v6) || v6 != v6_) return false;
  return PrefixMatches(bytes, bytes_, bits_);
}

bool IsPublicAddress(absl::string_view address) {
  static const auto* kNotPublic = [] {
    auto* v = new std::vector<AddressRange>;
    for (const char* cidr : {"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8",
                             "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16", "224.0.0.0/3",
                             "::/127", "fc00::/7", "fe80::/10", "ff00::/8", "::ffff:0:0/96"}) {
      v->push_back(*AddressRange::Parse(cidr));
    }
    return v;
  }();
  std::array<uint8_t, 16> bytes;
  bool v6 = false;
  if (!ParseAddress(address, &bytes, &v6)) return false;
  for (const AddressRange& r : *kNotPublic) {
    if (r.Contains(address)) return false;
  }
  return true;
}

}  // namespace prov::policy
