#include "tests/store/pg_server.h"

#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/store/pg/pg_conn.h"
#include "tests/integration/subprocess.h"

namespace prov::testing {
namespace {

struct RunAs {
  uid_t uid;
  gid_t gid;
};

std::string PgBinDir() {
  const char* dir = std::getenv("PROV_PG_BINDIR");
  return dir != nullptr && dir[0] != '\0' ? dir : "/usr/lib/postgresql/15/bin";
}

bool Required() {
  const char* r = std::getenv("PROV_REQUIRE_POSTGRES");
  return r != nullptr && std::string(r) == "1";
}

// UNAVAILABLE (skip) normally; FAILED_PRECONDITION (fail) when PostgreSQL is required.
absl::Status NotHere(const std::string& why) {
  const std::string text = absl::StrCat("PostgreSQL 15 is not available here: ", why);
  if (Required()) {
    return absl::FailedPreconditionError(absl::StrCat(text, " (PROV_REQUIRE_POSTGRES=1)"));
  }
  return absl::UnavailableError(absl::StrCat(text, " (skipped; PROV_REQUIRE_POSTGRES=1 fails)"));
}

std::string Tail(const std::string& path, size_t bytes = 2000) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  return s.size() > bytes ? s.substr(s.size() - bytes) : s;
}

// initdb and postgres, as `as` when given; SIGINT (a fast shutdown) when the test binary dies.
pid_t Spawn(const std::vector<std::string>& args, const std::string& log, const std::string& cwd,
            std::optional<RunAs> as) {
  SpawnOptions options{.log = log, .cwd = cwd, .death_signal = SIGINT};
  if (as.has_value()) options.run_as = std::make_pair(as->uid, as->gid);
  return SpawnLogged(args, options);
}

// Waits for `pid` up to `timeout`; its exit code, or nullopt if it still runs.
std::optional<int> WaitFor(pid_t pid, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    int status = 0;
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (r < 0) return -1;
    if (absl::Now() > deadline) return std::nullopt;
    absl::SleepFor(absl::Milliseconds(10));  // a real process: poll, bounded
  }
}

// The first line of `path` as a pid, or -1.
pid_t ReadPid(const std::string& path) {
  std::ifstream in(path);
  long pid = -1;
  if (!(in >> pid) || pid <= 0) return -1;
  return static_cast<pid_t>(pid);
}

bool Dead(pid_t pid) { return kill(pid, 0) != 0 && errno == ESRCH; }

}  // namespace

int PgServer::SweepStale(const std::string& base) {
  int swept = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(base, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("prov-pg-", 0) != 0 || !entry.is_directory(ec)) continue;
    const std::string dir = entry.path().string();
    const pid_t owner = ReadPid(dir + "/owner.pid");
    if (owner < 0 || !Dead(owner)) continue;  // still starting, or its test binary still runs
    const pid_t postmaster = ReadPid(dir + "/data/postmaster.pid");
    if (postmaster > 0 && !Dead(postmaster)) continue;  // its server is still shutting down
    std::error_code ignored;
    if (std::filesystem::remove_all(dir, ignored) > 0) ++swept;
  }
  return swept;
}

absl::StatusOr<std::unique_ptr<PgServer>> PgServer::Start() {
  // PR_SET_PDEATHSIG fires when the forking *thread* exits: from another thread the server would
  // die with that thread, not with the test binary.
  if (gettid() != getpid()) {
    return absl::FailedPreconditionError(
        "PgServer::Start must run on the test binary's main thread (the children's parent-death "
        "signal fires when the thread that forked them exits)");
  }
  const std::string bin = PgBinDir();
  for (const char* tool : {"initdb", "postgres"}) {
    const std::string path = absl::StrCat(bin, "/", tool);
    if (access(path.c_str(), X_OK) != 0) {
      return NotHere(
          absl::StrCat(path, " is missing (install postgresql-15 or set PROV_PG_BINDIR)"));
    }
  }
  std::optional<RunAs> as;
  if (geteuid() == 0) {
    const passwd* pw = getpwnam("postgres");
    if (pw == nullptr) {
      return NotHere("running as root and there is no `postgres` user to run the server as");
    }
    as = RunAs{pw->pw_uid, pw->pw_gid};
  }
  const char* base_env = std::getenv("PROV_PG_TMPDIR");
  const std::string base = base_env != nullptr && base_env[0] != '\0' ? base_env : "/tmp";
  // What a test binary killed outright (an ASan abort, a ctest timeout) left behind.
  SweepStale(base);
  std::string pattern = absl::StrCat(base, "/prov-pg-XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp ", pattern, ": ", strerror(errno)));
  }
  std::unique_ptr<PgServer> server(new PgServer());
  server->dir_ = pattern;
  {
    std::ofstream owner(server->dir_ + "/owner.pid");
    owner << getpid() << "\n";
  }
  if (as.has_value() && chown(server->dir_.c_str(), as->uid, as->gid) != 0) {
    return absl::InternalError(absl::StrCat("chown ", server->dir_, ": ", strerror(errno)));
  }
  const std::string data = server->dir_ + "/data";
  const std::string initdb_log = server->dir_ + "/initdb.log";
  const pid_t initdb = Spawn({bin + "/initdb", "-D", data, "-U", "provd", "-A", "trust", "-E",
                              "UTF8", "--locale=C", "--no-sync", "--no-instructions"},
                             initdb_log, server->dir_, as);
  if (initdb < 0) return absl::InternalError("fork for initdb failed");
  std::optional<int> code = WaitFor(initdb, absl::Seconds(120));
  if (!code.has_value()) {
    kill(initdb, SIGKILL);
    waitpid(initdb, nullptr, 0);
  }
  if (code != 0) {
    return absl::InternalError(absl::StrCat(
        "initdb failed (", code.has_value() ? absl::StrCat("exit ", *code) : "timed out",
        "): ", Tail(initdb_log)));
  }
  const std::string log = server->dir_ + "/postgres.log";
  server->pid_ = Spawn({bin + "/postgres", "-D", data, "-k", server->dir_, "-p", "5432", "-c",
                        "listen_addresses=", "-c", "fsync=off", "-c", "max_connections=100"},
                       log, server->dir_, as);
  if (server->pid_ < 0) return absl::InternalError("fork for postgres failed");
  const std::string ping = server->Conninfo("postgres") + " connect_timeout=2";
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (PQping(ping.c_str()) != PQPING_OK) {
    if (std::optional<int> exited = WaitFor(server->pid_, absl::ZeroDuration())) {
      server->pid_ = -1;
      return absl::InternalError(
          absl::StrCat("postgres exited (", *exited, ") before it was ready: ", Tail(log)));
    }
    if (absl::Now() > deadline) {
      return absl::InternalError(absl::StrCat("postgres not ready after 30 s: ", Tail(log)));
    }
    absl::SleepFor(absl::Milliseconds(20));  // a real process starting: poll, bounded
  }
  return server;
}

absl::StatusOr<PgServer*> PgServer::Shared() {
  static absl::Mutex mu;
  // Destroyed at exit, which stops the server (and its pdeath signal covers a crash).
  static std::unique_ptr<PgServer> server;
  static absl::Status failed;
  absl::MutexLock lock(&mu);
  if (!failed.ok()) return failed;
  if (server == nullptr) {
    auto started = Start();
    if (!started.ok()) {
      failed = started.status();
      return failed;
    }
    server = *std::move(started);
  }
  return server.get();
}

PgServer::~PgServer() { Stop(); }

void PgServer::Stop() {
  if (pid_ > 0) {
    kill(pid_, SIGINT);
    if (!WaitFor(pid_, absl::Seconds(10)).has_value()) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    pid_ = -1;
  }
  if (!dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
    dir_.clear();
  }
}

std::string PgServer::Conninfo(const std::string& dbname) const {
  return absl::StrCat("host=", dir_, " port=", port(), " user=provd dbname=", dbname);
}

absl::StatusOr<std::string> PgServer::FreshDatabase() {
  int n = 0;
  {
    absl::MutexLock lock(&mu_);
    n = next_db_++;
  }
  const std::string name = absl::StrCat("t_", getpid(), "_", n);
  auto admin = server::PgConn::Connect(Conninfo("postgres"),
                                       {.application_name = "prov-test", .search_path = ""});
  if (!admin.ok()) return admin.status();
  if (absl::Status s = (*admin)->Exec(
          absl::StrCat("CREATE DATABASE ", name, " TEMPLATE template0 STRATEGY FILE_COPY"));
      !s.ok()) {
    return s;
  }
  return Conninfo(name);
}

absl::StatusOr<int64_t> TerminateBackends(server::PgConn& conn, const std::string& condition) {
  auto r = conn.Query(absl::StrCat(
      "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
      "WHERE (",
      condition, ") AND datname = current_database() AND pid <> pg_backend_pid()"));
  if (!r.ok()) return r.status();
  return r->Int64(0, 0);
}

}  // namespace prov::testing
