// SimDriver: runs the simulated agents of a Scenario against provd.
//
//   PROV_ASSIGN_OR_RETURN(SimSummary summary, RunSimulation(options, scenario, std::cerr));
//   std::cout << FormatSummary(summary, scenario);
//
// One Uplink per simulated node (real spool under --spool-root/<node id>, its own channel and
// connection). options.threads driver threads each own a slice of the agents and loop: submit
// the reports that are due (report k of node i is due at real time
// start + (k * interval + offset_i) / time_scale, offset_i spreading nodes over one interval),
// then Poll every uplink, then sleep until the next due report or 50 ms, whichever is first. No
// thread per agent: gRPC's callback threads run the streams. Before the schedule starts every
// agent connects, 100 at a time, for at most --connect-wait: a replay at time scale X would
// otherwise turn each real second of connection setup into X simulated seconds of silence.
// Simulated time: collected_at advances by the simulated interval per report; runs faster than
// real time end at about "now", so reports are never dated in the future.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tools/prov-sim/scenario.pb.h"
#include "tools/prov-sim/sim_options.h"

namespace prov::sim {

struct SimSummary {
  uint64_t agents = 0;
  uint64_t submitted = 0;
  uint64_t acked = 0;
  uint64_t rejected = 0;
  uint64_t dropped = 0;
  uint64_t pending = 0;  // still unacked when --wait-acks ran out
  uint64_t submit_errors = 0;
  uint64_t reconnects = 0;
  absl::Duration elapsed;
  absl::Duration max_behind;     // the most any report was submitted after its due time (real)
  absl::Duration max_ack_lag;    // the most any report was acked after its due time (real, ~100 ms)
  uint64_t connected_first = 0;  // agents connected before the first report was due
  absl::Duration connect_took;
  bool all_acked() const {
    return submit_errors == 0 && rejected == 0 && dropped == 0 && pending == 0 &&
           acked == submitted;
  }
};

absl::StatusOr<SimSummary> RunSimulation(const SimOptions& options, const v1::Scenario& scenario,
                                         std::ostream& log);
std::string FormatSummary(const SimSummary& summary, const v1::Scenario& scenario,
                          const SimOptions& options);

}  // namespace prov::sim
