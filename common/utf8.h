// UTF-8 repair for bytes that come from outside the program (a node's /proc, a tenant's
// environment, a JSON file): proto3 `string` fields must hold valid UTF-8, or the message does not
// parse on the other side.
//
//   prov::Utf8Result r = prov::MakeValidUtf8(raw, /*max_bytes=*/256);
//   report.set_x(r.value);            // valid UTF-8, at most 256 bytes
//   if (r.changed()) { /* count it; keep Sha256Hex(raw) as evidence if it matters */ }
//
//   absl::Status valid = CheckUtf8(file_text);   // for imported files: refuse, don't repair
//   // "line 3, column 18: byte 0xE9 is not valid UTF-8"
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

#include "absl/status/status.h"
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

// Length of the valid UTF-8 prefix of `text` (text.size() when all of it is valid).
size_t ValidUtf8Prefix(absl::string_view text);

// OK, or INVALID_ARGUMENT naming the line, column and byte of the first ill-formed sequence, for a
// person to find in an editor. Lines are counted on '\n' from 1; columns count characters from 1.
absl::Status CheckUtf8(absl::string_view text);

}  // namespace prov
