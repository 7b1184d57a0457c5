#include "server/identity/transcode.h"

#include <unicode/ucnv.h>
#include <unicode/unistr.h>

#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace prov::server {
namespace {

struct CloseConverter {
  void operator()(UConverter* c) const { ucnv_close(c); }
};

// "line L, column C" of byte `offset` in `bytes`.
std::string Position(absl::string_view bytes, size_t offset) {
  int line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i < offset && i < bytes.size(); ++i) {
    if (bytes[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  return absl::StrCat("line ", line, ", column ", offset - line_start + 1);
}

}  // namespace

absl::StatusOr<std::string> TranscodeToUtf8(absl::string_view bytes, absl::string_view encoding) {
  const std::string name = absl::AsciiStrToLower(absl::StripAsciiWhitespace(encoding));
  if (name.empty() || name == "utf-8" || name == "utf8") return std::string(bytes);
  UErrorCode status = U_ZERO_ERROR;
  std::unique_ptr<UConverter, CloseConverter> conv(ucnv_open(name.c_str(), &status));
  if (U_FAILURE(status) || conv == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "encoding: unknown \"", encoding, "\" (e.g. windows-1252, latin1, iso-8859-15, utf-8)"));
  }
  // Stop at the first byte the encoding does not define instead of substituting U+FFFD.
  ucnv_setToUCallBack(conv.get(), UCNV_TO_U_CALLBACK_STOP, nullptr, nullptr, nullptr, &status);
  if (U_FAILURE(status)) return absl::InternalError(u_errorName(status));
  icu::UnicodeString text;
  const char* source = bytes.data();
  const char* const limit = bytes.data() + bytes.size();
  UChar buffer[8192];
  while (true) {
    UChar* target = buffer;
    status = U_ZERO_ERROR;
    ucnv_toUnicode(conv.get(), &target, buffer + sizeof(buffer) / sizeof(buffer[0]), &source, limit,
                   nullptr, /*flush=*/true, &status);
    text.append(buffer, static_cast<int32_t>(target - buffer));
    if (status == U_BUFFER_OVERFLOW_ERROR) continue;
    if (U_FAILURE(status)) {
      char bad[32];
      int8_t bad_len = sizeof(bad);
      UErrorCode ignored = U_ZERO_ERROR;
      ucnv_getInvalidChars(conv.get(), bad, &bad_len, &ignored);
      if (U_FAILURE(ignored) || bad_len < 1) bad_len = 1;
      const size_t offset = static_cast<size_t>(source - bytes.data()) - bad_len;
      return absl::InvalidArgumentError(absl::StrFormat(
          "encoding %s: %s: byte 0x%02X is not a %s character", encoding, Position(bytes, offset),
          static_cast<unsigned>(static_cast<uint8_t>(bytes[offset])), encoding));
    }
    break;
  }
  std::string out;
  text.toUTF8String(out);
  return out;
}

}  // namespace prov::server
