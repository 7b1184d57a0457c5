// PostgreSQL failover under provd's ingest (issue 12, "Tests against the real thing"): Patroni on
// etcd with two PostgreSQL 15 instances, a primary and its synchronous standby
// (patroni_cluster.h). provd's own PostgreSQL ingest path, PgIngestRepository, commits batches of
// reports through provd's multi-host --store URI with target_session_attrs=read-write, recording a
// batch as acked only when Commit returned OK (what the ingest writer acks on). Mid-ingest the
// primary is killed (SIGKILL to its Patroni, so it cannot restart PostgreSQL or keep the leader
// key, and to its whole PostgreSQL instance); the loop retries each failed commit (UNAVAILABLE: the
// session lost, no read-write host yet) until Patroni promotes the standby and Commit succeeds on
// it, within 60 s. Then, on the new primary: every acked report is stored exactly once (counted by
// (node, boot, seq)), each stream is 1..its acked high-water mark without a gap, nothing is stored
// that was not acked (every batch is retried until acked), and each node's reports_stored agrees.
// The failover time (primary killed -> first commit acked on the new primary) is printed.
// The second case does the same under a real provd process (`provd --store <the URI>`) fed by
// eight agents (the uplink library, spools included), checked the same way through the store.
//
// ctest label `patroni`: `ctest --preset release -L patroni` runs it alone
// (docs/runbooks/patroni.md). Skipped when patroni / etcd / PostgreSQL 15 are missing; failed
// instead with PROV_REQUIRE_PATRONI=1 (tools/test.sh, so CI).
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "agent/uplink/uplink.h"
#include "common/clock.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "server/store/pg/pg_conn.h"
#include "server/store/pg/pg_ingest.h"
#include "server/store/store_url.h"
#include "tests/integration/patroni_cluster.h"
#include "tests/integration/provd_process.h"
#include "tests/server/commit_batch.h"
#include "tests/server/test_reports.h"
#include "tests/uplink/test_util.h"

namespace prov {
namespace {

using server::PgConn;
using server::PgIngestOptions;
using server::PgIngestRepository;

constexpr int kAgentNodes = 8;           // reports per batch: one per node, one stream each
constexpr int kAckedBeforeKill = 25;     // batches acked before the primary is killed
constexpr int kAckedAfterFailover = 25;  // batches acked on the new primary before checking
const absl::Duration kFailoverBound = absl::Seconds(60);
const absl::Time kT0 = absl::FromUnixSeconds(1'780'000'000);

std::string NodeId(int i) { return absl::StrCat("node-", i); }

// Until `sql` (one row, one integer) answers `want` on `conninfo`, or `timeout`.
absl::Status WaitForValue(const std::string& conninfo, const std::string& sql, int64_t want,
                          absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  std::string last;
  while (true) {
    auto conn = PgConn::Connect(
        conninfo, {.connect_timeout = absl::Seconds(2), .application_name = "prov-test"});
    if (conn.ok()) {
      auto r = (*conn)->Query(sql);
      if (r.ok() && r->rows() == 1) {
        auto v = r->Int64(0, 0);
        if (v.ok() && *v == want) return absl::OkStatus();
        last = v.ok() ? absl::StrCat(*v) : v.status().ToString();
      } else {
        last = r.ok() ? "no row" : r.status().ToString();
      }
    } else {
      last = conn.status().ToString();
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("`", sql, "` did not answer ", want, " in time; last: ", last));
    }
    absl::SleepFor(absl::Milliseconds(200));  // replication settling: poll, bounded
  }
}

// Waits for a primary with a synchronous standby (Patroni's REST API, then the primary's own
// pg_stat_replication: that is what makes a COMMIT wait for the standby), creates the database
// `provd` and waits until the standby has replayed it: libpq tries the hosts in order and does not
// move on from a server's FATAL ("database does not exist"), and a synchronous COMMIT waits for
// the standby's flush, not its replay.
absl::StatusOr<testing::PatroniRoles> PrepareCluster(testing::PatroniCluster& cluster,
                                                     absl::Time test_start) {
  absl::StatusOr<testing::PatroniRoles> roles = cluster.WaitForRoles(absl::Seconds(120));
  if (!roles.ok()) return roles.status();
  std::cout << "cluster up: node" << roles->primary << " primary, node" << roles->sync_standby
            << " synchronous standby, after " << absl::FormatDuration(absl::Now() - test_start)
            << std::endl;
  {
    auto admin = PgConn::Connect(cluster.Conninfo("postgres"),
                                 {.application_name = "prov-test", .search_path = ""});
    if (!admin.ok()) return admin.status();
    if (absl::Status s = (*admin)->Exec("CREATE DATABASE provd TEMPLATE template0"); !s.ok()) {
      return s;
    }
  }
  if (absl::Status s = WaitForValue(cluster.NodeConninfo(roles->sync_standby, "postgres"),
                                    "SELECT count(*) FROM pg_database WHERE datname = 'provd'", 1,
                                    absl::Seconds(30));
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          WaitForValue(cluster.NodeConninfo(roles->primary, "postgres"),
                       "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'", 1,
                       absl::Seconds(30));
      !s.ok()) {
    return s;
  }
  return roles;
}

// After the failover: the former synchronous standby is the primary and the multi-host conninfo
// lands there; every acked (node, "boot-a", seq), seq 1..acked[node], is stored exactly once;
// nothing else is stored (the caller's batches were all acked in the end); each node's
// reports_stored matches its rows. How many acked reports.
size_t ExpectStoredOnce(testing::PatroniCluster& cluster, int standby,
                        const std::map<std::string, uint64_t>& acked) {
  absl::Status promoted = cluster.WaitForPrimary(standby, absl::Seconds(10));
  EXPECT_TRUE(promoted.ok()) << promoted;
  auto check = PgConn::Connect(cluster.Conninfo("provd"),
                               {.application_name = "prov-test", .search_path = "provd"});
  EXPECT_TRUE(check.ok()) << check.status();
  if (!check.ok()) return 0;
  auto port = (*check)->Query("SELECT inet_server_port()");
  EXPECT_TRUE(port.ok()) << port.status();
  if (port.ok()) {
    EXPECT_EQ(port->Int64(0, 0).value_or(-1), cluster.pg_port(standby));
  }

  auto rows = (*check)->Query(
      "SELECT n.node_id, r.boot_id, r.seq, count(*) FROM reports r JOIN nodes n ON n.id = r.node "
      "GROUP BY n.node_id, r.boot_id, r.seq ORDER BY n.node_id, r.boot_id, r.seq");
  EXPECT_TRUE(rows.ok()) << rows.status();
  if (!rows.ok()) return 0;
  std::map<std::tuple<std::string, std::string, int64_t>, int64_t> stored;
  for (int i = 0; i < rows->rows(); ++i) {
    stored[{rows->Text(i, 0), rows->Text(i, 1), rows->Int64(i, 2).value_or(-1)}] =
        rows->Int64(i, 3).value_or(-1);
  }
  size_t acked_reports = 0;
  for (const auto& [node, high] : acked) {
    for (uint64_t seq = 1; seq <= high; ++seq) {
      ++acked_reports;
      auto it = stored.find({node, "boot-a", static_cast<int64_t>(seq)});
      if (it == stored.end()) {
        ADD_FAILURE() << "acked report " << node << "/boot-a/" << seq << " lost";
      } else {
        EXPECT_EQ(it->second, 1) << node << "/boot-a/" << seq << " stored " << it->second
                                 << " times";
      }
    }
  }
  EXPECT_EQ(stored.size(), acked_reports) << "reports stored that were never acked";
  auto per_node = (*check)->Query(
      "SELECT n.node_id, n.reports_stored, (SELECT count(*) FROM reports r WHERE r.node = n.id) "
      "FROM nodes n ORDER BY n.node_id");
  EXPECT_TRUE(per_node.ok()) << per_node.status();
  if (!per_node.ok()) return acked_reports;
  EXPECT_EQ(per_node->rows(), static_cast<int>(acked.size()));
  for (int i = 0; i < per_node->rows(); ++i) {
    EXPECT_EQ(per_node->Int64(i, 1).value_or(-1), per_node->Int64(i, 2).value_or(-2))
        << per_node->Text(i, 0) << ": reports_stored disagrees with its reports rows";
  }
  return acked_reports;
}

TEST(PatroniFailoverTest, AckedReportsSurviveThePrimarysDeath) {
  const absl::Time test_start = absl::Now();
  PROV_PATRONI_CLUSTER_OR_SKIP(cluster);
  absl::StatusOr<testing::PatroniRoles> roles = PrepareCluster(*cluster, test_start);
  ASSERT_TRUE(roles.ok()) << roles.status();
  const int primary = roles->primary;
  const int standby = roles->sync_standby;

  // What provd is given: its --store URI, parsed as provd parses it.
  absl::StatusOr<server::StoreUrl> url = server::ParseStoreUrl(cluster->StoreUri("provd"));
  ASSERT_TRUE(url.ok()) << url.status();
  ASSERT_EQ(url->engine, server::StoreUrl::Engine::kPostgres);
  auto repo = PgIngestRepository::Open(url->pg_conninfo,
                                       PgIngestOptions{.connect_timeout = absl::Seconds(2)});
  ASSERT_TRUE(repo.ok()) << repo.status();

  std::atomic<int> acked_batches{0};
  std::atomic<bool> killed{false};
  std::atomic<bool> give_up{false};  // an assertion left the loop: the killer must not wait on
  absl::Time killed_at;              // written by the killer before `killed` is set
  absl::Status kill_status = absl::CancelledError("the primary was not killed");
  std::thread killer([&] {
    while (acked_batches.load() < kAckedBeforeKill) {
      if (give_up.load()) return;
      absl::SleepFor(absl::Milliseconds(5));  // waits on the ingest loop's progress
    }
    killed_at = absl::Now();
    kill_status = cluster->KillNode(primary);
    killed.store(true);
  });
  struct JoinOnExit {
    std::thread& thread;
    std::atomic<bool>& give_up;
    ~JoinOnExit() {
      give_up.store(true);
      if (thread.joinable()) thread.join();
    }
  } join_on_exit{killer, give_up};

  std::map<std::string, uint64_t> acked_high;  // node -> highest acked seq (boot "boot-a")
  int failed_commits = 0;
  int landed_unacked = 0;  // batches whose failed attempt had been stored after all
  int acked_after = 0;
  absl::Duration failover = absl::InfiniteDuration();
  bool failed_over = false;
  for (uint64_t seq = 1; acked_after < kAckedAfterFailover; ++seq) {
    const absl::Time at = kT0 + absl::Seconds(10 * static_cast<int64_t>(seq));
    std::vector<provenance::v1::NodeReport> reports;
    for (int i = 0; i < kAgentNodes; ++i) {
      reports.push_back(server::testing::MakeReport(NodeId(i), "boot-a", seq, at));
    }
    std::vector<const provenance::v1::NodeReport*> pointers;
    for (const auto& r : reports) pointers.push_back(&r);
    const absl::Time first_try = absl::Now();
    bool retried = false;
    bool on_new_primary = false;  // this batch's successful attempt began after the kill ended
    while (true) {
      on_new_primary = killed.load();
      std::vector<server::ReportToCommit> batch = server::testing::CommitBatch(pointers);
      absl::StatusOr<server::CommitResult> result = (*repo)->Commit(batch, at + absl::Seconds(1));
      if (result.ok()) {
        ASSERT_TRUE(result->rejected.empty());
        // A batch is stored whole or not at all: a retried one that had landed (its COMMIT went
        // through before the session died) is all duplicates; a first attempt has none.
        if (result->duplicates != 0) {
          ASSERT_TRUE(retried) << "batch " << seq << ": duplicates on its first attempt";
          ASSERT_EQ(result->duplicates, static_cast<size_t>(kAgentNodes))
              << "batch " << seq << " was stored in part";
          ++landed_unacked;
        }
        for (const auto& [key, high] : result->high_water) acked_high[key.first] = high;
        break;
      }
      // Anything but UNAVAILABLE (session lost, no read-write host yet) is a bug.
      ASSERT_EQ(result.status().code(), absl::StatusCode::kUnavailable)
          << "batch " << seq << ": " << result.status();
      ++failed_commits;
      retried = true;
      ASSERT_LT(absl::Now() - first_try, kFailoverBound)
          << "no commit succeeded within " << kFailoverBound
          << " of the first failure: " << result.status() << "\nnode" << standby
          << "'s log: " << cluster->PatroniLogTail(standby);
      absl::SleepFor(absl::Milliseconds(100));  // retry pacing, as the ingest writer's backoff
    }
    acked_batches.fetch_add(1);
    if (on_new_primary) {
      if (!failed_over) {
        failed_over = true;
        failover = absl::Now() - killed_at;
      }
      ++acked_after;
    }
  }
  give_up.store(true);
  killer.join();
  ASSERT_TRUE(kill_status.ok()) << kill_status;
  ASSERT_TRUE(failed_over);
  // The kill really hit a running ingest: commits failed until the standby took over.
  EXPECT_GT(failed_commits, 0);
  std::cout << "failover: primary killed -> first commit acked on the new primary: "
            << absl::FormatDuration(failover) << " (" << failed_commits
            << " commit attempts failed UNAVAILABLE meanwhile; " << landed_unacked
            << " failed batch(es) had been stored after all and were found duplicate on retry)"
            << std::endl;

  ASSERT_EQ(acked_high.size(), static_cast<size_t>(kAgentNodes));
  for (const auto& [node, high] : acked_high) {
    EXPECT_GE(high, static_cast<uint64_t>(kAckedBeforeKill + kAckedAfterFailover)) << node;
  }
  // Every batch was retried until acked, so nothing may be stored beyond the acks either.
  const size_t acked_reports = ExpectStoredOnce(*cluster, standby, acked_high);
  std::cout << acked_reports << " acked reports, each stored once on the new primary; test took "
            << absl::FormatDuration(absl::Now() - test_start) << std::endl;
}

// The same failover under a real provd process (provd --store <the multi-host URI>) with real
// agents (the uplink library, each with its own spool, as prov-agent): reports submitted every
// 20 ms by each agent; the primary is killed while they flow; provd keeps running, its failed
// commits ack nothing, the agents resend from their spools, and once provd commits on the promoted
// standby every spool drains. Then every acked report is stored exactly once there.
TEST(PatroniFailoverTest, ProvdKeepsIngestingThroughThePrimarysDeath) {
  const absl::Time test_start = absl::Now();
  PROV_PATRONI_CLUSTER_OR_SKIP(cluster);
  absl::StatusOr<testing::PatroniRoles> roles = PrepareCluster(*cluster, test_start);
  ASSERT_TRUE(roles.ok()) << roles.status();
  const int primary = roles->primary;
  const int standby = roles->sync_standby;

  testing::TempDir dir;
  const std::string data = dir.Sub("provd");
  ASSERT_EQ(::mkdir(data.c_str(), 0755), 0);
  // provd refuses a PostgreSQL store without an export signing key (every replica needs one).
  const std::string key = dir.Sub("export-signing.key");
  {
    std::ofstream out(key);
    out << "ed25519-seed 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";
  }
  ASSERT_EQ(::chmod(key.c_str(), 0600), 0);
  testing::ProvdProcess provd(data, 0,
                              {"--insecure", "--store", cluster->StoreUri("provd"),
                               "--replica-name", "a", "--export-signing-key", key});
  ASSERT_TRUE(provd.ok()) << provd.log();

  std::vector<std::unique_ptr<agent::Uplink>> agents;
  for (int i = 0; i < kAgentNodes; ++i) {
    agent::UplinkOptions options;
    options.server_address = provd.address();
    options.credentials = grpc::InsecureChannelCredentials();
    options.spool_dir = dir.Sub("spool-" + std::to_string(i));
    options.spool_fsync = false;
    options.initial_backoff = absl::Milliseconds(100);
    options.max_backoff = absl::Milliseconds(500);
    auto uplink = agent::Uplink::Create(options, RealClock::Get());
    ASSERT_TRUE(uplink.ok()) << uplink.status();
    agents.push_back(*std::move(uplink));
  }
  std::vector<uint64_t> submitted(kAgentNodes, 0);
  auto submit_round = [&] {
    for (int i = 0; i < kAgentNodes; ++i) {
      // The uplink assigns the seq (1, 2, ...) and spools the report before sending it.
      absl::Status s =
          agents[i]->Submit(server::testing::MakeReport(NodeId(i), "boot-a", 0, absl::Now()));
      EXPECT_TRUE(s.ok()) << s;
      if (s.ok()) ++submitted[i];
    }
  };
  auto min_acked = [&] {
    uint64_t m = UINT64_MAX;
    for (auto& a : agents) m = std::min(m, a->Stats().acked_seq);
    return m;
  };
  // Reports flow: one per agent every 100 ms, each agent polled as it would.
  auto pump_until = [&](const std::function<bool()>& done, absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    absl::Time next_submit = absl::Now();
    while (!done()) {
      if (absl::Now() > deadline) return false;
      if (absl::Now() >= next_submit) {
        submit_round();
        next_submit += absl::Milliseconds(100);
      }
      for (auto& a : agents) a->Poll();
      absl::SleepFor(absl::Milliseconds(2));  // the agents' poll cadence, not an assertion
    }
    return true;
  };
  ASSERT_TRUE(pump_until([&] { return min_acked() >= kAckedBeforeKill; }, absl::Seconds(60)))
      << provd.log();

  const absl::Time killed_at = absl::Now();
  ASSERT_TRUE(cluster->KillNode(primary).ok());
  // Acks flow again once provd commits on the promoted standby: each agent has a report that it
  // submitted after the kill acked (seqs are assigned in submission order).
  const std::vector<uint64_t> submitted_at_kill = submitted;
  ASSERT_TRUE(pump_until(
      [&] {
        for (int i = 0; i < kAgentNodes; ++i) {
          if (agents[i]->Stats().acked_seq <= submitted_at_kill[i]) return false;
        }
        return true;
      },
      kFailoverBound))
      << provd.log();
  const absl::Duration failover = absl::Now() - killed_at;
  const uint64_t after = min_acked();
  ASSERT_TRUE(
      pump_until([&] { return min_acked() >= after + kAckedAfterFailover; }, absl::Seconds(60)))
      << provd.log();
  // Stop submitting; every spooled report is acked.
  ASSERT_TRUE(testing::PollUntil(
      [&] {
        for (int i = 0; i < kAgentNodes; ++i) {
          if (agents[i]->Stats().acked_seq != submitted[i]) return false;
        }
        return true;
      },
      [&] {
        for (auto& a : agents) a->Poll();
      },
      std::chrono::seconds(60)))
      << provd.log();
  EXPECT_TRUE(provd.Running()) << "provd died during the failover: " << provd.log();
  std::cout << "provd: primary killed -> acks flowing again: " << absl::FormatDuration(failover)
            << std::endl;

  std::map<std::string, uint64_t> acked;
  for (int i = 0; i < kAgentNodes; ++i) acked[NodeId(i)] = agents[i]->Stats().acked_seq;
  const size_t acked_reports = ExpectStoredOnce(*cluster, standby, acked);
  std::cout << acked_reports << " acked reports, each stored once on the new primary; test took "
            << absl::FormatDuration(absl::Now() - test_start) << std::endl;
}

}  // namespace
}  // namespace prov
