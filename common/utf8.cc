#include "common/utf8.h"

#include "absl/strings/str_format.h"

namespace prov {
namespace {

// Length of the well-formed sequence starting at s[i] (1..4), or 0 when ill-formed; *consumed
// is then the length of the maximal subpart to replace with one U+FFFD (at least 1).
size_t WellFormedLength(absl::string_view s, size_t i, size_t* consumed) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  *consumed = 1;
  if (c < 0x80) return 1;
  size_t need = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    need = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 3;
    if (c == 0xE0) lo = 0xA0;  // no overlongs
    if (c == 0xED) hi = 0x9F;  // no surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 4;
    if (c == 0xF0) lo = 0x90;  // no overlongs
    if (c == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    return 0;  // C0, C1, F5..FF, or a stray continuation byte
  }
  for (size_t k = 1; k < need; ++k) {
    if (i + k >= s.size()) return 0;
    const unsigned char t = b(i + k);
    const unsigned char min = k == 1 ? lo : 0x80, max = k == 1 ? hi : 0xBF;
    if (t < min || t > max) return 0;
    *consumed = k + 1;
  }
  return need;
}

}  // namespace

bool IsValidUtf8(absl::string_view bytes) {
  size_t i = 0;
  while (i < bytes.size()) {
    // Fast path for ASCII.
    if (static_cast<unsigned char>(bytes[i]) < 0x80) {
      ++i;
      continue;
    }
    size_t consumed = 0;
    size_t n = WellFormedLength(bytes, i, &consumed);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

Utf8Result MakeValidUtf8(absl::string_view bytes, size_t max_bytes) {
  Utf8Result r;
  if (IsValidUtf8(bytes)) {
    r.value = std::string(bytes);
  } else {
    r.replaced = true;
    r.value.reserve(bytes.size() + 8);
    size_t i = 0;
    while (i < bytes.size()) {
      size_t consumed = 0;
      size_t n = WellFormedLength(bytes, i, &consumed);
      if (n > 0) {
        r.value.append(bytes.data() + i, n);
        i += n;
      } else {
        r.value.append("\xEF\xBF\xBD");
        i += consumed;
      }
    }
  }
  if (r.value.size() > max_bytes) {
    size_t cut = max_bytes;
    // Back up over continuation bytes to the start of the character that would be split.
    while (cut > 0 && (static_cast<unsigned char>(r.value[cut]) & 0xC0) == 0x80) --cut;
    r.value.resize(cut);
    r.truncated = true;
  }
  return r;
}

size_t ValidUtf8Prefix(absl::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      ++i;
      continue;
    }
    size_t consumed = 0;
    const size_t n = WellFormedLength(text, i, &consumed);
    if (n == 0) return i;
    i += n;
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
    size_t consumed = 0;
    i += WellFormedLength(text, i, &consumed);  // well formed: everything before `bad` is
    ++column;
  }
  return absl::InvalidArgumentError(
      absl::StrFormat("line %d, column %d: byte 0x%02X is not valid UTF-8", line, column,
                      static_cast<unsigned>(static_cast<unsigned char>(text[bad]))));
}

}  // namespace prov
