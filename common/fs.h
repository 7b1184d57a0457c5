// Plain file-system reads with Status errors, for code that reads /sys, /proc and config files.
// Roots (--sysfs-root, --procfs-root) are joined by the caller; tests point them at fixture trees.
//
//   absl::StatusOr<std::string> text = prov::ReadFileToString("/sys/bus/pci/devices/x/vendor");
//   absl::StatusOr<std::vector<std::string>> names = prov::ListDirectory("/proc");
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace prov {

// Reads a whole file of at most max_bytes (default 16 MiB). NOT_FOUND when missing;
// OUT_OF_RANGE naming the path and the limit when the file is larger: a file is never cut short
// silently (a truncated JSON scenario or YAML policy would fail later with a misleading parse
// error, or worse, parse). Callers that read big inputs pass a limit that fits them.
absl::StatusOr<std::string> ReadFileToString(const std::string& path, size_t max_bytes = 16u << 20);
// The first max_bytes of a file, shorter when the file is: for /proc and /sys files whose prefix
// is what the caller wants (a command line, an environment block) and whose size stat() cannot
// tell.
absl::StatusOr<std::string> ReadFilePrefix(const std::string& path, size_t max_bytes);
// Entry names (no "." or ".."), sorted.
absl::StatusOr<std::vector<std::string>> ListDirectory(const std::string& path);
// Target of a symbolic link.
absl::StatusOr<std::string> ReadSymlink(const std::string& path);
bool PathExists(const std::string& path);
// What tells a changed file from an unchanged one without reading it: device, inode, size and
// modification time from stat(2), which follows symlinks (so a swapped link, as Kubernetes
// updates a mounted Secret, is a change). A missing or unreadable file has size -1.
struct FileStamp {
  uint64_t device = 0;
  uint64_t inode = 0;
  int64_t size = -1;
  int64_t mtime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};
FileStamp StampFile(const std::string& path);
// Writes via a temporary file and rename(2); fsync when asked. Creates no directories.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view data,
                                 bool sync = false);
// mkdir -p
absl::Status CreateDirectories(const std::string& path);
std::string JoinPath(absl::string_view a, absl::string_view b);

}  // namespace prov
