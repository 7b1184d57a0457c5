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
#include "httplib.h"
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
      // The dashboard over HTTPS (issue 13): both files or neither, with the dashboard on.
      {{data, "--insecure", "--web-listen=127.0.0.1:0", "--web-tls-cert=w.pem"},
       "--web-tls-cert: needs --web-tls-key too"},
      {{data, "--insecure", "--web-listen=127.0.0.1:0", "--web-tls-key=w.key"},
       "--web-tls-key: needs --web-tls-cert too"},
      {{data, "--insecure", "--web-tls-cert=w.pem", "--web-tls-key=w.key"},
       "--web-tls-cert: needs the dashboard on (--web-listen)"},
      {{data, "--insecure", "--web-listen=127.0.0.1:0", "--web-tls-cert=/nonexistent/w.pem",
        "--web-tls-key=/nonexistent/w.key"},
       "--web-tls-cert: \"/nonexistent/w.pem\": "},
      // Issue 12: replicas on PostgreSQL must sign exports with one key, given explicitly.
      {{data, "--insecure",
        "--store=postgresql://provd:pw@db1:5432,db2:5432/provd"
        "?target_session_attrs=read-write"},
       "--export-signing-key: is required with a PostgreSQL --store"},
      {{data, "--insecure", "--leader-takeover=500ms"}, "--leader-takeover: must be at least 1s"},
      {{data, "--insecure", "--store=postgresql://db1/provd?target_session_attrs=leader"},
       "--store: store url: target_session_attrs \"leader\" is not one of"},
      {{data, "--insecure", "--store=mysql://db1/provd"}, "--store: store url: unknown scheme"},
      {{data, "--insecure", "--store=sqlite:/elsewhere"},
       "--store: sqlite:/elsewhere is not --data-dir"},
      // The same directory spelled differently is accepted: the next check fails instead.
      {{data, "--insecure", "--store=sqlite:" + dir.path() + "/./", "--max-batch=0"},
       "--max-batch: must be >= 1"},
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

// Reads the child's output until `needle` appears (or 30 s pass); what was read.
std::string ReadUntil(int fd, const std::string& needle) {
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK);
  char buf[4096];
  while (out.find(needle) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
    } else if (n == 0) {
      break;
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) & ~O_NONBLOCK);
  return out;
}

// A self-signed certificate from `openssl req` serves the dashboard over HTTPS; a key that is
// not the certificate's is refused at start with exit 2, naming the flag.
TEST(ProvdMainTest, ServesTheDashboardOverHttpsWithASelfSignedCertificate) {
  testing::TempDir dir;
  const std::string cert = dir.path() + "/web.pem", key = dir.path() + "/web.key";
  const std::string other_cert = dir.path() + "/other.pem", other_key = dir.path() + "/other.key";
  for (const auto& [c, k] : {std::pair(cert, key), std::pair(other_cert, other_key)}) {
    const std::string cmd = absl::StrCat(
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "
        "/CN=localhost -addext subjectAltName=IP:127.0.0.1 -keyout ",
        k, " -out ", c, " >/dev/null 2>&1");
    if (std::system(cmd.c_str()) != 0) GTEST_SKIP() << "openssl req is not available";
  }
  Result mismatched =
      RunProvd({"--data-dir=" + dir.path() + "/data0", "--insecure", "--listen=127.0.0.1:0",
                "--metrics-listen=", "--web-listen=127.0.0.1:0", "--web-tls-cert=" + cert,
                "--web-tls-key=" + other_key});
  EXPECT_EQ(mismatched.code, 2) << mismatched.output;
  EXPECT_NE(mismatched.output.find("--web-tls-key: \"" + other_key +
                                   "\": the key does not match the certificate in \"" + cert),
            std::string::npos)
      << mismatched.output;

  Child child = Spawn({ProvdPath(), "--data-dir=" + dir.path() + "/data", "--insecure",
                       "--listen=127.0.0.1:0", "--metrics-listen=", "--web-listen=127.0.0.1:0",
                       "--web-tls-cert=" + cert, "--web-tls-key=" + key});
  ASSERT_GT(child.pid, 0);
  const std::string announced = ReadUntil(child.out_fd, "/)\n");
  const std::string marker = "dashboard on https://127.0.0.1:";
  const size_t at = announced.find(marker);
  ASSERT_NE(at, std::string::npos) << announced;
  const int port = std::stoi(announced.substr(at + marker.size()));
  httplib::SSLClient https("127.0.0.1", port);
  https.set_ca_cert_path(cert.c_str());  // self-signed: the certificate is its own CA
  https.enable_server_certificate_verification(true);
  auto page = https.Get("/");
  ASSERT_TRUE(page) << httplib::to_string(page.error());
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("<html"), std::string::npos);
  auto api = https.Get("/api/whoami");  // no token: the API answers, and refuses
  ASSERT_TRUE(api);
  EXPECT_EQ(api->status, 401);
  kill(child.pid, SIGTERM);
  EXPECT_EQ(ExitCode(child.pid), 0);
  close(child.out_fd);
}

}  // namespace
}  // namespace prov::server
