// ProbeProvd and RunProgram: the real provd and provctl as child processes on loopback.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "provenance/v1/audit.grpc.pb.h"
#include "tools/probe/probe_families.h"

namespace prov::probe {
namespace {

int FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

ProbeProvd::ProbeProvd(const ProbeEnv& env, std::string name, std::vector<std::string> extra)
    : env_(env), data_dir_(absl::StrCat(env.work_dir, "/", name)), extra_(std::move(extra)) {}

absl::StatusOr<std::unique_ptr<ProbeProvd>> ProbeProvd::Start(const ProbeEnv& env,
                                                              const std::string& name,
                                                              std::vector<std::string> extra) {
  std::unique_ptr<ProbeProvd> p(new ProbeProvd(env, name, std::move(extra)));
  std::filesystem::create_directories(p->data_dir_);
  absl::Status s = p->Restart();
  if (!s.ok()) return s;
  return p;
}

absl::Status ProbeProvd::Restart() {
  if (child_ && child_->Running()) Kill();
  web_port_ = FreeLoopbackPort();
  std::string port_file = data_dir_ + "/provd.port";
  std::filesystem::remove(port_file);
  std::vector<std::string> args = {"--data-dir",
                                   data_dir_,
                                   "--insecure",
                                   "--listen",
                                   "127.0.0.1:0",
                                   "--port-file",
                                   port_file,
                                   "--metrics-listen",
                                   "",
                                   "--web-listen",
                                   absl::StrCat("127.0.0.1:", web_port_)};
  args.insert(args.end(), extra_.begin(), extra_.end());
  auto child = bench::ChildProcess::Start(env_.bin_dir + "/provd", args,
                                          absl::StrCat(data_dir_, "/provd.log.", ++generation_));
  if (!child.ok()) return child.status();
  child_ = std::move(*child);
  absl::StatusOr<int> port = bench::WaitForPortFile(port_file, absl::Seconds(60), *child_);
  if (!port.ok()) return port.status();
  address_ = absl::StrCat("127.0.0.1:", *port);
  return absl::OkStatus();
}

void ProbeProvd::Kill() {
  if (!child_) return;
  ::kill(child_->pid(), SIGKILL);
  for (int i = 0; i < 500 && child_->Running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

absl::StatusOr<absl::Duration> ProbeProvd::Stop(absl::Duration grace) {
  if (!child_) return absl::FailedPreconditionError("provd is not running");
  absl::Time start = absl::Now();
  ::kill(child_->pid(), SIGTERM);
  while (child_->Running() && absl::Now() - start < grace) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (child_->Running()) {
    Kill();
    return absl::DeadlineExceededError(
        absl::StrCat("provd did not exit within ", absl::FormatDuration(grace), " of SIGTERM"));
  }
  return absl::Now() - start;
}

std::string ProbeProvd::token() const {
  return std::string(absl::StripAsciiWhitespace(ReadAll(data_dir_ + "/admin.token")));
}

std::shared_ptr<grpc::Channel> ProbeProvd::channel() const {
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(-1);
  args.SetInt("grpc.use_local_subchannel_pool", 1);  // a connection of its own per channel
  return grpc::CreateCustomChannel(address_, grpc::InsecureChannelCredentials(), args);
}

int64_t ProbeProvd::StoredReports(const std::string& node_id) {
  auto stub = provenance::v1::AuditService::NewStub(channel());
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", "Bearer " + token());
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  provenance::v1::GetNodeRequest req;
  req.set_node_id(node_id);
  provenance::v1::GetNodeResponse resp;
  grpc::Status s = stub->GetNode(&ctx, req, &resp);
  if (s.error_code() == grpc::StatusCode::NOT_FOUND) return 0;
  if (!s.ok()) return -1;
  return static_cast<int64_t>(resp.node().reports_stored());
}

double ProbeProvd::AcceleratorHours(const std::string& account) {
  auto stub = provenance::v1::AuditService::NewStub(channel());
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", "Bearer " + token());
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  provenance::v1::GetAccountUsageRequest req;
  req.set_account(account);
  provenance::v1::GetAccountUsageResponse resp;
  if (!stub->GetAccountUsage(&ctx, req, &resp).ok()) return -1;
  double hours = 0;
  for (const auto& a : resp.accounts()) hours += a.accelerator_hours();
  return hours;
}

int64_t ProbeProvd::DatabaseBytes() const {
  int64_t total = 0;
  for (const char* f : {"/provd.db", "/provd.db-wal"}) {
    struct stat st {};
    if (::stat((data_dir_ + f).c_str(), &st) == 0) total += st.st_size;
  }
  return total;
}

std::unique_ptr<ProbeProvd> StartFamilyProvd(const ProbeEnv& env, FamilyResult& out) {
  auto provd = ProbeProvd::Start(env, out.name);
  if (provd.ok()) return std::move(*provd);
  ++out.crashes;
  out.notes = absl::StrCat("provd did not start: ", provd.status().message());
  return nullptr;
}

bool StillServing(ProbeProvd& provd, FamilyResult& out) {
  if (provd.Running()) return true;
  ++out.crashes;
  absl::Status restarted = provd.Restart();
  out.details.push_back(
      absl::StrCat("provd died; started again: ", restarted.ok() ? "yes" : restarted.message()));
  return restarted.ok();
}

int RunProgram(const std::vector<std::string>& argv, const std::string& log_file,
               absl::Duration timeout) {
  auto child = bench::ChildProcess::Start(argv[0], {argv.begin() + 1, argv.end()}, log_file);
  if (!child.ok()) return -1;
  absl::Time deadline = absl::Now() + timeout;
  while ((*child)->Running()) {
    if (absl::Now() > deadline) return -1;  // the destructor kills it
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  int status = (*child)->wait_status();
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace prov::probe
