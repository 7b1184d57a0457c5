// UTF-8 validation for text that came from outside (imported files), with a position a person can
// find in an editor.
//
//   absl::Status valid = CheckUtf8(text);
//   // "line 3, column 18: byte 0xE9 is not valid UTF-8"
//
// Rejects what proto3 `string` fields would refuse to parse back (and so what must never reach a
// stored record): bytes that are not UTF-8 at all, overlong forms, surrogates (U+D800..U+DFFF),
// code points above U+10FFFF and sequences cut short. Lines are counted on '\n' and start at 1;
// columns count characters (code points) from 1. Pure function; thread-safe.
#pragma once

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace prov {

// Length of the valid UTF-8 prefix of `text` (text.size() when all of it is valid).
size_t ValidUtf8Prefix(absl::string_view text);

// OK, or INVALID_ARGUMENT naming the line, column and byte of the first invalid sequence.
absl::Status CheckUtf8(absl::string_view text);

}  // namespace prov
