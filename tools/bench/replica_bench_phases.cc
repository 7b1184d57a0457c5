#include "tools/bench/replica_bench_phases.h"

#include <cstdio>
#include <memory>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "server/store/pg/pg_conn.h"
#include "tools/bench/loadgen.h"
#include "tools/bench/proc_stats.h"
#include "tools/bench/provd_replica.h"

namespace prov::bench {
namespace {

constexpr absl::Duration kPoll = absl::Milliseconds(20);
constexpr absl::Duration kAnalysedTimeout = absl::Seconds(180);

absl::StatusOr<std::unique_ptr<ProvdReplica>> StartReplica(const PhaseSettings& s,
                                                           const std::string& name,
                                                           const std::string& pg_conninfo,
                                                           absl::Duration takeover) {
  std::fprintf(stderr, "prov-replica-bench: starting provd %s (%s)\n", name.c_str(),
               pg_conninfo.empty() ? "SQLite" : "PostgreSQL");
  return ProvdReplica::Start({.bin_dir = s.bin_dir,
                              .work_dir = s.work_dir,
                              .name = name,
                              .pg_conninfo = pg_conninfo,
                              .leader_takeover = takeover,
                              .signing_key = s.signing_key,
                              .extra_args = {}});
}

// The index of the replica whose prov_leader is 1, once one is.
absl::StatusOr<size_t> WaitForLeader(const std::vector<ProvdReplica*>& replicas,
                                     absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    for (size_t i = 0; i < replicas.size(); ++i) {
      absl::StatusOr<double> leading = replicas[i]->Metric("prov_leader");
      if (leading.ok() && *leading == 1) return i;
    }
    absl::SleepFor(kPoll);
  }
  return absl::DeadlineExceededError(
      absl::StrCat("no replica led within ", absl::FormatDuration(timeout)));
}

struct Measured {
  uint64_t requested = 0, acked = 0;
  double provd_cpu = 0, pg_cpu = 0;  // seconds
  double analysis_reports = 0, analysis_busy = 0;
  bool analysed_all = false;
  double machine_other_cores = 0;
  double follower_reloads = 0;  // prov_analysis_reloads_total on the non-analysing replicas
};

absl::StatusOr<double> ProvdCpu(const std::vector<ProvdReplica*>& replicas) {
  double sum = 0;
  for (ProvdReplica* r : replicas) {
    PROV_ASSIGN_OR_RETURN(ProcSample p, ReadProcSample("/proc", r->pid()));
    sum += p.cpu_seconds;
  }
  return sum;
}

absl::StatusOr<double> FollowerReloads(const std::vector<ProvdReplica*>& replicas,
                                       const ProvdReplica& analyser) {
  double sum = 0;
  for (ProvdReplica* r : replicas) {
    if (r == &analyser) continue;
    PROV_ASSIGN_OR_RETURN(double v, r->Metric("prov_analysis_reloads_total"));
    sum += v;
  }
  return sum;
}

// Cadence load of `agents` split evenly over `replicas` (one load generator each, concurrent),
// then waits until `analyser` has analysed every acked report. pg may be null (SQLite).
absl::StatusOr<Measured> MeasureLoad(const PhaseSettings& s,
                                     const std::vector<ProvdReplica*>& replicas,
                                     ProvdReplica& analyser, BenchPostgres* pg) {
  Measured m;
  PROV_ASSIGN_OR_RETURN(std::vector<double> a0, analyser.Metrics({"prov_analysis_reports_total",
                                                                  "prov_analysis_busy_seconds_"
                                                                  "total"}));
  PROV_ASSIGN_OR_RETURN(double provd0, ProvdCpu(replicas));
  PROV_ASSIGN_OR_RETURN(double reloads0, FollowerReloads(replicas, analyser));
  double pg0 = 0;
  if (pg != nullptr) {
    PROV_ASSIGN_OR_RETURN(pg0, pg->CpuSeconds());
  }
  const size_t n = replicas.size();
  std::vector<absl::StatusOr<LoadResult>> results(n, absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  int first = 0;
  for (size_t i = 0; i < n; ++i) {
    LoadOptions o;
    o.mode = LoadMode::kCadence;
    o.agents = s.agents / static_cast<int>(n) + (i == 0 ? s.agents % static_cast<int>(n) : 0);
    o.first_agent = first;
    first += o.agents;
    o.interval = s.interval;
    o.duration = absl::Seconds(s.seconds);
    o.drain_timeout = absl::Seconds(60);
    o.verbose = n == 1;
    threads.emplace_back(
        [&results, i, o, r = replicas[i]] { results[i] = RunLoad(r->address(), r->pid(), o); });
  }
  for (std::thread& t : threads) t.join();
  for (size_t i = 0; i < n; ++i) {
    if (!results[i].ok()) return results[i].status();
    const LoadResult& r = *results[i];
    if (r.streams_failed != 0 || r.rejected != 0 || r.connected != r.agents) {
      return absl::InternalError(
          absl::StrCat("load on provd ", replicas[i]->name(), ": ", r.connected, "/", r.agents,
                       " connected, ", r.streams_failed, " streams failed, ", r.rejected,
                       " rejected: ", r.first_error, " (log ", replicas[i]->log_path(), ")"));
    }
    m.requested += r.requested;
    m.acked += r.acked;
    m.machine_other_cores += r.other_cores / static_cast<double>(n);
  }
  const absl::Time deadline = absl::Now() + kAnalysedTimeout;
  std::vector<double> a1 = a0;
  while (absl::Now() < deadline) {
    PROV_ASSIGN_OR_RETURN(
        a1, analyser.Metrics({"prov_analysis_reports_total", "prov_analysis_busy_seconds_total"}));
    if (a1[0] - a0[0] >= static_cast<double>(m.acked)) {
      m.analysed_all = true;
      break;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  m.analysis_reports = a1[0] - a0[0];
  m.analysis_busy = a1[1] - a0[1];
  PROV_ASSIGN_OR_RETURN(double reloads1, FollowerReloads(replicas, analyser));
  m.follower_reloads = reloads1 - reloads0;
  PROV_ASSIGN_OR_RETURN(double provd1, ProvdCpu(replicas));
  m.provd_cpu = provd1 - provd0;
  if (pg != nullptr) {
    PROV_ASSIGN_OR_RETURN(double pg1, pg->CpuSeconds());
    m.pg_cpu = pg1 - pg0;
  }
  return m;
}

void Record(BenchReport& report, const std::string& prefix, const Measured& m) {
  const double acked = static_cast<double>(m.acked);
  report.Set(prefix + ".requested", static_cast<double>(m.requested));
  report.Set(prefix + ".acked", acked);
  report.Set(prefix + ".analysed", m.analysis_reports);
  report.Set(prefix + ".analysed_all", m.analysed_all ? 1 : 0);
  report.Set(prefix + ".provd_us_per_report", acked > 0 ? m.provd_cpu * 1e6 / acked : 0);
  report.Set(prefix + ".pg_us_per_report", acked > 0 ? m.pg_cpu * 1e6 / acked : 0);
  report.Set(prefix + ".total_us_per_report",
             acked > 0 ? (m.provd_cpu + m.pg_cpu) * 1e6 / acked : 0);
  report.Set(prefix + ".analysis_us_per_report",
             m.analysis_reports > 0 ? m.analysis_busy * 1e6 / m.analysis_reports : 0);
  report.Set(prefix + ".other_cores", m.machine_other_cores);
  report.Set(prefix + ".follower_reloads", m.follower_reloads);
}

double Ratio(double a, double b) { return b > 0 ? a / b : 0; }

absl::Status StopAll(std::vector<std::unique_ptr<ProvdReplica>>& replicas) {
  absl::Status first;
  for (auto& r : replicas) {
    if (absl::Status st = r->Stop(); !st.ok() && first.ok()) first = st;
  }
  return first;
}

// Bytes on disk of the provd schema's tables (with indexes and TOAST) against stored reports.
absl::Status RecordDisk(const std::string& conninfo, BenchReport& report) {
  PROV_ASSIGN_OR_RETURN(auto conn, server::PgConn::Connect(conninfo, {.search_path = "provd"}));
  PROV_RETURN_IF_ERROR(conn->Exec("CHECKPOINT"));
  PROV_ASSIGN_OR_RETURN(server::PgResult count, conn->Query("SELECT count(*) FROM reports"));
  PROV_ASSIGN_OR_RETURN(int64_t reports, count.Int64(0, 0));
  PROV_ASSIGN_OR_RETURN(server::PgResult nodes, conn->Query("SELECT count(*) FROM nodes"));
  PROV_ASSIGN_OR_RETURN(int64_t node_count, nodes.Int64(0, 0));
  PROV_ASSIGN_OR_RETURN(
      server::PgResult sizes,
      conn->Query("SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c "
                  "JOIN pg_namespace n ON n.oid = c.relnamespace "
                  "WHERE n.nspname = 'provd' AND c.relkind IN ('r', 'p') ORDER BY 2 DESC"));
  int64_t total = 0;
  report.Set("disk.reports_stored", static_cast<double>(reports));
  report.Set("disk.nodes", static_cast<double>(node_count));
  for (int i = 0; i < sizes.rows(); ++i) {
    PROV_ASSIGN_OR_RETURN(int64_t bytes, sizes.Int64(i, 1));
    total += bytes;
    if (i < 8) report.Set("disk.table." + sizes.Text(i, 0) + "_bytes", static_cast<double>(bytes));
  }
  report.Set("disk.total_bytes", static_cast<double>(total));
  report.Set("disk.bytes_per_report", reports > 0 ? static_cast<double>(total) / reports : 0);
  return absl::OkStatus();
}

}  // namespace

absl::Status RunEngines(const PhaseSettings& s, BenchPostgres& pg, BenchReport& report) {
  {
    std::vector<std::unique_ptr<ProvdReplica>> one;
    PROV_ASSIGN_OR_RETURN(auto r, StartReplica(s, "sqlite", "", absl::Seconds(15)));
    one.push_back(std::move(r));
    PROV_ASSIGN_OR_RETURN(Measured m, MeasureLoad(s, {one[0].get()}, *one[0], nullptr));
    Record(report, "engines.sqlite", m);
    PROV_RETURN_IF_ERROR(StopAll(one));
  }
  PROV_ASSIGN_OR_RETURN(std::string db, pg.FreshDatabase());
  std::vector<std::unique_ptr<ProvdReplica>> one;
  PROV_ASSIGN_OR_RETURN(auto r, StartReplica(s, "pg-engines", db, absl::Seconds(15)));
  one.push_back(std::move(r));
  PROV_RETURN_IF_ERROR(WaitForLeader({one[0].get()}, absl::Seconds(60)).status());
  PROV_ASSIGN_OR_RETURN(Measured m, MeasureLoad(s, {one[0].get()}, *one[0], &pg));
  Record(report, "engines.pg", m);
  PROV_RETURN_IF_ERROR(StopAll(one));
  PROV_RETURN_IF_ERROR(RecordDisk(db, report));
  return absl::OkStatus();
}

absl::Status RunScaling(const PhaseSettings& s, BenchPostgres& pg, BenchReport& report) {
  Measured ms[2];
  for (int n = 1; n <= 2; ++n) {
    PROV_ASSIGN_OR_RETURN(std::string db, pg.FreshDatabase());
    std::vector<std::unique_ptr<ProvdReplica>> replicas;
    std::vector<ProvdReplica*> raw;
    for (int i = 0; i < n; ++i) {
      PROV_ASSIGN_OR_RETURN(
          auto r, StartReplica(s, absl::StrCat("scale", n, "-", i), db, absl::Seconds(15)));
      raw.push_back(r.get());
      replicas.push_back(std::move(r));
    }
    PROV_ASSIGN_OR_RETURN(size_t leader, WaitForLeader(raw, absl::Seconds(60)));
    PROV_ASSIGN_OR_RETURN(ms[n - 1], MeasureLoad(s, raw, *raw[leader], &pg));
    Record(report, absl::StrCat("scaling.replicas", n), ms[n - 1]);
    PROV_RETURN_IF_ERROR(StopAll(replicas));
  }
  auto per = [](double cpu, uint64_t acked) { return acked > 0 ? cpu / acked : 0; };
  const double provd1 = per(ms[0].provd_cpu, ms[0].acked),
               provd2 = per(ms[1].provd_cpu, ms[1].acked);
  const double pg1 = per(ms[0].pg_cpu, ms[0].acked), pg2 = per(ms[1].pg_cpu, ms[1].acked);
  report.Set("scaling.provd_cpu_two_over_one", Ratio(provd2, provd1));
  report.Set("scaling.pg_cpu_two_over_one", Ratio(pg2, pg1));
  report.Set("scaling.total_cpu_two_over_one", Ratio(provd2 + pg2, provd1 + pg1));
  // Two replicas on cores of their own: the provd tier's throughput relative to one replica.
  report.Set("scaling.provd_tier_factor", 2 * Ratio(provd1, provd2));
  return absl::OkStatus();
}

absl::Status RunFailover(const PhaseSettings& s, absl::Duration takeover, absl::Duration stall,
                         BenchPostgres& pg, BenchReport& report) {
  const std::string prefix =
      stall > absl::ZeroDuration()
          ? absl::StrCat("catchup.backlog_", absl::FormatDuration(stall))
          : absl::StrCat("failover.takeover_", absl::FormatDuration(takeover));
  PROV_ASSIGN_OR_RETURN(std::string db, pg.FreshDatabase());
  std::vector<std::unique_ptr<ProvdReplica>> replicas;
  for (const char* name : {"fa", "fb"}) {
    PROV_ASSIGN_OR_RETURN(auto r, StartReplica(s, name, db, takeover));
    replicas.push_back(std::move(r));
  }
  PROV_ASSIGN_OR_RETURN(size_t leader_index, WaitForLeader({replicas[0].get(), replicas[1].get()},
                                                           absl::Seconds(60) + takeover));
  ProvdReplica& leader = *replicas[leader_index];
  ProvdReplica& standby = *replicas[1 - leader_index];

  LoadOptions o;
  o.mode = LoadMode::kCadence;
  o.agents = s.failover_agents;
  o.interval = s.failover_interval;
  o.duration = s.failover_lead_in + stall + s.failover_tail;
  o.drain_timeout = absl::Seconds(60);
  o.verbose = false;
  absl::StatusOr<LoadResult> load = absl::UnknownError("not run");
  std::thread load_thread([&] { load = RunLoad(standby.address(), standby.pid(), o); });

  absl::SleepFor(s.failover_lead_in);
  const std::vector<std::string> names = {
      "prov_leader", "prov_analysis_reports_total", "prov_analysis_feed_lag_seconds",
      "prov_analysis_pending_reports", "prov_analysis_busy_seconds_total"};
  absl::Status poll_error;
  if (stall > absl::ZeroDuration()) {
    // The leader's engine stops while ingest goes on through the standby: a backlog builds up
    // in the batch log (the leader's session, and so its lock, stays).
    std::fprintf(stderr, "prov-replica-bench: SIGSTOP leader %s for %s\n", leader.name().c_str(),
                 absl::FormatDuration(stall).c_str());
    const std::vector<std::string> ingest = {"prov_reports_ingested_total",
                                             "prov_commit_failures_total"};
    // No early return below while the load thread runs: errors wait for its join.
    absl::StatusOr<std::vector<double>> before = standby.Metrics(ingest);
    leader.Pause();
    absl::SleepFor(stall);
    absl::StatusOr<std::vector<double>> after = standby.Metrics(ingest);
    // Ingest through the standby while the leader hung: the backlog the next leader finds.
    if (before.ok() && after.ok()) {
      report.Set(prefix + ".ingested_while_stopped", (*after)[0] - (*before)[0]);
      report.Set(prefix + ".commit_failures_while_stopped", (*after)[1] - (*before)[1]);
    } else {
      poll_error = before.ok() ? after.status() : before.status();
    }
  }
  const absl::Time killed = absl::Now();
  leader.Kill();
  std::fprintf(stderr, "prov-replica-bench: killed leader %s; polling %s\n", leader.name().c_str(),
               standby.name().c_str());
  absl::Time led = absl::InfinitePast(), first = absl::InfinitePast(),
             caught = absl::InfinitePast();
  std::vector<double> at_lead, at_caught;
  const absl::Time deadline = killed + takeover + s.failover_tail + stall + absl::Seconds(60);
  while (poll_error.ok() && absl::Now() < deadline) {
    absl::StatusOr<std::vector<double>> v = standby.Metrics(names);
    const absl::Time now = absl::Now();
    if (!v.ok()) {
      poll_error = v.status();
      break;
    }
    if (led == absl::InfinitePast() && (*v)[0] == 1) {
      led = now;
      at_lead = *v;
    }
    if (led != absl::InfinitePast() && first == absl::InfinitePast() && (*v)[1] > at_lead[1]) {
      first = now;
    }
    if (first != absl::InfinitePast() && (*v)[2] == 0 && (*v)[3] == 0) {
      caught = now;
      at_caught = *v;
      break;
    }
    absl::SleepFor(kPoll);
  }
  load_thread.join();
  for (auto& r : replicas) {
    if (r.get() != &leader) (void)r->Stop();
  }
  PROV_RETURN_IF_ERROR(poll_error);
  PROV_RETURN_IF_ERROR(load.status());
  if (load->streams_failed != 0 || load->rejected != 0) {
    return absl::InternalError(absl::StrCat(prefix, ": load on the standby: ", load->streams_failed,
                                            " streams failed, ", load->rejected,
                                            " rejected: ", load->first_error));
  }
  if (caught == absl::InfinitePast()) {
    return absl::DeadlineExceededError(
        absl::StrCat(prefix, ": the standby ",
                     led == absl::InfinitePast() ? "never led" : "led but never caught up",
                     " (log ", standby.log_path(), ")"));
  }
  const double offered = o.agents / absl::ToDoubleSeconds(o.interval);
  const double backlog = at_caught[1] - at_lead[1];
  const double catchup_s = absl::ToDoubleSeconds(caught - led);
  report.Set(prefix + ".offered_reports_per_s", offered);
  report.Set(prefix + ".acked", static_cast<double>(load->acked));
  report.Set(prefix + ".requested", static_cast<double>(load->requested));
  report.Set(prefix + ".leading_after_s", absl::ToDoubleSeconds(led - killed));
  report.Set(prefix + ".first_analysis_after_s", absl::ToDoubleSeconds(first - killed));
  report.Set(prefix + ".election_try_interval_s", absl::ToDoubleSeconds(takeover / 15));
  report.Set(prefix + ".first_analysis_after_leading_s", absl::ToDoubleSeconds(first - led));
  report.Set(prefix + ".caught_up_after_s", absl::ToDoubleSeconds(caught - killed));
  report.Set(prefix + ".backlog_reports", backlog);
  report.Set(prefix + ".backlog_fleet_seconds", offered > 0 ? backlog / offered : 0);
  report.Set(prefix + ".catchup_s", catchup_s);
  report.Set(prefix + ".catchup_reports_per_s", catchup_s > 0 ? backlog / catchup_s : 0);
  report.Set(prefix + ".catchup_over_offered", catchup_s > 0 ? backlog / catchup_s / offered : 0);
  report.Set(prefix + ".leader_analysis_us_per_report",
             backlog > 0 ? (at_caught[4] - at_lead[4]) * 1e6 / backlog : 0);
  return absl::OkStatus();
}

std::string BenchReport::Table() const {
  std::string out;
  for (const auto& [k, v] : notes_) absl::StrAppend(&out, k, ": ", v, "\n");
  for (const auto& [k, v] : figures_) absl::StrAppendFormat(&out, "%-58s %14.3f\n", k, v);
  return out;
}

std::string BenchReport::Json() const {
  std::string out = "{\n  \"notes\": {";
  for (size_t i = 0; i < notes_.size(); ++i) {
    std::string text;
    for (char c : notes_[i].second) {
      if (c == '"' || c == '\\') text += '\\';
      text += (c == '\n' ? ' ' : c);
    }
    absl::StrAppend(&out, i ? ",\n    " : "\n    ", "\"", notes_[i].first, "\": \"", text, "\"");
  }
  out += "\n  },\n  \"figures\": {";
  for (size_t i = 0; i < figures_.size(); ++i) {
    absl::StrAppendFormat(&out, "%s\"%s\": %.6f", i ? ",\n    " : "\n    ", figures_[i].first,
                          figures_[i].second);
  }
  out += "\n  }\n}\n";
  return out;
}

}  // namespace prov::bench
