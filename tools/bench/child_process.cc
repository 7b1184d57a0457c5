#include "tools/bench/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/fs.h"

namespace prov::bench {
namespace {

constexpr absl::Duration kPollInterval = absl::Milliseconds(20);

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return absl::StrCat("exited with status ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return absl::StrCat("killed by signal ", WTERMSIG(status));
  return absl::StrCat("wait status ", status);
}

}  // namespace

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Start(
    const std::string& binary, const std::vector<std::string>& args, const std::string& log_file) {
  if (access(binary.c_str(), X_OK) != 0) {
    return absl::NotFoundError(
        absl::StrCat("target binary ", binary, " is not executable: ", std::strerror(errno)));
  }
  const int log_fd = open(log_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    return absl::InternalError(absl::StrCat("cannot open log ", log_file, ": ", strerror(errno)));
  }
  std::vector<std::string> argv_storage = {binary};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);

  const pid_t pid = fork();
  if (pid < 0) {
    close(log_fd);
    return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  }
  if (pid == 0) {
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  close(log_fd);
  return std::unique_ptr<ChildProcess>(new ChildProcess(binary, pid));
}

ChildProcess::~ChildProcess() {
  if (!reaped_) {
    kill(pid_, SIGKILL);
    waitpid(pid_, &wait_status_, 0);
  }
}

bool ChildProcess::Running() {
  if (reaped_) return false;
  const pid_t r = waitpid(pid_, &wait_status_, WNOHANG);
  if (r == pid_) reaped_ = true;
  return !reaped_;
}

absl::Status ChildProcess::Stop(absl::Duration grace) {
  if (!Running()) {
    return absl::InternalError(
        absl::StrCat(binary_, " had already stopped: ", DescribeWaitStatus(wait_status_)));
  }
  kill(pid_, SIGTERM);
  const absl::Time deadline = absl::Now() + grace;
  while (Running() && absl::Now() < deadline) absl::SleepFor(kPollInterval);
  if (Running()) {
    kill(pid_, SIGKILL);
    waitpid(pid_, &wait_status_, 0);
    reaped_ = true;
    return absl::DeadlineExceededError(
        absl::StrCat(binary_, " ignored SIGTERM for ", absl::FormatDuration(grace), "; killed"));
  }
  if (WIFEXITED(wait_status_) && WEXITSTATUS(wait_status_) == 0) return absl::OkStatus();
  if (WIFSIGNALED(wait_status_) && WTERMSIG(wait_status_) == SIGTERM) return absl::OkStatus();
  return absl::InternalError(
      absl::StrCat(binary_, " stopped badly: ", DescribeWaitStatus(wait_status_)));
}

absl::StatusOr<int> WaitForPortFile(const std::string& path, absl::Duration timeout,
                                    ChildProcess& child) {
  const absl::Time deadline = absl::Now() + timeout;
  std::string last_text;
  while (absl::Now() < deadline) {
    if (!child.Running()) {
      return absl::UnavailableError(
          absl::StrCat(child.binary(), " exited before writing its port file ", path));
    }
    absl::StatusOr<std::string> text = ReadFileToString(path);
    int port = 0;
    if (text.ok() && absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &port) && port > 0) {
      // A port file written without rename(2) may be read half-written: without its trailing
      // newline, accept the number only once it reads the same twice.
      if (!text->empty() && text->back() == '\n') return port;
      if (*text == last_text) return port;
      last_text = *text;
    }
    absl::SleepFor(kPollInterval);
  }
  return absl::DeadlineExceededError(absl::StrCat(child.binary(), " wrote no port to ", path,
                                                  " within ", absl::FormatDuration(timeout)));
}

}  // namespace prov::bench
