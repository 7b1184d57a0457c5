// UTF-8 repair for bytes that come from outside the program (a node's /proc, a tenant's
// environment, a JSON file): proto3 `string` fields must hold valid UTF-8, or the message does not
// parse on the other side.
//
//   prov::Utf8Result r = prov::MakeValidUtf8(raw, /*max_bytes=*/256);
//   report.set_x(r.value);            // valid UTF-8, at most 256 bytes
//   if (r.changed()) { /* count it; keep Sha256Hex(raw) as evidence if it matters */ }
//
// - Every maximal ill-formed subsequence (Unicode 15, section 3.9, "substitution of maximal
//   subparts", the W3C/WHATWG practice) becomes one U+FFFD (EF BF BD). Overlong forms,
//   surrogates (ED A0..BF) and code points above U+10FFFF are ill-formed.
// - Truncation happens after the repair and only at a code point boundary, so the result is
//   never longer than max_bytes and never ends in a partial character.
// - NUL bytes are valid UTF-8 and are kept.
// Pure functions, thread-safe.
#pragma once

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace prov {

struct Utf8Result {
  std::string value;
  bool replaced = false;   // at least one ill-formed sequence became U+FFFD
  bool truncated = false;  // cut to max_bytes
  bool changed() const { return replaced || truncated; }
};

inline constexpr size_t kNoUtf8Limit = static_cast<size_t>(-1);

bool IsValidUtf8(absl::string_view bytes);
Utf8Result MakeValidUtf8(absl::string_view bytes, size_t max_bytes = kNoUtf8Limit);

}  // namespace prov
