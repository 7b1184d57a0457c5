// Runs the real bin/provd: flag errors exit 2 naming the flag; a port-0 server announces itself,
// writes --port-file, and exits 0 on SIGTERM.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/fs.h"
#include "gtest/gtest.h"
#include "tests/server/temp_dir.h"

namespace prov::server {
namespace {

std::string ProvdPath() {
  const char* bin = std::getenv("PROV_BIN_DIR");
  return std::string(bin != nullptr ? bin : "build/bin") + "/provd";
}

struct Child {
  pid_t pid = -1;
  int out_fd = -1;  // stdout and stderr together
};

Child Spawn(const std::vector<std::string>& args) {
  int fds[2];
  if (pipe(fds) != 0) return {};
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    close(fds[0]);
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(fds[1]);
  return {pid, fds[0]};
}

std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, n);
  close(fd);
  return out;
}

int ExitCode(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

struct Result {
  int code;
  std::string output;
};

Result RunProvd(std::vector<std::string> args) {
  args.insert(args.begin(), ProvdPath());
  Child child = Spawn(args);
  std::string output = ReadAll(child.out_fd);
  return {ExitCode(child.pid), output};
}

TEST(ProvdMainTest, BadFlagsExitTwoNamingTheFlag) {
  testing::TempDir dir;
  const std::string data = "--data-dir=" + dir.path();
  struct Case {
    std::vector<std::string> args;
    std::string expected;
  } cases[] = {
      {{data, "--bogus"}, "Unknown command line flag 'bogus'"},
      {{data, "--insecure", "--queue-capacity=abc"}, "flag 'queue_capacity'"},
      {{"--insecure"}, "--data-dir: is required"},
      {{data}, "--tls-cert and --tls-key: are required"},
      {{data, "--insecure", "--tls-cert=x.pem"}, "--insecure: cannot be combined"},
      {{data, "--insecure", "--default-utilization=0"}, "--default-utilization: 0 is not in"},
      {{data, "--insecure", "--max-batch=0"}, "--max-batch: must be >= 1"},
      {{data, "--insecure", "--accelerator-catalog=/nonexistent.tsv"}, "--accelerator-catalog: "},
      {{"--flagfile=/nonexistent.flags"}, "--flagfile: cannot read /nonexistent.flags"},
      {{data, "--insecure", "--alertmanager-url=am:9093"},
       "--alertmanager-url: alertmanager url \"am:9093\": must start with http://"},
      // Repeated --alertmanager-url flags are all kept (absl alone would keep the last one).
      {{data, "--insecure", "--alertmanager-url=ftp://x", "--alertmanager-url",
        "http://127.0.0.1:9093"},
       "alertmanager url \"ftp://x\""},
      {{data, "--insecure", "--alert-min-severity=urgent"},
       "--alert-min-severity: \"urgent\" is not one of info, low, medium, high, critical"},
      // Issue 10: binding streams to certificates needs client certificates.
      {{data, "--insecure", "--node-identity=cert"},
       "--node-identity: cert needs client certificates to bind streams to (--tls-client-ca)"},
      {{data, "--insecure", "--node-identity=trust"},
       "--node-identity: \"trust\" is not one of cert, report"},
      {{data, "--tls-cert=s.pem", "--tls-key=s.key", "--tls-client-ca=ca.pem",
        "--node-identity=report"},
       "--node-identity: report is only for --insecure or TLS without --tls-client-ca"},
  };
  for (const Case& c : cases) {
    Result r = RunProvd(c.args);
    EXPECT_EQ(r.code, 2) << c.args.back() << "\n" << r.output;
    EXPECT_NE(r.output.find(c.expected), std::string::npos) << r.output;
  }
}

TEST(ProvdMainTest, ServesOnPortZeroAndStopsOnSigterm) {
  testing::TempDir dir;
  const std::string port_file = dir.path() + "/port";
  const std::string flags = dir.path() + "/provd.flags";
  ASSERT_TRUE(WriteFileAtomically(flags, "--listen=127.0.0.1:0\n--metrics-listen=\n").ok());
  Child child = Spawn({ProvdPath(), "--data-dir=" + dir.path() + "/data", "--insecure",
                       "--flagfile=" + flags, "--port-file=" + port_file});
  ASSERT_GT(child.pid, 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::string port;
  while (std::chrono::steady_clock::now() < deadline) {  // poll with a deadline
    auto text = ReadFileToString(port_file);
    if (text.ok() && !text->empty() && text->back() == '\n') {
      port = text->substr(0, text->size() - 1);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_FALSE(port.empty()) << "provd did not write --port-file";
  EXPECT_GT(std::stoi(port), 0);
  // A second provd on the same address fails instead of sharing the port (no SO_REUSEPORT).
  Result second = RunProvd({"--data-dir=" + dir.path() + "/data2", "--insecure",
                            "--listen=127.0.0.1:" + port, "--metrics-listen="});
  EXPECT_EQ(second.code, 1) << second.output;
  EXPECT_NE(second.output.find("cannot listen on 127.0.0.1:" + port), std::string::npos)
      << second.output;
  EXPECT_TRUE(PathExists(dir.path() + "/data/provd.db"));
  kill(child.pid, SIGTERM);
  EXPECT_EQ(ExitCode(child.pid), 0);
  std::string output = ReadAll(child.out_fd);
  EXPECT_NE(output.find(absl::StrCat("provd listening on 127.0.0.1:", port, " (metrics off)")),
            std::string::npos)
      << output;
  EXPECT_NE(output.find("SIGTERM received"), std::string::npos) << output;
  // --insecure: reports are believed about their node, and provd says so at start (issue 10).
  EXPECT_NE(output.find("WARNING: --node-identity=report"), std::string::npos) << output;
}

}  // namespace
}  // namespace prov::server
