#include "agent/collect/process_scanner.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/fs.h"

namespace prov::agent {
namespace {

std::string PidDir(const std::string& root, uint32_t pid) {
  return JoinPath(root, std::to_string(pid));
}

bool IsPid(absl::string_view name, uint32_t* pid) {
  if (name.empty()) return false;
  for (char c : name) {
    if (c < '0' || c > '9') return false;
  }
  return absl::SimpleAtoi(name, pid) && *pid > 0;
}

// Reads fd/* links: device refs and socket inodes. NOT_FOUND/PERMISSION_DENIED pass through.
absl::Status ScanFds(const std::string& dir, ProcessInfo* p) {
  auto fds = ListDirectory(JoinPath(dir, "fd"));
  if (!fds.ok()) return fds.status();
  for (const std::string& fd : *fds) {
    auto target = ReadSymlink(JoinPath(dir, "fd/" + fd));
    if (!target.ok()) continue;
    absl::string_view t = *target;
    if (absl::ConsumePrefix(&t, "socket:[") && absl::ConsumeSuffix(&t, "]")) {
      uint64_t inode = 0;
      if (absl::SimpleAtoi(t, &inode)) p->socket_inodes.push_back(inode);
      continue;
    }
    DeviceRef ref = ClassifyDevicePath(*target);
    if (ref.kind != DeviceKind::kNone &&
        std::find(p->devices.begin(), p->devices.end(), ref) == p->devices.end()) {
      p->devices.push_back(ref);
    }
  }
  return absl::OkStatus();
}

void ReadDetails(const std::string& root, ProcessInfo* p) {
  const std::string dir = PidDir(root, p->pid);
  if (auto s = ReadFileToString(JoinPath(dir, "stat"), 4096); s.ok()) {
    ParseStat(*s, &p->ppid, &p->start_ticks);
  }
  if (auto s = ReadFileToString(JoinPath(dir, "status"), 64 << 10); s.ok()) {
    p->uid = ParseStatusUid(*s);
  }
  if (auto s = ReadFilePrefix(JoinPath(dir, "cmdline"), 256 << 10); s.ok()) {
    p->argv = SplitCmdline(*s);
  }
  if (auto s = ReadFileToString(JoinPath(dir, "cgroup"), 64 << 10); s.ok()) p->cgroup = *s;
  if (auto s = ReadFilePrefix(JoinPath(dir, "environ"), 1 << 20); s.ok()) {
    p->env = FilterEnviron(*s);
  }
  if (p->ppid > 1) {
    auto s = ReadFilePrefix(JoinPath(PidDir(root, p->ppid), "cmdline"), 256 << 10);
    if (s.ok()) p->parent_argv = SplitCmdline(*s);
  }
}

}  // namespace

std::map<std::string, std::string> FilterEnviron(std::string& raw) {
  std::map<std::string, std::string> out;
  for (absl::string_view entry : absl::StrSplit(raw, '\0', absl::SkipEmpty())) {
    size_t eq = entry.find('=');
    if (eq == absl::string_view::npos) continue;
    absl::string_view name = entry.substr(0, eq);
    bool allowed = false;
    for (const char* a : kAllowedEnv) allowed = allowed || name == a;
    if (allowed) {
      out[std::string(name)] = std::string(entry.substr(eq + 1));
      continue;
    }
    for (const char* prefix : kMarkerEnvPrefixes) {
      if (absl::StartsWith(name, prefix)) out[std::string(name)] = "";
    }
  }
  // Values of other variables may be secrets: do not leave them in freed heap memory.
  volatile char* bytes = raw.data();
  for (size_t i = 0; i < raw.size(); ++i) bytes[i] = 0;
  raw.clear();
  return out;
}

std::vector<std::string> SplitCmdline(absl::string_view raw) {
  absl::ConsumeSuffix(&raw, absl::string_view("\0", 1));
  if (raw.empty()) return {};
  return absl::StrSplit(raw, '\0');
}

bool ParseStat(absl::string_view text, uint32_t* ppid, uint64_t* start_ticks) {
  size_t close = text.rfind(')');  // comm may contain spaces and parentheses
  if (close == absl::string_view::npos) return false;
  std::vector<absl::string_view> f = absl::StrSplit(text.substr(close + 1), ' ', absl::SkipEmpty());
  // After comm: f[0]=state (field 3), f[1]=ppid (4), ..., f[19]=starttime (22).
  if (f.size() < 20) return false;
  return absl::SimpleAtoi(f[1], ppid) && absl::SimpleAtoi(f[19], start_ticks);
}

std::optional<uint32_t> ParseStatusUid(absl::string_view text) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::ConsumePrefix(&line, "Uid:")) continue;
    std::vector<absl::string_view> ids =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    uint32_t uid = 0;
    if (!ids.empty() && absl::SimpleAtoi(ids[0], &uid)) return uid;
  }
  return std::nullopt;
}

absl::StatusOr<ProcessInfo> ReadProcess(const std::string& procfs_root, uint32_t pid) {
  ProcessInfo p;
  p.pid = pid;
  const std::string dir = PidDir(procfs_root, pid);
  if (!PathExists(dir))
    return absl::NotFoundError(absl::StrCat("no process ", pid, " in ", procfs_root));
  ScanFds(dir, &p).IgnoreError();  // fds are optional here: NVML already tied the pid to a GPU
  ReadDetails(procfs_root, &p);
  return p;
}

std::vector<ProcessInfo> ScanAcceleratorProcesses(const std::string& procfs_root,
                                                  ProcessScanStats* stats) {
  std::vector<ProcessInfo> out;
  auto names = ListDirectory(procfs_root);
  if (!names.ok()) return out;
  for (const std::string& name : *names) {
    uint32_t pid = 0;
    if (!IsPid(name, &pid)) continue;
    ++stats->processes_seen;
    ProcessInfo p;
    p.pid = pid;
    if (!ScanFds(PidDir(procfs_root, pid), &p).ok()) {
      ++stats->unreadable;
      continue;
    }
    if (p.devices.empty()) continue;
    ReadDetails(procfs_root, &p);
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace prov::agent
