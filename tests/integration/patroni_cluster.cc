#include "tests/integration/patroni_cluster.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "tests/integration/subprocess.h"

namespace prov::testing {
namespace {

std::string Env(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && v[0] != '\0' ? v : fallback;
}

bool Required() { return Env("PROV_REQUIRE_PATRONI", "") == "1"; }

// UNAVAILABLE (skip) normally; FAILED_PRECONDITION (fail) when Patroni is required.
absl::Status NotHere(const std::string& why) {
  const std::string text = absl::StrCat("Patroni cluster not available here: ", why);
  if (Required()) {
    return absl::FailedPreconditionError(absl::StrCat(text, " (PROV_REQUIRE_PATRONI=1)"));
  }
  return absl::UnavailableError(absl::StrCat(text, " (skipped; PROV_REQUIRE_PATRONI=1 fails)"));
}

std::string Tail(const std::string& path, size_t bytes = 3000) {
  std::string s = ReadFile(path);
  return s.size() > bytes ? s.substr(s.size() - bytes) : s;
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

// The first line of `path` as a pid, or -1.
pid_t ReadPid(const std::string& path) {
  std::ifstream in(path);
  long pid = -1;
  if (!(in >> pid) || pid <= 0) return -1;
  return static_cast<pid_t>(pid);
}

// /proc/<pid>/stat's state and parent pid; false when there is no such process.
bool ProcStat(pid_t pid, char* state, pid_t* ppid) {
  const std::string stat = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  const size_t close = stat.rfind(')');  // the command name may hold spaces and parentheses
  if (close == std::string::npos) return false;
  std::istringstream rest(stat.substr(close + 1));
  long parent = 0;
  if (!(rest >> *state >> parent)) return false;
  *ppid = static_cast<pid_t>(parent);
  return true;
}

// Gone, or a zombie nobody reaped yet (an orphan whose new parent does not reap in a container).
bool Gone(pid_t pid) {
  if (pid <= 0) return true;
  if (kill(pid, 0) != 0 && errno == ESRCH) return true;
  char state = '?';
  pid_t ppid = 0;
  return !ProcStat(pid, &state, &ppid) || state == 'Z';
}

std::vector<pid_t> ChildrenOf(pid_t parent) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(name));
    char state = '?';
    pid_t ppid = 0;
    if (ProcStat(pid, &state, &ppid) && ppid == parent) out.push_back(pid);
  }
  return out;
}

// Waits until every pid is Gone (reaping those that are our children), up to `timeout`.
bool WaitGone(const std::vector<pid_t>& pids, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    bool all = true;
    for (pid_t pid : pids) {
      waitpid(pid, nullptr, WNOHANG);  // ours (etcd, Patroni): reap; others: ECHILD, harmless
      if (!Gone(pid)) all = false;
    }
    if (all) return true;
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(20));  // real processes exiting: poll, bounded
  }
}

// Our child `pid` has exited (reaped here); its exit code in `code`.
bool Exited(pid_t pid, int* code) {
  int status = 0;
  if (pid <= 0 || waitpid(pid, &status, WNOHANG) != pid) return false;
  *code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return true;
}

// etcd and Patroni, as uid/gid when `as_user`, with HOME in their folder; SIGTERM when the test
// binary dies (Patroni then stops its PostgreSQL).
pid_t Spawn(const std::vector<std::string>& args, const std::string& log, const std::string& cwd,
            bool as_user, uid_t uid, gid_t gid) {
  SpawnOptions options{.log = log, .cwd = cwd, .home_is_cwd = true, .death_signal = SIGTERM};
  if (as_user) options.run_as = std::make_pair(uid, gid);
  return SpawnLogged(args, options);
}

// GET `path` on 127.0.0.1:`port` (HTTP/1.0, 2 s timeouts): the status code, 0 when no answer.
int HttpStatus(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int code = 0;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const std::string request = absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      char buf[64] = {};
      size_t got = 0;
      while (got < sizeof(buf) - 1) {
        const ssize_t n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
        if (n <= 0) break;
        got += static_cast<size_t>(n);
      }
      // "HTTP/1.x NNN ..."
      const std::string line(buf, got);
      const size_t space = line.find(' ');
      if (line.rfind("HTTP/", 0) == 0 && space != std::string::npos && line.size() >= space + 4) {
        code = std::atoi(line.substr(space + 1, 3).c_str());
      }
    }
  }
  close(fd);
  return code;
}

constexpr const char* kPrefix = "prov-patroni-";

std::string PatroniYaml(int node, int rest_port, int pg_port, int etcd_port,
                        const std::string& node_dir, const std::string& bin_dir) {
  return absl::StrCat(R"(scope: prov-test
name: node)",
                      node, R"(
restapi:
  listen: 127.0.0.1:)",
                      rest_port, R"(
  connect_address: 127.0.0.1:)",
                      rest_port, R"(
etcd3:
  hosts: 127.0.0.1:)",
                      etcd_port, R"(
bootstrap:
  dcs:
    ttl: 10
    loop_wait: 1
    retry_timeout: 4
    maximum_lag_on_failover: 1048576
    synchronous_mode: true
    synchronous_mode_strict: false
    postgresql:
      use_pg_rewind: false
      parameters:
        fsync: "off"
        max_connections: 60
  initdb:
    - encoding: UTF8
    - locale: C
  pg_hba:
    - local all all trust
    - host replication replicator 127.0.0.1/32 trust
    - host all all 127.0.0.1/32 trust
postgresql:
  listen: 127.0.0.1:)",
                      pg_port, R"(
  connect_address: 127.0.0.1:)",
                      pg_port, R"(
  data_dir: )",
                      node_dir, R"(/data
  bin_dir: )",
                      bin_dir, R"(
  pgpass: )",
                      node_dir, R"(/pgpass
  authentication:
    superuser:
      username: provd
      password: provd
    replication:
      username: replicator
      password: replicator
  parameters:
    unix_socket_directories: ')",
                      node_dir, R"('
)");
}

}  // namespace

int PatroniCluster::SweepStale(const std::string& base) {
  int swept = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(base, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(kPrefix, 0) != 0 || !entry.is_directory(ec)) continue;
    const std::string dir = entry.path().string();
    const pid_t owner = ReadPid(dir + "/owner.pid");
    if (owner < 0 || !Gone(owner)) continue;  // still starting, or its test binary still runs
    bool alive = !Gone(ReadPid(dir + "/etcd.pid"));
    for (int n = 0; n < kNodes; ++n) {
      const std::string node = absl::StrCat(dir, "/node", n);
      alive = alive || !Gone(ReadPid(node + "/patroni.pid")) ||
              !Gone(ReadPid(node + "/data/postmaster.pid"));
    }
    if (alive) continue;  // its processes are still shutting down
    std::error_code ignored;
    if (std::filesystem::remove_all(dir, ignored) > 0) ++swept;
  }
  return swept;
}

absl::StatusOr<std::unique_ptr<PatroniCluster>> PatroniCluster::Start() {
  if (gettid() != getpid()) {
    return absl::FailedPreconditionError(
        "PatroniCluster::Start must run on the test binary's main thread (the children's "
        "parent-death signal fires when the thread that forked them exits)");
  }
  const std::string patroni = Env("PROV_PATRONI_BIN", "/usr/bin/patroni");
  const std::string etcd = Env("PROV_ETCD_BIN", "/usr/bin/etcd");
  const std::string pg_bin = Env("PROV_PG_BINDIR", "/usr/lib/postgresql/15/bin");
  for (const auto& [path, package] :
       std::vector<std::pair<std::string, std::string>>{{patroni, "patroni"},
                                                        {etcd, "etcd-server"},
                                                        {pg_bin + "/postgres", "postgresql-15"},
                                                        {pg_bin + "/initdb", "postgresql-15"}}) {
    if (access(path.c_str(), X_OK) != 0) {
      return NotHere(absl::StrCat(path, " is missing (Debian package ", package, ")"));
    }
  }
  std::unique_ptr<PatroniCluster> c(new PatroniCluster());
  if (geteuid() == 0) {
    const passwd* pw = getpwnam("postgres");
    if (pw == nullptr) {
      return NotHere("running as root and there is no `postgres` user to run PostgreSQL as");
    }
    c->as_postgres_ = true;
    c->uid_ = pw->pw_uid;
    c->gid_ = pw->pw_gid;
  }
  const std::string base = Env("PROV_PG_TMPDIR", "/tmp");
  SweepStale(base);
  std::string pattern = absl::StrCat(base, "/", kPrefix, "XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp ", pattern, ": ", strerror(errno)));
  }
  c->dir_ = pattern;
  WriteFile(c->dir_ + "/owner.pid", absl::StrCat(getpid(), "\n"));
  for (int n = 0; n < kNodes; ++n) {
    if (mkdir(c->NodeDir(n).c_str(), 0700) != 0) {
      return absl::InternalError(absl::StrCat("mkdir ", c->NodeDir(n), ": ", strerror(errno)));
    }
  }
  if (c->as_postgres_) {
    for (const std::string& d : {c->dir_, c->NodeDir(0), c->NodeDir(1)}) {
      if (chown(d.c_str(), c->uid_, c->gid_) != 0) {
        return absl::InternalError(absl::StrCat("chown ", d, ": ", strerror(errno)));
      }
    }
  }
  c->etcd_port_ = PickFreePort();
  c->etcd_peer_port_ = PickFreePort();
  for (int n = 0; n < kNodes; ++n) {
    c->pg_port_[n] = PickFreePort();
    c->rest_port_[n] = PickFreePort();
  }
  if (absl::Status s = c->StartEtcd(); !s.ok()) return s;
  for (int n = 0; n < kNodes; ++n) {
    WriteFile(c->NodeDir(n) + "/patroni.yml", PatroniYaml(n, c->rest_port_[n], c->pg_port_[n],
                                                          c->etcd_port_, c->NodeDir(n), pg_bin));
    if (absl::Status s = c->StartNode(n); !s.ok()) return s;
  }
  return c;
}

absl::Status PatroniCluster::StartEtcd() {
  const std::string client = absl::StrCat("http://127.0.0.1:", etcd_port_);
  const std::string peer = absl::StrCat("http://127.0.0.1:", etcd_peer_port_);
  const std::string log = dir_ + "/etcd.log";
  etcd_pid_ = Spawn(
      {Env("PROV_ETCD_BIN", "/usr/bin/etcd"), "--name", "prov-test", "--data-dir", dir_ + "/etcd",
       "--listen-client-urls", client, "--advertise-client-urls", client, "--listen-peer-urls",
       peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", "prov-test=" + peer},
      log, dir_, as_postgres_, uid_, gid_);
  if (etcd_pid_ < 0) return absl::InternalError("fork for etcd failed");
  WriteFile(dir_ + "/etcd.pid", absl::StrCat(etcd_pid_, "\n"));
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (HttpStatus(etcd_port_, "/health") != 200) {
    int code = 0;
    if (Exited(etcd_pid_, &code)) {
      etcd_pid_ = -1;
      return absl::InternalError(
          absl::StrCat("etcd exited (", code, ") before it was healthy: ", Tail(log)));
    }
    if (absl::Now() > deadline) {
      return absl::InternalError(absl::StrCat("etcd not healthy after 30 s: ", Tail(log)));
    }
    absl::SleepFor(absl::Milliseconds(50));  // a real process starting: poll, bounded
  }
  return absl::OkStatus();
}

absl::Status PatroniCluster::StartNode(int node) {
  const std::string dir = NodeDir(node);
  patroni_pid_[node] = Spawn({Env("PROV_PATRONI_BIN", "/usr/bin/patroni"), dir + "/patroni.yml"},
                             dir + "/patroni.log", dir, as_postgres_, uid_, gid_);
  if (patroni_pid_[node] < 0) return absl::InternalError("fork for patroni failed");
  WriteFile(dir + "/patroni.pid", absl::StrCat(patroni_pid_[node], "\n"));
  return absl::OkStatus();
}

std::string PatroniCluster::NodeDir(int node) const { return absl::StrCat(dir_, "/node", node); }

pid_t PatroniCluster::PostmasterPid(int node) const {
  return ReadPid(NodeDir(node) + "/data/postmaster.pid");
}

std::string PatroniCluster::PatroniLogTail(int node) const {
  return Tail(NodeDir(node) + "/patroni.log");
}

int PatroniCluster::RestStatus(int node, const std::string& path) const {
  return HttpStatus(rest_port_[node], path);
}

absl::StatusOr<PatroniRoles> PatroniCluster::WaitForRoles(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  std::vector<std::string> seen;
  while (true) {
    seen.clear();
    PatroniRoles roles;
    for (int n = 0; n < kNodes; ++n) {
      int code = 0;
      if (patroni_pid_[n] > 0 && Exited(patroni_pid_[n], &code)) {
        patroni_pid_[n] = -1;
        return absl::InternalError(
            absl::StrCat("Patroni node", n, " exited (", code, "): ", PatroniLogTail(n)));
      }
      const int primary = RestStatus(n, "/primary");
      const int sync = RestStatus(n, "/sync");
      if (primary == 200) roles.primary = n;
      if (sync == 200) roles.sync_standby = n;
      seen.push_back(absl::StrCat("node", n, ": /primary ", primary, ", /sync ", sync));
    }
    if (roles.primary >= 0 && roles.sync_standby >= 0 && roles.primary != roles.sync_standby) {
      return roles;
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "no primary with a synchronous standby after ", absl::FormatDuration(timeout), " (",
          absl::StrJoin(seen, "; "), "); node0's log: ", PatroniLogTail(0),
          "\nnode1's log: ", PatroniLogTail(1)));
    }
    absl::SleepFor(absl::Milliseconds(200));  // Patroni's loop is 1 s: poll, bounded
  }
}

absl::Status PatroniCluster::WaitForPrimary(int node, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (RestStatus(node, "/primary") != 200) {
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat("node", node, " not primary after ",
                                                      absl::FormatDuration(timeout),
                                                      "; its log: ", PatroniLogTail(node)));
    }
    absl::SleepFor(absl::Milliseconds(100));  // poll, bounded
  }
  return absl::OkStatus();
}

absl::Status PatroniCluster::KillNode(int node) {
  const pid_t patroni = patroni_pid_[node];
  if (patroni <= 0)
    return absl::FailedPreconditionError(absl::StrCat("node", node, " not running"));
  kill(patroni, SIGKILL);
  if (!WaitGone({patroni}, absl::Seconds(10))) {
    return absl::InternalError(absl::StrCat("node", node, "'s Patroni survived SIGKILL"));
  }
  patroni_pid_[node] = -1;
  const pid_t postmaster = PostmasterPid(node);
  if (postmaster <= 0 || Gone(postmaster)) {
    return absl::FailedPreconditionError(
        absl::StrCat("node", node, " has no running postmaster to kill"));
  }
  std::vector<pid_t> instance = ChildrenOf(postmaster);
  kill(postmaster, SIGKILL);
  for (pid_t child : instance) kill(child, SIGKILL);
  instance.push_back(postmaster);
  if (!WaitGone(instance, absl::Seconds(10))) {
    return absl::InternalError(absl::StrCat("node", node, "'s PostgreSQL survived SIGKILL"));
  }
  return absl::OkStatus();
}

std::string PatroniCluster::Conninfo(const std::string& dbname) const {
  return absl::StrCat("host=127.0.0.1,127.0.0.1 port=", pg_port_[0], ",", pg_port_[1],
                      " user=provd dbname=", dbname, " target_session_attrs=read-write");
}

std::string PatroniCluster::StoreUri(const std::string& dbname) const {
  return absl::StrCat("postgresql://provd@127.0.0.1:", pg_port_[0], ",127.0.0.1:", pg_port_[1], "/",
                      dbname, "?target_session_attrs=read-write");
}

std::string PatroniCluster::NodeConninfo(int node, const std::string& dbname) const {
  return absl::StrCat("host=127.0.0.1 port=", pg_port_[node], " user=provd dbname=", dbname);
}

PatroniCluster::~PatroniCluster() { Stop(); }

void PatroniCluster::Stop() {
  std::vector<pid_t> patronis;
  for (int n = 0; n < kNodes; ++n) {
    if (patroni_pid_[n] > 0) {
      kill(patroni_pid_[n], SIGTERM);  // Patroni stops its PostgreSQL, then exits
      patronis.push_back(patroni_pid_[n]);
      patroni_pid_[n] = -1;
    }
  }
  if (!WaitGone(patronis, absl::Seconds(30))) {
    for (pid_t pid : patronis) kill(pid, SIGKILL);
    WaitGone(patronis, absl::Seconds(10));
  }
  if (!dir_.empty()) {
    for (int n = 0; n < kNodes; ++n) {  // a PostgreSQL its Patroni did not stop
      const pid_t postmaster = PostmasterPid(n);
      if (postmaster <= 0 || Gone(postmaster)) continue;
      std::vector<pid_t> instance = ChildrenOf(postmaster);
      kill(postmaster, SIGKILL);
      for (pid_t child : instance) kill(child, SIGKILL);
      instance.push_back(postmaster);
      WaitGone(instance, absl::Seconds(10));
    }
  }
  if (etcd_pid_ > 0) {
    kill(etcd_pid_, SIGTERM);
    if (!WaitGone({etcd_pid_}, absl::Seconds(10))) {
      kill(etcd_pid_, SIGKILL);
      WaitGone({etcd_pid_}, absl::Seconds(10));
    }
    etcd_pid_ = -1;
  }
  if (!dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
    dir_.clear();
  }
}

}  // namespace prov::testing
