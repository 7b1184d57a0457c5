// Helpers for the fault tests (tests/fault, ctest label `fault`): root-only setups that skip
// cleanly elsewhere, a Prometheus scrape over a raw socket, and a process's resident memory.
//
//   std::string why;
//   auto mount = TmpfsMount::Make(dir.Sub("mnt"), 32 << 20, &why);
//   if (!mount) GTEST_SKIP() << why;               // not root, or mount(2) refused
//   std::optional<double> v = ScrapeMetric(metrics_port, "prov_commit_failures_total",
//                                          "reason=\"disk_full\"");
//   std::optional<int64_t> kb = ProcessRssKb(pid);    // VmRSS from /proc/<pid>/status
//
// Thread-safety: none needed; each test uses them from its own thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace prov::testing {

// A tmpfs of `bytes` mounted on `dir` (created) for the object's lifetime; unmounted (lazily)
// on destruction. nullptr with the reason when this process may not mount (not root, no
// CAP_SYS_ADMIN, a container that forbids it).
class TmpfsMount {
 public:
  static std::unique_ptr<TmpfsMount> Make(const std::string& dir, int64_t bytes, std::string* why);
  ~TmpfsMount();
  const std::string& dir() const { return dir_; }

 private:
  explicit TmpfsMount(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
};

// Writes `path` until the file system says ENOSPC; the bytes written, or -1 (with errno) on any
// other error. The file stays until the caller unlinks it.
int64_t FillDisk(const std::string& path);

// GET /metrics from 127.0.0.1:port; empty on any error.
std::string ScrapeMetrics(int port);

// The value of the first sample of `name` whose label text contains `label` ("" matches the
// unlabelled sample too); nullopt when absent or the scrape failed.
std::optional<double> ScrapeMetric(int port, const std::string& name, const std::string& label);

// VmRSS of a process in KiB, from /proc/<pid>/status.
std::optional<int64_t> ProcessRssKb(int pid);

}  // namespace prov::testing
