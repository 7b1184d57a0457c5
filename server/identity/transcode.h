// Transcoding an imported file to UTF-8 when the person importing it names its encoding
// (provctl accounts import --encoding windows-1252).
//
//   absl::StatusOr<std::string> utf8 = TranscodeToUtf8(bytes, "windows-1252");
//   // error: "encoding us-ascii: line 4, column 9: byte 0xE9 is not a us-ascii character"
//
// `encoding` is any ICU converter name or alias ("windows-1252", "cp1252", "latin1",
// "iso-8859-15", "shift_jis", ...); "", "utf-8" and "utf8" return the bytes unchanged (the parsers
// then check them). Bytes the encoding does not define are refused, never replaced, so what is
// stored is what the file said (ICU maps every byte of windows-1252, the unassigned ones to C1
// controls; us-ascii, shift_jis and the like do refuse bytes). Columns count bytes from 1 (exact
// for single-byte encodings). Thread-safe (each call opens its own converter).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace prov::server {

absl::StatusOr<std::string> TranscodeToUtf8(absl::string_view bytes, absl::string_view encoding);

}  // namespace prov::server
