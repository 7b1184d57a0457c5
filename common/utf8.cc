#include "common/utf8.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace prov {
namespace {

// Length of the valid UTF-8 sequence starting at text[i], or 0 when it is not one.
size_t SequenceLength(absl::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(text[k]); };
  const uint8_t b0 = byte(i);
  if (b0 < 0x80) return 1;
  size_t len;
  uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;  // overlong
    if (b0 == 0xED) hi = 0x9F;  // surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;  // overlong
    if (b0 == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return 0;  // continuation byte, overlong lead (C0, C1) or F5..FF
  }
  if (i + len > text.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (size_t k = 2; k < len; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  }
  return len;
}

}  // namespace

size_t ValidUtf8Prefix(absl::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    // ASCII fast path: most imported text is plain ASCII.
    if (static_cast<uint8_t>(text[i]) < 0x80) {
      ++i;
      continue;
    }
    size_t len = SequenceLength(text, i);
    if (len == 0) return i;
    i += len;
  }
  return i;
}

absl::Status CheckUtf8(absl::string_view text) {
  const size_t bad = ValidUtf8Prefix(text);
  if (bad == text.size()) return absl::OkStatus();
  int line = 1;
  int column = 1;
  for (size_t i = 0; i < bad;) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
      ++i;
      continue;
    }
    i += SequenceLength(text, i);  // valid here: everything before `bad` is
    ++column;
  }
  return absl::InvalidArgumentError(
      absl::StrFormat("line %d, column %d: byte 0x%02X is not valid UTF-8", line, column,
                      static_cast<unsigned>(static_cast<uint8_t>(text[bad]))));
}

}  // namespace prov
