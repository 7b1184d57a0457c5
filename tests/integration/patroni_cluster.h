// PatroniCluster: a real high-availability PostgreSQL started by a test (issue 12): one etcd 3.4
// and two Patroni 3.0 nodes, each managing a PostgreSQL 15, in Patroni's synchronous mode (the
// primary acks a COMMIT only once the synchronous standby has its WAL), everything on free ports
// of 127.0.0.1 and in a fresh directory under /tmp ($PROV_PG_TMPDIR).
//
//   PROV_PATRONI_CLUSTER_OR_SKIP(cluster);    // std::unique_ptr<prov::testing::PatroniCluster>
//   absl::StatusOr<PatroniRoles> roles = cluster->WaitForRoles(absl::Seconds(120));
//   ASSERT_TRUE(roles.ok()) << roles.status();
//   std::string conninfo = cluster->Conninfo("postgres");  // both nodes, read-write wanted
//   ASSERT_TRUE(cluster->KillNode(roles->primary).ok());    // SIGKILL its Patroni and postgres
//
// The configuration (patroni.yml per node, written by Start): `synchronous_mode: true` with
// `synchronous_mode_strict: false`. Synchronous mode makes Patroni promote only the node recorded
// as the synchronous standby, so a COMMIT the primary acked survives its death. Strict mode would
// also refuse every COMMIT while no standby is there: with two nodes, a primary that lost its
// standby (here: the promoted standby, whose partner was killed) could never commit again, so it
// is off; the price is a window after a failover in which the lone new primary acks commits that
// exist on one node only, until a standby rejoins. ttl 10 s, loop_wait 1 s, retry_timeout 4 s:
// the leader key of a killed Patroni expires within about 10 s and the standby takes it on its
// next loop (the test measured failovers of about 10-12 s). fsync=off: the test kills processes,
// never the machine, so the page cache keeps what PostgreSQL wrote; it saves the slow disk.
// pg_hba trusts 127.0.0.1 (superuser `provd`, replication user `replicator`).
//
// Binaries: $PROV_PATRONI_BIN (default /usr/bin/patroni), $PROV_ETCD_BIN (/usr/bin/etcd),
// PostgreSQL from $PROV_PG_BINDIR (/usr/lib/postgresql/15/bin). When the test runs as root they
// run as the `postgres` user (PostgreSQL refuses root) and the directory is chowned to it. Each
// child (etcd, Patroni) gets PR_SET_PDEATHSIG(SIGTERM), so a test binary that dies takes them
// down: Patroni stops its PostgreSQL on SIGTERM (a SIGKILL would orphan it). That signal fires
// when the forking *thread* exits, so Start() fails off the main thread. The directory holds
// owner.pid and the pids of etcd and both Patronis; Start() first removes the prov-patroni-*
// directories whose owner and every recorded process (and both postmasters) are gone.
// Skip policy: missing binaries or user -> UNAVAILABLE (the macro skips, naming what is
// missing), unless PROV_REQUIRE_PATRONI=1 (tools/test.sh sets it), where the macro fails. A
// cluster that is there but does not come up always fails, quoting the logs' tails.
// Stop() (the destructor): SIGTERM to both Patronis (each stops its PostgreSQL), up to 30 s, then
// SIGKILL to anything left (Patronis, postmasters), then etcd; the directory is removed.
// Thread-safety: KillNode and the readers may be called from any thread; Start and Stop from
// the main thread.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace prov::testing {

// Which node (0 or 1) Patroni's REST API names the primary and the synchronous standby.
struct PatroniRoles {
  int primary = -1;
  int sync_standby = -1;
};

class PatroniCluster {
 public:
  static constexpr int kNodes = 2;

  static absl::StatusOr<std::unique_ptr<PatroniCluster>> Start();
  // Removes the prov-patroni-* directories under `base` left by dead test binaries; how many.
  static int SweepStale(const std::string& base);
  static bool Skippable(const absl::Status& status) {
    return status.code() == absl::StatusCode::kUnavailable;
  }
  ~PatroniCluster();  // Stop()

  // Polls every node's GET /primary and /sync (200 or not) until one node is the primary and the
  // other its synchronous standby; fails when `timeout` passes (naming what each node answered)
  // or when a Patroni exited (quoting its log).
  absl::StatusOr<PatroniRoles> WaitForRoles(absl::Duration timeout);
  // Until `node`'s GET /primary answers 200 (it was promoted), or `timeout`.
  absl::Status WaitForPrimary(int node, absl::Duration timeout);
  // The status code of GET `path` on `node`'s REST API; 0 when it does not answer.
  int RestStatus(int node, const std::string& path) const;

  // SIGKILLs `node`'s Patroni (so it cannot restart PostgreSQL or keep the leader key), then its
  // postmaster and every child of it (the instance dies as on a crash: its sessions' sockets
  // close), and waits until they are gone.
  absl::Status KillNode(int node);

  // libpq keyword/value conninfo naming both nodes, target_session_attrs=read-write (libpq tries
  // them in order and keeps the one that accepts writes), user provd, database `dbname`.
  std::string Conninfo(const std::string& dbname) const;
  // The same as provd's --store URI: postgresql://provd@127.0.0.1:P0,127.0.0.1:P1/`dbname`
  // ?target_session_attrs=read-write (server/store/store_url.h).
  std::string StoreUri(const std::string& dbname) const;
  // One node only (no target_session_attrs).
  std::string NodeConninfo(int node, const std::string& dbname) const;
  int pg_port(int node) const { return pg_port_[node]; }
  const std::string& dir() const { return dir_; }
  // The tail of a node's Patroni log (for failure messages).
  std::string PatroniLogTail(int node) const;

  void Stop();

 private:
  PatroniCluster() = default;
  absl::Status StartEtcd();
  absl::Status StartNode(int node);
  std::string NodeDir(int node) const;
  pid_t PostmasterPid(int node) const;

  std::string dir_;
  bool as_postgres_ = false;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
  int etcd_port_ = 0;
  int etcd_peer_port_ = 0;
  int pg_port_[kNodes] = {0, 0};
  int rest_port_[kNodes] = {0, 0};
  pid_t etcd_pid_ = -1;
  pid_t patroni_pid_[kNodes] = {-1, -1};
};

}  // namespace prov::testing

// Declares `std::unique_ptr<::prov::testing::PatroniCluster> var` (a cluster of this test's own),
// or skips / fails the test.
#define PROV_PATRONI_CLUSTER_OR_SKIP(var)                                     \
  std::unique_ptr<::prov::testing::PatroniCluster> var;                       \
  do {                                                                        \
    auto prov_patroni_ = ::prov::testing::PatroniCluster::Start();            \
    if (!prov_patroni_.ok() &&                                                \
        ::prov::testing::PatroniCluster::Skippable(prov_patroni_.status())) { \
      GTEST_SKIP() << prov_patroni_.status().message();                       \
    }                                                                         \
    ASSERT_TRUE(prov_patroni_.ok()) << prov_patroni_.status();                \
    var = *std::move(prov_patroni_);                                          \
  } while (false)
