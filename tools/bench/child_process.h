// ChildProcess: starts a benchmark target (prov-noop-sink, provd) and stops it again.
//
//   absl::StatusOr<std::unique_ptr<ChildProcess>> child =
//       ChildProcess::Start("/path/bin/provd", {"--listen", "127.0.0.1:0", "--port-file", f},
//                           "/tmp/run/provd.log");
//   absl::StatusOr<int> port = WaitForPortFile(f, absl::Seconds(30), **child);
//   (*child)->pid();                      // for /proc/<pid>/stat sampling
//   absl::Status s = (*child)->Stop(absl::Seconds(10));   // SIGTERM, then SIGKILL
//
// The destructor kills (SIGKILL) and reaps a child that is still running, so no target outlives
// the benchmark. stdout and stderr go to the log file. Thread-safety: one owner thread.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace prov::bench {

class ChildProcess {
 public:
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Start(const std::string& binary,
                                                             const std::vector<std::string>& args,
                                                             const std::string& log_file);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // True while the child has not exited (reaps it if it has).
  bool Running();
  // SIGTERM, wait up to grace, then SIGKILL. Error when the child had already died or exited
  // with a failure status (the message holds the status).
  absl::Status Stop(absl::Duration grace);
  // The waitpid() status once Running() returned false (WIFEXITED/WEXITSTATUS apply).
  int wait_status() const { return wait_status_; }
  const std::string& binary() const { return binary_; }

 private:
  ChildProcess(std::string binary, pid_t pid) : binary_(std::move(binary)), pid_(pid) {}

  std::string binary_;
  pid_t pid_;
  bool reaped_ = false;
  int wait_status_ = 0;
};

// Polls until `path` holds a port number (written by the target once listening) or the deadline
// passes or the child dies; each failure says which.
absl::StatusOr<int> WaitForPortFile(const std::string& path, absl::Duration timeout,
                                    ChildProcess& child);

}  // namespace prov::bench
