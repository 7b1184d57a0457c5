// prov-ingest-bench: one load generator, run against the no-op sink and then provd in the same
// invocation, printing reports/s, ack latency, CPU and RSS for each and the provd/sink ratios.
// See tools/bench/README.md for the figures, the targets and the last measured numbers.
//
//   prov-ingest-bench --mode saturation --agents 1000 --seconds 60
//   prov-ingest-bench --mode cadence --agents 10000 --interval 10s --seconds 90 --json-out r.json
//   prov-ingest-bench --targets sink ...          # before provd exists
//
// The targets are started as child processes from the directory holding this binary (bin/), on
// 127.0.0.1 port 0, provd with a fresh temporary --data-dir and --insecure. It prints figures and
// never judges them: the exit status is non-zero only when a run could not be carried out.
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/fs.h"
#include "common/status_macros.h"
#include "tools/bench/bench_flags.h"
#include "tools/bench/bench_output.h"
#include "tools/bench/child_process.h"
#include "tools/bench/loadgen.h"

ABSL_FLAG(std::string, mode, "saturation", "saturation | cadence");
ABSL_FLAG(int, agents, 1000, "simulated agents, each on its own connection");
ABSL_FLAG(int, seconds, 60, "measured seconds (saturation) or sending seconds (cadence)");
ABSL_FLAG(absl::Duration, interval, absl::Seconds(10), "cadence: report interval per agent");
ABSL_FLAG(int, window, 8, "unacknowledged reports allowed per agent");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(3), "saturation: unmeasured warmup");
ABSL_FLAG(absl::Duration, drain, absl::Seconds(15), "cadence: wait for the last acks");
ABSL_FLAG(absl::Duration, connect_timeout, absl::Seconds(120), "all agents connected by then");
ABSL_FLAG(std::string, targets, "sink,provd", "comma-separated targets, in run order");
ABSL_FLAG(std::string, bin_dir, "", "where prov-noop-sink and provd are (default: own dir)");
ABSL_FLAG(std::vector<std::string>, provd_args, {},
          "extra provd arguments, comma-separated (e.g. --provd_args=--batch-max=2000)");
ABSL_FLAG(std::string, json_out, "", "also write the figures as JSON here");
ABSL_FLAG(bool, keep_data, false, "keep the temporary directory (logs, provd data)");

namespace prov::bench {
namespace {

std::string OwnDirectory() {
  std::error_code ec;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? "." : self.parent_path().string();
}

// Raises the soft RLIMIT_NOFILE to the hard limit; error when that is too low for `needed`.
absl::Status RaiseFileLimit(rlim_t needed) {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return absl::InternalError("getrlimit(RLIMIT_NOFILE)");
  lim.rlim_cur = lim.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &lim) != 0) return absl::InternalError("setrlimit(RLIMIT_NOFILE)");
  if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < needed) {
    return absl::ResourceExhaustedError(
        absl::StrCat("open-file hard limit ", lim.rlim_cur, " is below the ", needed,
                     " this run needs (one socket per agent, in this process and in the target): "
                     "raise `ulimit -Hn`"));
  }
  return absl::OkStatus();
}

std::string LastLines(const std::string& path, int lines) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) return "(unreadable)";
  std::vector<absl::string_view> all = absl::StrSplit(*text, '\n', absl::SkipEmpty());
  const size_t from = all.size() > static_cast<size_t>(lines) ? all.size() - lines : 0;
  return absl::StrJoin(all.begin() + from, all.end(), " | ");
}

absl::StatusOr<LoadResult> RunTarget(const std::string& name, int run_index,
                                     const std::string& bin_dir, const std::string& work_dir,
                                     const LoadOptions& options) {
  const std::string run_name = absl::StrCat(run_index, "-", name);  // unique per run
  const std::string port_file = JoinPath(work_dir, run_name + ".port");
  std::vector<std::string> args = {"--listen", "127.0.0.1:0", "--port-file", port_file};
  std::string binary;
  if (name == "sink") {
    binary = JoinPath(bin_dir, "prov-noop-sink");
  } else if (name == "provd") {
    binary = JoinPath(bin_dir, "provd");
    const std::string data_dir = JoinPath(work_dir, run_name + "-data");
    PROV_RETURN_IF_ERROR(CreateDirectories(data_dir));
    args.insert(args.end(),
                {"--data-dir", data_dir, "--insecure", "--metrics-listen", "127.0.0.1:0"});
    for (const std::string& a : absl::GetFlag(FLAGS_provd_args)) args.push_back(a);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--targets: unknown target \"", name, "\" (expected sink or provd)"));
  }
  const std::string log = JoinPath(work_dir, run_name + ".log");
  std::fprintf(stderr, "prov-ingest-bench: starting %s (log %s)\n", binary.c_str(), log.c_str());
  PROV_ASSIGN_OR_RETURN(std::unique_ptr<ChildProcess> child,
                        ChildProcess::Start(binary, args, log));
  PROV_ASSIGN_OR_RETURN(int port, WaitForPortFile(port_file, absl::Seconds(30), *child));
  absl::StatusOr<LoadResult> result =
      RunLoad(absl::StrCat("127.0.0.1:", port), child->pid(), options);
  absl::Status stopped = child->Stop(absl::Seconds(30));
  if (!stopped.ok()) {
    std::fprintf(stderr, "prov-ingest-bench: %s\n", stopped.ToString().c_str());
    // A target that died mid-run makes every later figure meaningless: say so, not "no VmRSS".
    const std::string tail = LastLines(log, 3);
    return absl::InternalError(absl::StrCat(stopped.message(), "; log ", log, " ends: ", tail));
  }
  return result;
}

int Main() {
  LoadOptions o;
  const std::string mode = absl::GetFlag(FLAGS_mode);
  if (mode == "saturation") {
    o.mode = LoadMode::kSaturation;
  } else if (mode == "cadence") {
    o.mode = LoadMode::kCadence;
  } else {
    std::fprintf(stderr, "--mode: \"%s\" is neither saturation nor cadence\n", mode.c_str());
    return 2;
  }
  o.agents = absl::GetFlag(FLAGS_agents);
  o.duration = absl::Seconds(absl::GetFlag(FLAGS_seconds));
  o.interval = absl::GetFlag(FLAGS_interval);
  o.window = absl::GetFlag(FLAGS_window);
  o.warmup = absl::GetFlag(FLAGS_warmup);
  o.drain_timeout = absl::GetFlag(FLAGS_drain);
  o.connect_timeout = absl::GetFlag(FLAGS_connect_timeout);
  if (o.agents < 1 || o.window < 1 || o.duration <= absl::ZeroDuration() ||
      o.interval <= absl::ZeroDuration()) {
    std::fprintf(stderr, "--agents, --window, --seconds and --interval must be positive\n");
    return 2;
  }
  if (absl::Status s = RaiseFileLimit(static_cast<rlim_t>(o.agents) + 256); !s.ok()) {
    std::fprintf(stderr, "prov-ingest-bench: %s\n", s.ToString().c_str());
    return 2;
  }
  std::string bin_dir = absl::GetFlag(FLAGS_bin_dir);
  if (bin_dir.empty()) bin_dir = OwnDirectory();
  std::string work_dir = (std::filesystem::temp_directory_path() / "prov-bench-XXXXXX").string();
  if (mkdtemp(work_dir.data()) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }

  std::vector<TargetRun> runs;
  for (absl::string_view name : absl::StrSplit(absl::GetFlag(FLAGS_targets), ',')) {
    std::fprintf(stderr, "prov-ingest-bench: target %s\n", std::string(name).c_str());
    const int index = static_cast<int>(runs.size());
    runs.push_back({std::string(name), RunTarget(std::string(name), index, bin_dir, work_dir, o)});
    if (!runs.back().result.ok()) {
      std::fprintf(stderr, "prov-ingest-bench: %s: %s\n", std::string(name).c_str(),
                   runs.back().result.status().ToString().c_str());
    }
  }
  std::fputs(FormatTable(runs, o).c_str(), stdout);
  const std::string json_out = absl::GetFlag(FLAGS_json_out);
  if (!json_out.empty()) {
    if (absl::Status s = WriteFileAtomically(json_out, FormatJson(runs, o)); !s.ok()) {
      std::fprintf(stderr, "--json-out: %s\n", s.ToString().c_str());
      return 1;
    }
  }
  bool failed = false;
  for (const TargetRun& run : runs) failed = failed || !run.result.ok();
  if (absl::GetFlag(FLAGS_keep_data) || failed) {
    // A failed run keeps its logs: the target's own message is the first thing to read.
    std::fprintf(stderr, "prov-ingest-bench: kept %s (logs, provd data)\n", work_dir.c_str());
  } else {
    std::error_code ec;
    std::filesystem::remove_all(work_dir, ec);
  }
  for (const TargetRun& run : runs) {
    if (!run.result.ok()) return 1;
  }
  return 0;
}

}  // namespace
}  // namespace prov::bench

int main(int argc, char** argv) {
  prov::bench::ParseBenchFlags(argc, argv);
  return prov::bench::Main();
}
