// Subprocess: runs a real binary (provd, prov-sim, provctl) for the integration tests.
//
//   Subprocess sim({bin + "/prov-sim", "--insecure", ...}, out_path);   // stdout+stderr -> file
//   std::optional<int> rc = sim.Wait(std::chrono::seconds(60));          // nullopt: timed out
//   provd.Signal(SIGKILL);
//
// Waiting polls waitpid with a deadline (no fixed sleeps). The destructor SIGKILLs a child still
// running, so a failing test never leaves processes behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace prov::testing {

class Subprocess {
 public:
  Subprocess(const std::vector<std::string>& argv, const std::string& output_path);
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  bool started() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  bool Running();
  void Signal(int sig);
  // Exit code (128 + signal when killed by one); nullopt when still running at the deadline.
  std::optional<int> Wait(std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
};

// Runs to completion; returns {exit code, output}. Exit code -1 when it timed out.
std::pair<int, std::string> RunCommand(
    const std::vector<std::string>& argv,
    std::chrono::milliseconds timeout = std::chrono::seconds(60));

// Forks and execs `args` (args[0] a path) with stdout and stderr appended to `log` (opened here,
// so it needs no permission of the child's user), in `cwd`, as `run_as` (uid, gid) when given,
// with HOME=`cwd` when `home_is_cwd` (Python and libpq then look there, not in root's home).
// The child gets `death_signal` when the thread that forked it exits (set after the uid change,
// which clears it). Everything is prepared before fork(): the child calls only
// async-signal-safe functions. The pid, or -1 when fork failed; the caller waits for it.
struct SpawnOptions {
  std::string log;
  std::string cwd = ".";
  std::optional<std::pair<uid_t, gid_t>> run_as = std::nullopt;
  bool home_is_cwd = false;
  int death_signal = 9;  // SIGKILL
};
pid_t SpawnLogged(const std::vector<std::string>& args, const SpawnOptions& options);

std::string ReadFile(const std::string& path);
// A TCP port on 127.0.0.1 that was free a moment ago (bind :0, read, close).
int PickFreePort();
// $PROV_BIN_DIR (set by ctest), else "build/bin".
std::string BinDir();

}  // namespace prov::testing
