// prov-sim's command line (parsed without I/O so it can be unit tested). Run `prov-sim --help`.
//
//   absl::StatusOr<prov::sim::SimOptions> o = prov::sim::ParseSimArgs(args);
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/grpc/tls.h"
#include "tools/prov-sim/generator.h"

namespace prov::sim {

struct SimOptions {
  std::string server = "localhost:50051";
  bool insecure = false;
  TlsFiles tls;
  std::string scenario_file;  // empty: generated fleet
  FleetOptions fleet;
  bool reports_set = false;  // --reports-per-node or --duration given
  double time_scale = 1.0;   // simulated seconds per real second
  std::string alibaba_pods;  // trace file, optional
  std::string spool_root;    // empty: a temporary directory, removed at exit
  bool fsync = false;
  absl::Duration wait_acks = absl::Seconds(60);
  // Before the schedule starts, connect every agent (in ramps) for at most this long; zero: each
  // agent connects when its first report is due (sim_driver.h).
  absl::Duration connect_wait = absl::Seconds(10);
  int threads = 2;
  absl::Duration initial_backoff = absl::Milliseconds(200);
  absl::Duration max_backoff = absl::Seconds(5);
  std::string timeline_out;  // write the resolved simulated start time here (JSON)
  // Declared inventory (inventory.h): written here (and re-import files beside it) before the
  // first report; with inventory_command, run as `<command> <file>` before report 0 and before
  // each re-import's report, once every earlier report is acked.
  std::string inventory_out;
  std::string inventory_command;
  bool dump_scenario = false;  // print the scenario as JSON and exit
  bool help = false;
};

absl::StatusOr<SimOptions> ParseSimArgs(const std::vector<std::string>& args);
std::string SimUsage();

// The comma-separated server list `servers` rotated left by `agent` (mod its length), so that
// agent i starts at server i mod n: "a,b,c" for agent 1 is "b,c,a". One server: unchanged.
std::string RotateServerList(const std::string& servers, size_t agent);

}  // namespace prov::sim
