// PgServer: a real PostgreSQL 15 started by a test, on a Unix socket in a fresh directory under
// /tmp ($PROV_PG_TMPDIR), with a fresh database per test.
//
//   TEST(Foo, Bar) {
//     PROV_PG_SERVER_OR_SKIP(pg);                           // prov::testing::PgServer* pg
//     absl::StatusOr<std::string> conninfo = pg->FreshDatabase();
//     ASSERT_TRUE(conninfo.ok()) << conninfo.status();
//     auto conn = PgConn::Connect(*conninfo, {});
//   }
//
// The server: binaries from $PROV_PG_BINDIR, else /usr/lib/postgresql/15/bin (not
// `pg_config --bindir`, which is the client's on Debian). `initdb --no-sync -A trust
// --locale=C -E UTF8 -U provd` (superuser provd, text order = byte order), then `postgres` itself
// (not pg_ctl, so the harness holds its pid) with listen_addresses='' (no TCP: no port clash),
// fsync=off. Ready when PQping answers OK (<= 30 s; a failure quotes the server log's tail).
// PostgreSQL refuses to run as root: when the test runs as root, both run as the `postgres` user
// (the forked child drops groups, gid and uid before execv) and the directory is chowned to it.
// Each child gets PR_SET_PDEATHSIG(SIGINT), so a test binary that crashes or is killed by ctest
// takes its postgres down with it. That signal fires when the forking *thread* exits, so Start()
// fails (FAILED_PRECONDITION) off the main thread. The directory holds owner.pid (the test
// binary's pid); Start() first removes the prov-pg-* directories whose owner and postmaster are
// both dead (left by an ASan abort or a ctest timeout, which skip Stop()).
// Stop(): SIGINT (fast shutdown), up to 10 s, then SIGKILL; the directory is removed.
// Shared() starts one server per test binary on first use, stopped at exit. FreshDatabase()
// creates `t_<pid>_<n>` from template0 with STRATEGY FILE_COPY (about 150 ms on a loaded 2-core
// box; the default WAL_LOG took about 220 ms) and returns its keyword/value conninfo.
// Skip policy: missing binaries or user -> UNAVAILABLE (the macro skips, naming why), unless
// PROV_REQUIRE_POSTGRES=1 (tools/test.sh sets it), where the macro fails instead. A server that
// is there but does not start always fails.
// Thread-safety: FreshDatabase may be called from any thread; start and stop from one.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"

namespace prov::server {
class PgConn;
}

namespace prov::testing {

class PgServer {
 public:
  static absl::StatusOr<std::unique_ptr<PgServer>> Start();
  static absl::StatusOr<PgServer*> Shared();
  // Removes the prov-pg-* directories under `base` whose owner.pid and data/postmaster.pid
  // processes are gone; how many. Directories without owner.pid are left alone.
  static int SweepStale(const std::string& base);
  // Whether `status` (from Start/Shared) means "not available here, skip".
  static bool Skippable(const absl::Status& status) {
    return status.code() == absl::StatusCode::kUnavailable;
  }
  ~PgServer();  // Stop()

  absl::StatusOr<std::string> FreshDatabase();
  std::string Conninfo(const std::string& dbname) const;
  const std::string& socket_dir() const { return dir_; }
  int port() const { return 5432; }
  pid_t pid() const { return pid_; }
  void Stop();

 private:
  PgServer() = default;
  std::string dir_;
  pid_t pid_ = -1;
  absl::Mutex mu_;
  int next_db_ ABSL_GUARDED_BY(mu_) = 0;
};

// Terminates the backends of `conn`'s database that `condition` (SQL over pg_stat_activity, e.g.
// "pid = 123" or "application_name = 'provd/alerts'") selects, waiting up to 5 s for each to go;
// returns how many were terminated, so a test can assert it really dropped a session.
absl::StatusOr<int64_t> TerminateBackends(server::PgConn& conn, const std::string& condition);

}  // namespace prov::testing

// Declares `::prov::testing::PgServer* var` (the shared server), or skips / fails the test.
#define PROV_PG_SERVER_OR_SKIP(var)                                                  \
  ::prov::testing::PgServer* var = nullptr;                                          \
  do {                                                                               \
    auto prov_pg_ = ::prov::testing::PgServer::Shared();                             \
    if (!prov_pg_.ok() && ::prov::testing::PgServer::Skippable(prov_pg_.status())) { \
      GTEST_SKIP() << prov_pg_.status().message();                                   \
    }                                                                                \
    ASSERT_TRUE(prov_pg_.ok()) << prov_pg_.status();                                 \
    var = *prov_pg_;                                                                 \
  } while (false)
