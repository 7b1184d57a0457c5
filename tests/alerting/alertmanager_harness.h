// A real Alertmanager for tests, and the webhook receiver it notifies, both on loopback.
//
//   WebhookRecorder hook;                                   // httplib::Server on 127.0.0.1:<any>
//   Alertmanager am(dir, hook.url());                       // config: everything -> the hook
//   ASSERT_TRUE(am.Start()) << am.log();                    // waits for /-/ready (bounded)
//   nlohmann::json n = hook.WaitFor([](const nlohmann::json& n) { ... }, absl::Seconds(20));
//   am.Stop();                                              // SIGTERM, then SIGKILL; also in ~
//
// The Alertmanager is /usr/bin/prometheus-alertmanager (Debian), clustering off, its storage
// under `dir` (kept across Stop/Start, like a real restart), grouping by flag_id with
// group_wait 0s, group_interval 1s, repeat_interval 1h, send_resolved.
#pragma once

#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "tests/integration/subprocess.h"

namespace prov::server::testing {

// A loopback port nothing listens on right now (tests/integration/subprocess.h).
inline int FreePort() { return prov::testing::PickFreePort(); }

class WebhookRecorder {
 public:
  WebhookRecorder() {
    server_.Post("/hook", [this](const httplib::Request& req, httplib::Response& res) {
      nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
      absl::MutexLock lock(&mu_);
      notifications_.push_back(std::move(body));
      res.status = 200;
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~WebhookRecorder() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return absl::StrCat("http://127.0.0.1:", port_, "/hook"); }

  // The first notification (oldest first) for which `match` holds, waiting up to `timeout`;
  // null JSON when none came.
  nlohmann::json WaitFor(const std::function<bool(const nlohmann::json&)>& match,
                         absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    nlohmann::json found;
    auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      for (const auto& n : notifications_) {
        if (match(n)) {
          found = n;
          return true;
        }
      }
      return false;
    };
    mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
    return found;
  }
  std::vector<nlohmann::json> all() {
    absl::MutexLock lock(&mu_);
    return notifications_;
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  absl::Mutex mu_;
  std::vector<nlohmann::json> notifications_ ABSL_GUARDED_BY(mu_);
};

class Alertmanager {
 public:
  // With the configuration text `config` instead of the test one.
  static Alertmanager WithConfig(std::string dir, const std::string& config) {
    Alertmanager am(std::move(dir));
    std::ofstream(am.dir_ + "/alertmanager.yml") << config;
    return am;
  }
  Alertmanager(std::string dir, const std::string& webhook_url) : Alertmanager(std::move(dir)) {
    std::ofstream(dir_ + "/alertmanager.yml") << absl::StrCat(R"(route:
  receiver: hook
  group_by: [flag_id]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: ")",
                                                              webhook_url, R"("
        send_resolved: true
)");
  }
  Alertmanager(Alertmanager&& o) noexcept : dir_(o.dir_), port_(o.port_), pid_(o.pid_) {
    o.pid_ = -1;
  }
  ~Alertmanager() { Stop(); }
  int port() const { return port_; }
  std::string url() const { return absl::StrCat("http://127.0.0.1:", port_); }

  // Starts the process and waits (<= 20 s) until it answers /-/ready.
  bool Start() {
    // Everything the child needs is prepared before fork(): it only dup2()s and exec()s.
    std::vector<std::string> args = {"/usr/bin/prometheus-alertmanager",
                                     "--config.file=" + dir_ + "/alertmanager.yml",
                                     "--storage.path=" + dir_ + "/am-data",
                                     absl::StrCat("--web.listen-address=127.0.0.1:", port_),
                                     "--cluster.listen-address=",
                                     "--log.level=debug"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int log_fd =
        open((dir_ + "/alertmanager.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    pid_ = fork();
    if (pid_ == 0) {
      if (log_fd >= 0) {
        dup2(log_fd, 1);
        dup2(log_fd, 2);
      }
      execv(argv[0], argv.data());
      _exit(127);
    }
    if (log_fd >= 0) close(log_fd);
    if (pid_ < 0) return false;
    httplib::Client client("127.0.0.1", port_);
    client.set_connection_timeout(0, 200000);
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (absl::Now() < deadline) {
      if (auto res = client.Get("/-/ready"); res && res->status == 200) return true;
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      absl::SleepFor(absl::Milliseconds(50));  // a real process starting: poll, bounded
    }
    return false;
  }
  void Stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    int status = 0;
    while (waitpid(pid_, &status, WNOHANG) == 0) {
      if (absl::Now() > deadline) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        break;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    pid_ = -1;
  }
  // Waits (bounded) until Alertmanager's log has `count` lines containing `needle`, e.g.
  // "Notify success": it has recorded a notification in its notification log, which a graceful
  // stop then writes to disk.
  bool WaitForLog(const std::string& needle, int count, absl::Duration timeout) const {
    const absl::Time deadline = absl::Now() + timeout;
    while (true) {
      const std::string text = log();
      int seen = 0;
      for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
        ++seen;
      }
      if (seen >= count) return true;
      if (absl::Now() > deadline) return false;
      absl::SleepFor(absl::Milliseconds(20));  // a real process's log file: poll, bounded
    }
  }
  std::string log() const {
    std::ifstream in(dir_ + "/alertmanager.log");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  explicit Alertmanager(std::string dir) : dir_(std::move(dir)), port_(FreePort()) {}
  std::string dir_;
  int port_;
  pid_t pid_ = -1;
};

}  // namespace prov::server::testing
