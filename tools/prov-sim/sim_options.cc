#include "tools/prov-sim/sim_options.h"

#include <algorithm>
#include <functional>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace prov::sim {

std::string SimUsage() {
  return R"(usage: prov-sim [flags]

Runs many simulated prov-agents in one process against provd; each has its own uplink (real spool,
acks, resend) and its own connection. Prints a summary; exits 0 only if every report was acked.

target:
  --server HOST:PORT[,...]  provd (default localhost:50051); several replicas: agent i starts
                            at the i-th (mod n) and fails over along the list
  --insecure                plain text; or --tls-ca F [--tls-cert F --tls-key F]
fleet (generated unless --scenario):
  --scenario FILE           JSON scenario (tools/prov-sim/scenario.proto)
  --nodes N (10) --datacenters N (2) --accounts N (5) --workloads-per-node N (2) --seed N (1)
  --interval SECONDS (10)   simulated report interval
  --reports-per-node N (6)  or --duration SECONDS (simulated; reports = duration / interval)
  --alibaba-pods FILE       draw job shapes from alibaba_gpu_v2023_pods.csv (../shared/data/traces)
  --dump-scenario           print the scenario as JSON and exit
  --inventory-out FILE      write the fleet's declared inventory (CSV, docs/inventory-format.md)
                            and a re-import FILE-stem.at-K.csv per report K with declared hardware
                            events (tools/prov-sim/README.md)
  --inventory-command CMD   run `CMD FILE` before the first report and, for each re-import,
                            once every report before K is acked (e.g. "provctl ... inventory
                            import"); needs --inventory-out
running:
  --time-scale X (1)        simulated seconds per real second (100: a 10 s interval every 0.1 s)
  --threads N (2)           driver threads (agents are split between them)
  --spool-root DIR          spools live in DIR/<node id> (default: a temp dir, removed at exit)
  --timeline-out FILE       write the resolved simulated start time (JSON) for prov-eval-score
  --fsync                   fsync spool writes (off by default in the simulator)
  --wait-acks SECONDS (60)  after the last report, wait this long for every ack
  --connect-wait SECONDS (10) connect every agent before the first report is due, waiting at
                            most this long (0: each agent connects when its first report is due)
  --backoff-initial-ms N (200) --backoff-max-ms N (5000)
)";
}

absl::StatusOr<SimOptions> ParseSimArgs(const std::vector<std::string>& args) {
  SimOptions o;
  auto u32 = [](uint32_t* out) {
    return [out](const std::string& v) { return absl::SimpleAtoi(v, out); };
  };
  auto positive_double = [](double* out) {
    return [out](const std::string& v) { return absl::SimpleAtod(v, out) && *out > 0; };
  };
  auto str = [](std::string* out) {
    return [out](const std::string& v) {
      *out = v;
      return !v.empty();
    };
  };
  auto millis = [](absl::Duration* out) {
    return [out](const std::string& v) {
      int64_t ms = 0;
      if (!absl::SimpleAtoi(v, &ms) || ms <= 0) return false;
      *out = absl::Milliseconds(ms);
      return true;
    };
  };
  double duration = 0, wait = 60, connect_wait = 10;
  std::map<std::string, std::function<bool(const std::string&)>> valued = {
      {"--server", str(&o.server)},
      {"--tls-ca", str(&o.tls.ca_file)},
      {"--tls-cert", str(&o.tls.cert_file)},
      {"--tls-key", str(&o.tls.key_file)},
      {"--scenario", str(&o.scenario_file)},
      {"--nodes", u32(&o.fleet.nodes)},
      {"--datacenters", u32(&o.fleet.datacenters)},
      {"--accounts", u32(&o.fleet.accounts)},
      {"--workloads-per-node", u32(&o.fleet.workloads_per_node)},
      {"--interval",
       [&o](const std::string& v) {
         return absl::SimpleAtoi(v, &o.fleet.interval_seconds) && o.fleet.interval_seconds >= 1 &&
                o.fleet.interval_seconds <= 3600;
       }},
      {"--reports-per-node",
       [&o](const std::string& v) {
         o.reports_set = true;
         return absl::SimpleAtoi(v, &o.fleet.reports_per_node) && o.fleet.reports_per_node > 0;
       }},
      {"--duration", positive_double(&duration)},
      {"--seed", [&o](const std::string& v) { return absl::SimpleAtoi(v, &o.fleet.seed); }},
      {"--time-scale", positive_double(&o.time_scale)},
      {"--alibaba-pods", str(&o.alibaba_pods)},
      {"--spool-root", str(&o.spool_root)},
      {"--timeline-out", str(&o.timeline_out)},
      {"--inventory-out", str(&o.inventory_out)},
      {"--inventory-command", str(&o.inventory_command)},
      {"--wait-acks",
       [&wait](const std::string& v) { return absl::SimpleAtod(v, &wait) && wait >= 0; }},
      {"--connect-wait",
       [&connect_wait](const std::string& v) {
         return absl::SimpleAtod(v, &connect_wait) && connect_wait >= 0 && connect_wait <= 3600;
       }},
      {"--threads",
       [&o](const std::string& v) {
         return absl::SimpleAtoi(v, &o.threads) && o.threads >= 1 && o.threads <= 64;
       }},
      {"--backoff-initial-ms", millis(&o.initial_backoff)},
      {"--backoff-max-ms", millis(&o.max_backoff)},
  };
  for (size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i], value;
    bool inline_value = false;
    if (size_t eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      inline_value = true;
    }
    if (arg == "--insecure") {
      o.insecure = true;
    } else if (arg == "--fsync") {
      o.fsync = true;
    } else if (arg == "--dump-scenario") {
      o.dump_scenario = true;
    } else if (arg == "-h" || arg == "--help") {
      o.help = true;
    } else if (auto it = valued.find(arg); it != valued.end()) {
      if (!inline_value) {
        if (i + 1 >= args.size()) {
          return absl::InvalidArgumentError(absl::StrCat(arg, " needs a value"));
        }
        value = args[++i];
      }
      if (!it->second(value)) {
        return absl::InvalidArgumentError(absl::StrCat(arg, ": bad value '", value, "'"));
      }
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown argument '", arg, "'"));
    }
  }
  if (duration > 0) {
    if (o.reports_set) {
      return absl::InvalidArgumentError("give --duration or --reports-per-node, not both");
    }
    o.fleet.reports_per_node =
        std::max<uint32_t>(1, static_cast<uint32_t>(duration / o.fleet.interval_seconds));
    o.reports_set = true;
  }
  if (!o.inventory_command.empty() && o.inventory_out.empty()) {
    return absl::InvalidArgumentError("--inventory-command needs --inventory-out");
  }
  if (o.max_backoff < o.initial_backoff) {
    return absl::InvalidArgumentError("--backoff-max-ms must be >= --backoff-initial-ms");
  }
  o.wait_acks = absl::Seconds(wait);
  o.connect_wait = absl::Seconds(connect_wait);
  return o;
}

std::string RotateServerList(const std::string& servers, size_t agent) {
  std::vector<std::string> list = absl::StrSplit(servers, ',');
  if (list.size() < 2) return servers;
  std::rotate(list.begin(), list.begin() + static_cast<std::ptrdiff_t>(agent % list.size()),
              list.end());
  return absl::StrJoin(list, ",");
}

}  // namespace prov::sim
