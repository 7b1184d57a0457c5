// Helpers shared by the fuzz targets (tests/fuzz/README.md): split one input into several files'
// contents, and a scratch directory that lives as long as the fuzzing process.
//
//   std::vector<std::string> parts = prov::fuzz::SplitParts(data, size, 3);
//   // "state\n--8<--\nreport bytes" -> {"state", "report bytes", ""}
//   const std::string& dir = prov::fuzz::ScratchDir("spool");   // fresh per process
//
// Inputs that stand for several files (a spool directory, an export folder, a sysfs tree) are one
// byte string with kPartSeparator between the files, so seeds stay readable and mutations can
// move bytes between files. Not thread-safe (libFuzzer runs one input at a time).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace prov::fuzz {

inline constexpr char kPartSeparator[] = "\n--8<--\n";

// Exactly `count` parts: missing ones are empty, the last one keeps any further separators.
std::vector<std::string> SplitParts(const uint8_t* data, size_t size, size_t count);

// A directory under $TMPDIR (or /tmp) named after `tag`, created on first use and removed at
// exit; its contents are left to the caller.
const std::string& ScratchDir(const std::string& tag);

// Replaces `path`'s contents with `bytes` (creating parent directories). Aborts on I/O errors:
// the fuzzer's own scratch space failing is not a finding about the code under test.
void WriteFileOrDie(const std::string& path, const std::string& bytes);

}  // namespace prov::fuzz
