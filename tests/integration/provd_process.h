// ProvdProcess: the real provd binary on a data dir, for black-box integration tests.
//
//   ProvdProcess provd(data_dir, /*port=*/0, {"--insecure"});   // waits until it serves
//   provctl ... --token-file provd.token_path()                  // the bootstrap admin token
//   ASSERT_TRUE(provd.ok()) << provd.log();
//   std::string address = provd.address();                      // "127.0.0.1:<port>"
//   provd.Kill(SIGKILL);                                        // crash it
#pragma once

#include <signal.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "tests/integration/subprocess.h"

namespace prov::testing {

class ProvdProcess {
 public:
  // port 0: any free port (read back from --port-file). Waits up to 20 s for it to serve, times
  // PROV_TEST_TIME_SCALE (prov_add_test sets it: 3 under tsan, 2 under asan, where a provd
  // started beside other sanitized processes on a loaded machine takes that much longer).
  ProvdProcess(const std::string& data_dir, int port, const std::vector<std::string>& extra_args)
      : data_dir_(data_dir),
        log_path_(data_dir + "/provd.log." + std::to_string(++generation_)),
        port_file_(data_dir + "/provd.port") {
    ::unlink(port_file_.c_str());
    std::vector<std::string> argv = {BinDir() + "/provd",
                                     "--data-dir",
                                     data_dir,
                                     "--listen",
                                     "127.0.0.1:" + std::to_string(port),
                                     "--port-file",
                                     port_file_,
                                     "--metrics-listen",
                                     ""};
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    process_ = std::make_unique<Subprocess>(argv, log_path_);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20) * TimeScale();
    while (std::chrono::steady_clock::now() < deadline && process_->Running()) {
      std::string text = ReadFile(port_file_);
      if (!text.empty() && text.back() == '\n') text.pop_back();
      if (!text.empty() && std::stoi(text) > 0) {
        port_ = std::stoi(text);
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  bool ok() const { return port_ > 0; }
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string log() const { return ReadFile(log_path_); }
  // The admin token provd wrote on its first start (provctl --token-file token_path()).
  std::string token_path() const { return data_dir_ + "/admin.token"; }
  std::string token() const {
    std::string t = ReadFile(token_path());
    while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
    return t;
  }
  void Kill(int sig) { process_->Signal(sig); }
  // PROV_TEST_TIME_SCALE, or 1 when unset or not a positive number.
  static int TimeScale() {
    const char* v = std::getenv("PROV_TEST_TIME_SCALE");
    const int scale = v == nullptr ? 1 : std::atoi(v);
    return scale > 0 ? scale : 1;
  }
  pid_t pid() const { return process_->pid(); }
  std::optional<int> Wait(std::chrono::milliseconds timeout) { return process_->Wait(timeout); }
  bool Running() { return process_->Running(); }

 private:
  static inline int generation_ = 0;
  std::string data_dir_;
  std::string log_path_;
  std::string port_file_;
  std::unique_ptr<Subprocess> process_;
  int port_ = 0;
};

}  // namespace prov::testing
