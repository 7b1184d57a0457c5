// The phases of prov-replica-bench (replica_bench_main.cc) and the report they fill.
//
//   PhaseSettings s{.bin_dir = "build/release/bin", .work_dir = tmp, .signing_key = key};
//   BenchReport report;
//   PROV_RETURN_IF_ERROR(RunEngines(s, pg, report));      // SQLite vs PostgreSQL, one provd
//   PROV_RETURN_IF_ERROR(RunScaling(s, pg, report));      // one vs two replicas
//   PROV_RETURN_IF_ERROR(RunFailover(s, absl::Seconds(1), absl::ZeroDuration(), pg, report));
//   PROV_RETURN_IF_ERROR(RunFailover(s, absl::Seconds(15), absl::Seconds(30), pg, report));
//   std::puts(report.Table().c_str());
//
// Each phase starts its provd processes (a fresh PostgreSQL database per run) and stops them
// again. CPU is read from /proc around the whole load run (connect, send, drain and the wait
// until the leader has analysed every acked report), divided by the reports acked; PostgreSQL's
// CPU is its postmaster's process tree (bench_postgres.h). Nothing here judges a figure; an
// error means a run could not be carried out (a provd died, a stream failed, a leader never
// came). Thread-safety: call from one thread; each phase blocks for its runs.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "tools/bench/bench_postgres.h"

namespace prov::bench {

struct PhaseSettings {
  std::string bin_dir;
  std::string work_dir;
  std::string signing_key;
  int agents = 300;
  absl::Duration interval = absl::Seconds(1);
  int seconds = 30;
  std::vector<absl::Duration> takeovers;
  int failover_agents = 300;
  absl::Duration failover_interval = absl::Seconds(1);
  absl::Duration failover_lead_in = absl::Seconds(10);
  absl::Duration failover_tail = absl::Seconds(30);
  absl::Duration backlog = absl::Seconds(30);  // catch-up run; zero: none
};

// Figures (name -> number) and notes (name -> text), in the order they were set.
class BenchReport {
 public:
  void Set(const std::string& name, double value) { figures_.emplace_back(name, value); }
  void Note(const std::string& name, const std::string& text) { notes_.emplace_back(name, text); }
  std::string Table() const;
  std::string Json() const;

 private:
  std::vector<std::pair<std::string, double>> figures_;
  std::vector<std::pair<std::string, std::string>> notes_;
};

absl::Status RunEngines(const PhaseSettings& s, BenchPostgres& pg, BenchReport& report);
absl::Status RunScaling(const PhaseSettings& s, BenchPostgres& pg, BenchReport& report);
// `stall` zero: the leader is SIGKILLed after the lead-in ("failover.takeover_<T>.*"). Else it is
// SIGSTOPped for `stall` first, so about that many seconds of the fleet's reports wait in the batch
// log for the next leader ("catchup.backlog_<stall>.*": reports/s of analysis while it catches up).
absl::Status RunFailover(const PhaseSettings& s, absl::Duration takeover, absl::Duration stall,
                         BenchPostgres& pg, BenchReport& report);

}  // namespace prov::bench
