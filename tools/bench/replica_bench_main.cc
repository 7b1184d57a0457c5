// prov-replica-bench: provd replicas on PostgreSQL (issue 12), measured against baselines taken
// in the same run. Phases (--phases, default all, in this order):
//
//  engines   one provd on SQLite, then one provd on PostgreSQL, the same cadence load: CPU per
//            report of provd and of PostgreSQL (postmaster + backends from /proc), the ratios,
//            and the PostgreSQL tables' bytes on disk per stored report;
//  scaling   the same load on one replica, then split over two replicas of one PostgreSQL: CPU
//            per report of provd(s) and PostgreSQL, two/one ratios and the leader's analysis cost;
//  failover  per --takeovers value T: two replicas, agents streaming to the standby, the leader
//            SIGKILLed: seconds from the kill to the standby leading and to its first analysed
//            report (the kill closes the leader's session, so its advisory lock goes at once and
//            the standby takes it at its next try, every T/15); then a catch-up run (--backlog):
//            the leader SIGSTOPped for --backlog while ingest goes on (takeover twice that, at
//            least 15 s, so that its lease outlives the stop), then SIGKILLed, and the
//            new leader works the batch-log backlog off: reports/s of analysis and its µs per
//            report (prov_analysis_busy_seconds_total: the single analysis thread's cost).
//
//   prov-replica-bench                                    # all phases, own PostgreSQL
//   prov-replica-bench --phases failover --takeovers 1s,15s --backlog 30s --failover-agents 500
//   prov-replica-bench --pg "host=/tmp/pg user=provd dbname=postgres" --json-out r.json
//
// Targets are real provd processes from --bin-dir (default: this binary's directory) on loopback
// ports; agents are tools/bench/loadgen.h's. It prints figures and never judges them: the exit
// status is 1 when a run could not be carried out, 3 when no PostgreSQL is installed (skip).
// tools/bench/README.md has the last measured figures; docs/sizing.md what they mean for a fleet.
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/fs.h"
#include "common/status_macros.h"
#include "server/store/pg/pg_conn.h"
#include "tools/bench/bench_flags.h"
#include "tools/bench/bench_postgres.h"
#include "tools/bench/loadgen.h"
#include "tools/bench/proc_stats.h"
#include "tools/bench/provd_replica.h"
#include "tools/bench/replica_bench_phases.h"

ABSL_FLAG(std::string, phases, "engines,scaling,failover", "comma-separated phases, in order");
ABSL_FLAG(std::string, pg, "",
          "conninfo of a PostgreSQL on this machine to create databases in (default: start one)");
ABSL_FLAG(int, agents, 300, "engines/scaling: agents, each on its own connection");
ABSL_FLAG(absl::Duration, interval, absl::Seconds(1), "engines/scaling: report interval per agent");
ABSL_FLAG(int, seconds, 30, "engines/scaling: sending seconds per run");
ABSL_FLAG(std::vector<std::string>, takeovers, std::vector<std::string>({"1s", "15s"}),
          "failover: --leader-takeover values, one failover each");
ABSL_FLAG(int, failover_agents, 300, "failover: agents streaming to the standby");
ABSL_FLAG(absl::Duration, failover_interval, absl::Seconds(1), "failover: interval per agent");
ABSL_FLAG(absl::Duration, failover_lead_in, absl::Seconds(10), "failover: load before the kill");
ABSL_FLAG(absl::Duration, failover_tail, absl::Seconds(30),
          "failover: load after the kill (the catch-up must finish within it)");
ABSL_FLAG(absl::Duration, backlog, absl::Seconds(30),
          "failover: also a catch-up run, the leader SIGSTOPped this long before its SIGKILL "
          "(0: none)");
ABSL_FLAG(std::string, bin_dir, "", "where provd is (default: this binary's directory)");
ABSL_FLAG(std::string, json_out, "", "also write the figures as JSON here");
ABSL_FLAG(bool, keep_data, false, "keep the temporary directory (provd logs and data)");

namespace prov::bench {
namespace {

std::string OwnDirectory() {
  std::error_code ec;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? "." : self.parent_path().string();
}

int Main() {
  PhaseSettings s;
  s.agents = absl::GetFlag(FLAGS_agents);
  s.interval = absl::GetFlag(FLAGS_interval);
  s.seconds = absl::GetFlag(FLAGS_seconds);
  s.failover_agents = absl::GetFlag(FLAGS_failover_agents);
  s.failover_interval = absl::GetFlag(FLAGS_failover_interval);
  s.failover_lead_in = absl::GetFlag(FLAGS_failover_lead_in);
  s.failover_tail = absl::GetFlag(FLAGS_failover_tail);
  s.backlog = absl::GetFlag(FLAGS_backlog);
  for (const std::string& t : absl::GetFlag(FLAGS_takeovers)) {
    absl::Duration d;
    if (!absl::ParseDuration(t, &d) || d < absl::Seconds(1)) {
      std::fprintf(stderr, "--takeovers: \"%s\" is not a duration of at least 1s\n", t.c_str());
      return 2;
    }
    s.takeovers.push_back(d);
  }
  if (s.agents < 2 || s.failover_agents < 1 || s.seconds < 1 ||
      s.interval <= absl::ZeroDuration() || s.failover_interval <= absl::ZeroDuration()) {
    std::fprintf(stderr,
                 "--agents must be at least 2 (split over two replicas); --failover-agents, "
                 "--seconds, --interval and --failover-interval must be positive\n");
    return 2;
  }
  std::vector<std::string> phases = absl::StrSplit(absl::GetFlag(FLAGS_phases), ',');
  for (const std::string& p : phases) {
    if (p != "engines" && p != "scaling" && p != "failover") {
      std::fprintf(stderr, "--phases: unknown phase \"%s\" (engines, scaling, failover)\n",
                   p.c_str());
      return 2;
    }
  }
  s.bin_dir = absl::GetFlag(FLAGS_bin_dir);
  if (s.bin_dir.empty()) s.bin_dir = OwnDirectory();
  std::string work_dir = (std::filesystem::temp_directory_path() / "prov-rbench-XXXXXX").string();
  if (mkdtemp(work_dir.data()) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  s.work_dir = work_dir;
  s.signing_key = JoinPath(work_dir, "export-signing.key");
  if (absl::Status k = WriteSigningKey(s.signing_key); !k.ok()) {
    std::fprintf(stderr, "prov-replica-bench: %s\n", k.ToString().c_str());
    return 1;
  }
  absl::StatusOr<std::unique_ptr<BenchPostgres>> pg = BenchPostgres::Open(absl::GetFlag(FLAGS_pg));
  if (!pg.ok()) {
    std::fprintf(stderr, "prov-replica-bench: PostgreSQL: %s\n", pg.status().ToString().c_str());
    return pg.status().code() == absl::StatusCode::kUnavailable ? 3 : 1;
  }
  std::fprintf(stderr, "prov-replica-bench: %s; work dir %s\n", (*pg)->Describe().c_str(),
               work_dir.c_str());

  BenchReport report;
  report.Note("postgres", (*pg)->Describe());
  bool failed = false;
  for (const std::string& phase : phases) {
    absl::Status st;
    if (phase == "engines") st = RunEngines(s, **pg, report);
    if (phase == "scaling") st = RunScaling(s, **pg, report);
    if (phase == "failover") {
      for (absl::Duration t : s.takeovers) {
        st = RunFailover(s, t, absl::ZeroDuration(), **pg, report);
        if (!st.ok()) break;
      }
      if (st.ok() && s.backlog > absl::ZeroDuration()) {
        // The stopped leader must keep the lock through the stall: its lease (renewed by its
        // election thread, which SIGSTOP stops too) lets a standby end its session after the
        // takeover, so the takeover is twice the stall, at least the default 15 s.
        st = RunFailover(s, std::max(absl::Seconds(15), 2 * s.backlog), s.backlog, **pg, report);
      }
    }
    if (!st.ok()) {
      std::fprintf(stderr, "prov-replica-bench: phase %s: %s\n", phase.c_str(),
                   st.ToString().c_str());
      report.Note(phase + ".error", st.ToString());
      failed = true;
    }
  }
  std::fputs(report.Table().c_str(), stdout);
  const std::string json_out = absl::GetFlag(FLAGS_json_out);
  if (!json_out.empty()) {
    if (absl::Status w = WriteFileAtomically(json_out, report.Json()); !w.ok()) {
      std::fprintf(stderr, "--json-out: %s\n", w.ToString().c_str());
      failed = true;
    }
  }
  if (absl::GetFlag(FLAGS_keep_data) || failed) {
    std::fprintf(stderr, "prov-replica-bench: kept %s (provd logs and data)\n", work_dir.c_str());
  } else {
    std::error_code ec;
    std::filesystem::remove_all(work_dir, ec);
  }
  return failed ? 1 : 0;
}

}  // namespace
}  // namespace prov::bench

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  prov::bench::ParseBenchFlags(argc, argv);
  return prov::bench::Main();
}
