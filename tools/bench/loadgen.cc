#include "tools/bench/loadgen.h"

#include <cstdio>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "grpcpp/grpcpp.h"
#include "tools/bench/agent_stream.h"
#include "tools/bench/proc_stats.h"
#include "tools/bench/report_factory.h"

namespace prov::bench {
namespace {

constexpr absl::Duration kPoll = absl::Milliseconds(100);
constexpr absl::Duration kCloseTimeout = absl::Seconds(30);

std::shared_ptr<grpc::Channel> MakeAgentChannel(const std::string& address, int index) {
  grpc::ChannelArguments args;
  // A distinct argument plus a local subchannel pool: every agent gets its own TCP connection,
  // as real agents (one per node) do; gRPC would otherwise share one subchannel among all.
  args.SetInt("prov.bench.agent_index", index);
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

struct Snapshot {
  absl::Time at;
  uint64_t requested, sent, acked, rejected;
  ProcSample target, self;
  double machine_busy;
};

absl::StatusOr<Snapshot> Take(const LoadCounters& c, pid_t pid, const LoadOptions& o) {
  Snapshot s;
  s.at = absl::Now();
  s.requested = c.requested.load();
  s.sent = c.sent.load();
  s.acked = c.acked.load();
  s.rejected = c.rejected.load();
  PROV_ASSIGN_OR_RETURN(s.target, ReadProcSample(o.procfs_root, pid));
  PROV_ASSIGN_OR_RETURN(s.self, ReadSelfSample(o.procfs_root));
  PROV_ASSIGN_OR_RETURN(s.machine_busy, ReadMachineBusySeconds(o.procfs_root));
  return s;
}

int CountReady(std::vector<std::unique_ptr<AgentStream>>& agents) {
  int ready = 0;
  for (auto& a : agents) {
    if (a->channel().GetState(/*try_to_connect=*/true) == GRPC_CHANNEL_READY) ++ready;
  }
  return ready;
}

void RunCadence(std::vector<std::unique_ptr<AgentStream>>& agents, const LoadOptions& o,
                absl::Time t0) {
  const absl::Time end = t0 + o.duration;
  const int n = static_cast<int>(agents.size());
  for (int64_t round = 0;; ++round) {
    for (int i = 0; i < n; ++i) {
      const absl::Time due = t0 + o.interval * round + o.interval * i / n;
      if (due >= end) return;
      const absl::Duration wait = due - absl::Now();
      if (wait > absl::ZeroDuration()) absl::SleepFor(wait);
      agents[i]->Request();
    }
  }
}

void Progress(const LoadOptions& o, const std::string& line) {
  if (o.verbose) std::fprintf(stderr, "  %s\n", line.c_str());
}

}  // namespace

absl::StatusOr<LoadResult> RunLoad(const std::string& address, pid_t target_pid,
                                   const LoadOptions& o) {
  LoadResult r;
  r.agents = o.agents;
  ReportFactory factory;
  r.report_bytes = factory.MakeTemplate(0).ByteSizeLong();
  PROV_ASSIGN_OR_RETURN(ProcSample idle, ReadProcSample(o.procfs_root, target_pid));
  r.target_rss_idle = idle.rss_bytes;

  LoadCounters counters;
  std::vector<std::unique_ptr<AgentStream>> agents;
  agents.reserve(o.agents);
  const absl::Time connect_start = absl::Now();
  for (int i = 0; i < o.agents; ++i) {
    const int index = o.first_agent + i;
    agents.push_back(std::make_unique<AgentStream>(
        MakeAgentChannel(address, index), factory.MakeTemplate(index), o.window, counters));
    agents.back()->Start();
  }
  const absl::Time connect_deadline = connect_start + o.connect_timeout;
  while ((r.connected = CountReady(agents)) < o.agents && absl::Now() < connect_deadline) {
    absl::SleepFor(kPoll);
  }
  r.connect_seconds = absl::ToDoubleSeconds(absl::Now() - connect_start);
  Progress(o, absl::StrCat(r.connected, "/", o.agents, " agents connected in ", r.connect_seconds,
                           " s"));
  if (r.connected < o.agents) {
    counters.NoteError(absl::StrCat("only ", r.connected, " of ", o.agents,
                                    " agents connected within the connect timeout"));
  }
  PROV_ASSIGN_OR_RETURN(ProcSample connected, ReadProcSample(o.procfs_root, target_pid));
  r.target_rss_connected = connected.rss_bytes;
  r.target_connect_cpu_seconds = connected.cpu_seconds - idle.cpu_seconds;

  absl::StatusOr<Snapshot> begin, end;
  if (o.mode == LoadMode::kSaturation) {
    counters.record_latency = false;
    for (auto& a : agents) a->SetSaturate(true);
    absl::SleepFor(o.warmup);
    begin = Take(counters, target_pid, o);
    counters.record_latency = true;
    absl::SleepFor(o.duration);
    end = Take(counters, target_pid, o);
  } else {
    begin = Take(counters, target_pid, o);
    if (begin.ok()) RunCadence(agents, o, begin->at);
    Progress(o, absl::StrCat("sending done: ", counters.requested.load(), " due, ",
                             counters.acked.load(), " acked; draining"));
    const absl::Time drain_deadline = absl::Now() + o.drain_timeout;
    while (counters.acked.load() < counters.requested.load() && absl::Now() < drain_deadline) {
      absl::SleepFor(kPoll);
    }
    end = Take(counters, target_pid, o);
  }

  // Close every stream before looking at errors, so no reactor outlives this function.
  for (auto& a : agents) a->StopSending();
  for (auto& a : agents) r.unacked_at_end += a->Unacked();
  for (auto& a : agents) a->Cancel();
  const absl::Time close_deadline = absl::Now() + kCloseTimeout;
  for (auto& a : agents) {
    while (!a->Done() && absl::Now() < close_deadline) absl::SleepFor(absl::Milliseconds(5));
    if (!a->Done()) {
      // A reactor still running would be destroyed under gRPC's feet: refuse to go on.
      std::fprintf(stderr, "prov-ingest-bench: streams did not close within %s; aborting\n",
                   absl::FormatDuration(kCloseTimeout).c_str());
      std::abort();
    }
  }
  agents.clear();
  if (r.connected == 0) {
    return absl::UnavailableError(
        absl::StrCat("no agent could connect to ", address, ": ", counters.FirstError()));
  }
  if (!begin.ok()) return begin.status();
  if (!end.ok()) return end.status();

  r.window_seconds = absl::ToDoubleSeconds(end->at - begin->at);
  r.requested = end->requested - begin->requested;
  r.sent = end->sent - begin->sent;
  r.acked = end->acked - begin->acked;
  r.rejected = end->rejected - begin->rejected;
  r.streams_failed = counters.streams_failed.load();
  r.first_error = counters.FirstError();
  r.reports_per_second = r.window_seconds > 0 ? r.acked / r.window_seconds : 0;
  r.latency_p50_ms = absl::ToDoubleMilliseconds(counters.latency.Percentile(50));
  r.latency_p99_ms = absl::ToDoubleMilliseconds(counters.latency.Percentile(99));
  r.latency_max_ms = absl::ToDoubleMilliseconds(counters.latency.Max());
  r.target_cpu_seconds = end->target.cpu_seconds - begin->target.cpu_seconds;
  r.target_cores = r.window_seconds > 0 ? r.target_cpu_seconds / r.window_seconds : 0;
  r.target_cpu_us_per_report = r.acked > 0 ? r.target_cpu_seconds * 1e6 / r.acked : 0;
  r.target_rss_end = end->target.rss_bytes;
  r.target_peak_rss = end->target.peak_rss_bytes;
  r.target_threads = end->target.threads;
  r.generator_cpu_seconds = end->self.cpu_seconds - begin->self.cpu_seconds;
  r.generator_cores = r.window_seconds > 0 ? r.generator_cpu_seconds / r.window_seconds : 0;
  r.generator_peak_rss = end->self.peak_rss_bytes;
  if (r.window_seconds > 0) {
    r.machine_cores = (end->machine_busy - begin->machine_busy) / r.window_seconds;
    r.other_cores = r.machine_cores - r.target_cores - r.generator_cores;
  }
  return r;
}

}  // namespace prov::bench
