#include "tools/bench/provd_replica.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/fs.h"
#include "common/status_macros.h"
#include "tools/bench/prom_scrape.h"

namespace prov::bench {
namespace {

absl::StatusOr<int> FreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::InternalError("socket() for a free port");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    return absl::InternalError("bind(127.0.0.1:0) for a free port");
  }
  close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace

absl::Status WriteSigningKey(const std::string& path) {
  std::string seed(32, '\0');
  {
    std::ifstream urandom("/dev/urandom", std::ios::binary);
    if (!urandom.read(seed.data(), static_cast<std::streamsize>(seed.size()))) {
      return absl::InternalError("reading 32 bytes from /dev/urandom failed");
    }
  }
  PROV_RETURN_IF_ERROR(
      WriteFileAtomically(path, absl::StrCat("ed25519-seed ", absl::BytesToHexString(seed), "\n")));
  if (chmod(path.c_str(), 0600) != 0) return absl::InternalError("chmod 0600 " + path);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ProvdReplica>> ProvdReplica::Start(const ProvdReplicaOptions& o) {
  auto r = std::unique_ptr<ProvdReplica>(new ProvdReplica());
  r->name_ = o.name;
  const std::string data_dir = JoinPath(o.work_dir, "provd-" + o.name);
  PROV_RETURN_IF_ERROR(CreateDirectories(data_dir));
  const std::string port_file = JoinPath(data_dir, "grpc.port");
  std::remove(port_file.c_str());
  r->log_ = JoinPath(o.work_dir, "provd-" + o.name + ".log");
  PROV_ASSIGN_OR_RETURN(r->metrics_port_, FreeLoopbackPort());
  std::vector<std::string> args = {
      "--data-dir",  data_dir,           "--listen",
      "127.0.0.1:0", "--port-file",      port_file,
      "--insecure",  "--metrics-listen", absl::StrCat("127.0.0.1:", r->metrics_port_)};
  if (!o.pg_conninfo.empty()) {
    args.insert(args.end(), {"--store", "postgresql:" + o.pg_conninfo, "--replica-name", o.name,
                             "--leader-takeover", absl::FormatDuration(o.leader_takeover),
                             "--export-signing-key", o.signing_key});
  }
  args.insert(args.end(), o.extra_args.begin(), o.extra_args.end());
  PROV_ASSIGN_OR_RETURN(r->child_,
                        ChildProcess::Start(JoinPath(o.bin_dir, "provd"), args, r->log_));
  absl::StatusOr<int> port = WaitForPortFile(port_file, absl::Seconds(60), *r->child_);
  if (!port.ok()) {
    return absl::Status(port.status().code(),
                        absl::StrCat(port.status().message(), " (log ", r->log_, ")"));
  }
  r->grpc_port_ = *port;
  // /metrics may come up a moment after gRPC.
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  absl::Status last;
  while (absl::Now() < deadline) {
    last = ScrapeMetrics("127.0.0.1", r->metrics_port_).status();
    if (last.ok()) return r;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return absl::Status(last.code(), absl::StrCat("provd ", o.name, " /metrics: ", last.message(),
                                                " (log ", r->log_, ")"));
}

absl::StatusOr<std::vector<double>> ProvdReplica::Metrics(
    const std::vector<std::string>& names) const {
  PROV_ASSIGN_OR_RETURN(std::string page, ScrapeMetrics("127.0.0.1", metrics_port_));
  std::vector<double> out;
  for (const std::string& n : names) {
    PROV_ASSIGN_OR_RETURN(double v, MetricValue(page, n));
    out.push_back(v);
  }
  return out;
}

absl::StatusOr<double> ProvdReplica::Metric(const std::string& name) const {
  PROV_ASSIGN_OR_RETURN(std::vector<double> v, Metrics({name}));
  return v[0];
}

void ProvdReplica::Pause() { ::kill(child_->pid(), SIGSTOP); }

void ProvdReplica::Kill() {
  ::kill(child_->pid(), SIGKILL);
  while (child_->Running()) absl::SleepFor(absl::Milliseconds(5));
}

absl::Status ProvdReplica::Stop() {
  absl::Status s = child_->Stop(absl::Seconds(30));
  if (!s.ok()) return absl::Status(s.code(), absl::StrCat(s.message(), " (log ", log_, ")"));
  return s;
}

}  // namespace prov::bench
