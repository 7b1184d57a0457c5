#include "tools/prov-sim/sim_driver.h"

#include <stdlib.h>
#include <sys/resource.h>

#include <algorithm>
#include <deque>
#include <filesystem>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "agent/uplink/uplink.h"
#include "common/accelerator_catalog.h"
#include "common/clock.h"
#include "common/fs.h"
#include "common/status_macros.h"
#include "tools/prov-sim/inventory.h"
#include "tools/prov-sim/report_builder.h"

namespace prov::sim {
namespace {

struct SimAgent {
  size_t node_index = 0;
  std::unique_ptr<agent::Uplink> uplink;
  uint32_t next_report = 0;
  uint64_t submitted = 0;
  uint64_t submit_errors = 0;
  absl::Duration max_behind;           // the most a report went out after it was due (real time)
  std::deque<absl::Time> unacked_due;  // due times of submitted reports still in the spool
  absl::Duration max_ack_lag;          // the most a report left the spool after it was due

  // Counts the reports acked since the last call (they leave the spool in order), at `now`.
  void NoteAcks(absl::Time now) {
    const uint64_t depth = uplink->Stats().spool_depth;
    while (unacked_due.size() > depth) {
      max_ack_lag = std::max(max_ack_lag, now - unacked_due.front());
      unacked_due.pop_front();
    }
  }
};

// Connects every agent before the replay's schedule starts, `batch` at a time (the next batch
// once the ones before it are up: a ramp, not a storm), for at most `wait`. At time scale X each
// real second an agent spends connecting is X simulated seconds in which provd hears nothing from
// its node, which a real fleet, online before the window a replay covers, never shows. Returns
// how many connected; those that did not keep retrying on their own backoff.
size_t ConnectFleet(std::vector<SimAgent>& agents, size_t batch, absl::Duration wait,
                    Clock& clock) {
  const absl::Time deadline = clock.Now() + wait;
  size_t opened = 0;
  while (true) {
    size_t connected = 0;
    for (size_t i = 0; i < opened; ++i) {
      agents[i].uplink->Poll();
      if (agents[i].uplink->Stats().connected) ++connected;
    }
    if (connected == agents.size() || clock.Now() >= deadline) return connected;
    if (connected + batch / 2 >= opened) opened = std::min(agents.size(), opened + batch);
    absl::SleepFor(absl::Milliseconds(10));
  }
}

// 10,000 agents need 10,000+ sockets: raise the soft descriptor limit to the hard one.
void RaiseFdLimit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

absl::Status RunInventoryCommand(const std::string& command, const std::string& file,
                                 std::ostream& log) {
  std::string cmd = absl::StrCat(command, " ", ShellQuote(file));
  log << "prov-sim: inventory: " << cmd << "\n";
  int rc = std::system(cmd.c_str());
  if (rc != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("--inventory-command failed (status ", rc, "): ", cmd));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SimSummary> RunSimulation(const SimOptions& options, const v1::Scenario& scenario,
                                         std::ostream& log) {
  RaiseFdLimit();
  PROV_ASSIGN_OR_RETURN(auto credentials, MakeClientCredentials(options.tls, options.insecure));
  std::string spool_root = options.spool_root;
  bool temp_spool = spool_root.empty();
  if (temp_spool) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "prov-sim-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) return absl::InternalError("cannot create a temp dir");
    spool_root = tmpl;
  }
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ec;
      if (!dir.empty()) std::filesystem::remove_all(dir, ec);
    }
  } cleanup{temp_spool ? spool_root : ""};

  Clock& clock = RealClock::Get();
  const size_t n = scenario.nodes_size();
  std::vector<SimAgent> agents(n);
  for (size_t i = 0; i < n; ++i) {
    agent::UplinkOptions uo;
    // Several servers (provd replicas): agent i starts at server i mod n and fails over along
    // the list, so the fleet is spread over the replicas.
    uo.server_address = RotateServerList(options.server, i);
    uo.credentials = credentials;
    uo.spool_dir = absl::StrCat(spool_root, "/", scenario.nodes(i).node_id());
    uo.spool_fsync = options.fsync;
    uo.initial_backoff = options.initial_backoff;
    uo.max_backoff = options.max_backoff;
    PROV_ASSIGN_OR_RETURN(agents[i].uplink, agent::Uplink::Create(std::move(uo), clock));
    agents[i].node_index = i;
  }

  const uint32_t reports = scenario.reports_per_node();
  const double interval = scenario.interval_seconds();
  size_t connected_first = 0;
  absl::Duration connect_took;
  if (options.connect_wait > absl::ZeroDuration()) {
    const absl::Time t = clock.Now();
    connected_first = ConnectFleet(agents, 100, options.connect_wait, clock);
    connect_took = clock.Now() - t;
  }
  const absl::Time real_start = clock.Now();
  absl::Time sim_start = absl::FromUnixSeconds(scenario.start_unix_seconds());
  if (scenario.start_unix_seconds() == 0) {
    sim_start = real_start;
    if (options.time_scale > 1) {
      // Faster than real time: shift the start back so the last report is dated about "now".
      sim_start -= absl::Seconds(reports * interval * (1 - 1 / options.time_scale));
    }
  }
  ReportBuilder builder(scenario, AcceleratorCatalog::Builtin());
  const std::string boot_prefix = absl::StrCat("sim-boot-", absl::ToUnixSeconds(real_start), "-");
  auto sim_offset = [&](size_t i, uint32_t k) { return ReportOffset(interval, i, n, k); };
  if (!options.timeline_out.empty()) {
    // What the scorer needs to date every report: written before the first report is sent.
    std::string timeline = absl::StrFormat(
        "{\"scenario\": \"%s\", \"sim_start_unix_micros\": %d, \"interval_seconds\": %d, "
        "\"nodes\": %d, \"reports_per_node\": %d, \"time_scale\": %g, "
        "\"real_start_unix_micros\": %d, \"report_time\": \"sim_start + k * interval + "
        "node_index * interval / nodes\"}\n",
        absl::CHexEscape(scenario.name()), absl::ToUnixMicros(sim_start),
        scenario.interval_seconds(), n, reports, options.time_scale,
        absl::ToUnixMicros(real_start));
    PROV_RETURN_IF_ERROR(WriteFileAtomically(options.timeline_out, timeline));
  }
  log << "prov-sim: " << n << " agents, " << reports << " reports each, interval " << interval
      << " s, time scale " << options.time_scale << ", server " << options.server << "\n";

  // Real time spent paused for inventory re-imports: the schedule resumes where it stopped.
  absl::Duration paused;
  auto run_slice = [&](size_t lo, size_t hi, uint32_t limit) {
    absl::Time next_ack_check;  // acks are counted every 100 ms (Stats takes the uplink's lock)
    while (true) {
      absl::Time now = clock.Now();
      const bool check_acks = now >= next_ack_check;
      if (check_acks) next_ack_check = now + absl::Milliseconds(100);
      absl::Time next_due = absl::InfiniteFuture();
      bool remaining = false;
      for (size_t i = lo; i < hi; ++i) {
        SimAgent& a = agents[i];
        while (a.next_report < limit) {
          absl::Duration sim = sim_offset(i, a.next_report);
          absl::Time due = real_start + paused + sim / options.time_scale;
          if (due > now) {
            next_due = std::min(next_due, due);
            break;
          }
          if (!builder.plan().Reports(i, a.next_report)) {  // a silent node (hardware event)
            ++a.next_report;
            continue;
          }
          // A stable boot id per node and run: seq restarts at 1 for every run.
          auto report = builder.Build(i, a.next_report, sim_start, sim_start + sim,
                                      boot_prefix + scenario.nodes(i).node_id());
          a.max_behind = std::max(a.max_behind, now - due);
          if (a.uplink->Submit(std::move(report)).ok()) {
            ++a.submitted;
            a.unacked_due.push_back(due);
          } else {
            ++a.submit_errors;
          }
          ++a.next_report;
        }
        if (a.next_report < limit) remaining = true;
        // Without --connect-wait an agent connects when its first report is due, so a big
        // fleet's connections ramp up over one interval instead of all hitting provd at once.
        if (a.next_report > 0) a.uplink->Poll();
        if (check_acks && !a.unacked_due.empty()) a.NoteAcks(now);
      }
      if (!remaining) return;
      absl::Duration wait = std::min(next_due - clock.Now(), absl::Milliseconds(50));
      if (wait > absl::ZeroDuration()) absl::SleepFor(wait);
    }
  };
  // Wait for acks: keep polling (reconnects, resends) until every spool is empty or time is up.
  auto wait_acks = [&]() {
    const absl::Time deadline = clock.Now() + options.wait_acks;
    while (true) {
      bool pending = false;
      const absl::Time now = clock.Now();
      for (auto& a : agents) {
        a.uplink->Poll();
        a.NoteAcks(now);
        if (!a.unacked_due.empty()) pending = true;
      }
      if (!pending || clock.Now() >= deadline) return !pending;
      absl::SleepFor(absl::Milliseconds(20));
    }
  };
  // Phases end at each inventory re-import (prov-sim --inventory-command): every earlier report
  // is sent and acked, the command imports the file, then the next report goes out.
  std::vector<uint32_t> stops;
  if (!options.inventory_command.empty()) {
    PROV_RETURN_IF_ERROR(
        RunInventoryCommand(options.inventory_command, options.inventory_out, log));
    for (uint32_t k : InventoryUpdateReports(scenario)) {
      if (k < reports) stops.push_back(k);
    }
  }
  stops.push_back(reports);
  const size_t threads = std::min<size_t>(std::max(1, options.threads), std::max<size_t>(1, n));
  for (uint32_t stop : stops) {
    std::vector<std::thread> workers;
    for (size_t t = 0; t < threads; ++t) {
      workers.emplace_back(run_slice, n * t / threads, n * (t + 1) / threads, stop);
    }
    for (auto& w : workers) w.join();
    if (stop == reports) break;
    const absl::Time pause_start = clock.Now();
    if (!wait_acks()) {
      return absl::DeadlineExceededError(
          absl::StrCat("reports before the inventory re-import at report ", stop,
                       " not acked within --wait-acks"));
    }
    PROV_RETURN_IF_ERROR(RunInventoryCommand(
        options.inventory_command, InventoryUpdatePath(options.inventory_out, stop), log));
    paused += clock.Now() - pause_start;
  }
  log << "prov-sim: every report submitted after "
      << absl::FormatDuration(absl::Trunc(clock.Now() - real_start, absl::Milliseconds(1)))
      << "; waiting up to " << absl::FormatDuration(options.wait_acks) << " for acks\n";
  wait_acks();

  SimSummary s;
  s.agents = n;
  for (auto& a : agents) {
    agent::UplinkStats st = a.uplink->Stats();
    s.submitted += a.submitted;
    s.submit_errors += a.submit_errors;
    s.rejected += st.rejected_reports;
    s.dropped += st.dropped_reports;
    s.pending += st.spool_depth;
    s.reconnects += st.reconnects;
    s.max_behind = std::max(s.max_behind, a.max_behind);
    s.max_ack_lag = std::max(s.max_ack_lag, a.max_ack_lag);
    uint64_t not_acked =
        st.spool_depth + st.rejected_reports + st.dropped_reports + st.unreadable_reports;
    s.acked += a.submitted > not_acked ? a.submitted - not_acked : 0;
  }
  for (auto& a : agents) a.uplink->Shutdown();
  s.elapsed = clock.Now() - real_start;
  s.connected_first = connected_first;
  s.connect_took = connect_took;
  return s;
}

std::string FormatSummary(const SimSummary& s, const v1::Scenario& scenario,
                          const SimOptions& options) {
  double secs = absl::ToDoubleSeconds(s.elapsed);
  std::string out = absl::StrCat(
      "prov-sim summary\n", "  scenario:     ", scenario.name(), "\n", "  data:         ",
      scenario.provenance_note().empty() ? "from scenario file" : scenario.provenance_note(), "\n");
  absl::StrAppendFormat(&out,
                        "  agents:       %d (interval %d s simulated, time scale %g)\n"
                        "  submitted:    %d\n  acked:        %d\n  rejected:     %d\n"
                        "  dropped:      %d\n  pending:      %d\n  submit errors: %d\n"
                        "  reconnects:   %d\n  elapsed:      %.1f s (%.0f reports/s)\n",
                        s.agents, scenario.interval_seconds(), options.time_scale, s.submitted,
                        s.acked, s.rejected, s.dropped, s.pending, s.submit_errors, s.reconnects,
                        secs, secs > 0 ? s.submitted / secs : 0);
  // A replay that falls behind its schedule compresses some nodes' gaps and stretches others':
  // rules judged on time (hardware_silent) then see artifacts of the replay, not of the fleet.
  const double behind_sim = absl::ToDoubleSeconds(s.max_behind) * options.time_scale;
  absl::StrAppendFormat(
      &out, "  behind:       at most %.1f s after a report was due (%.0f s simulated)%s\n",
      absl::ToDoubleSeconds(s.max_behind), behind_sim,
      behind_sim > scenario.interval_seconds()
          ? ": MORE than one report interval; lower --time-scale"
          : "");
  const double acked_sim = absl::ToDoubleSeconds(s.max_ack_lag) * options.time_scale;
  absl::StrAppendFormat(
      &out, "  acked late:   at most %.1f s after a report was due (%.0f s simulated)%s\n",
      absl::ToDoubleSeconds(s.max_ack_lag), acked_sim,
      acked_sim > 3.0 * scenario.interval_seconds()
          ? ": MORE than three report intervals; silence judged on this replay is not the fleet's"
          : "");
  if (options.connect_wait > absl::ZeroDuration()) {
    absl::StrAppendFormat(&out,
                          "  connected:    %d of %d agents before the first report (%.1f s)\n",
                          s.connected_first, s.agents, absl::ToDoubleSeconds(s.connect_took));
  }
  absl::StrAppend(&out, "  result:       ",
                  s.all_acked() ? "OK: every report was acked" : "FAIL: not every report was acked",
                  "\n");
  return out;
}

}  // namespace prov::sim
