// Elapsed-time credit: how many seconds of compute one stored report is worth, from the time that
// actually passed rather than the report's own interval_seconds claim (issue 14).
//
//   StreamCredit stream = ...;                 // the (node, boot)'s stored state; {} for a new
//   boot CreditInput in{.collected_us = ..., .received_us = ToUnixMicros(clock.Now()),
//                  .interval_seconds = report.interval_seconds(),
//                  .node_credited_until_us = max over the node's boots, .live = ...};
//   Credit c = CreditReport(stream, in, CreditOptions{});
//   c.elapsed_seconds;    // credit this much; c.gap_seconds > 0: an evidence gap inside it
//   stream = c.next;      // what to store for the (node, boot)
//   ApplyCredit(c, continued, &usage[i]);   // rescale ComputeUsage's per-claim numbers
//
// The rule. Each (node, boot) has a credit horizon H on provd's clock: the instant up to which its
// reports have been credited. A report collected at c (the report's own timestamp) and received
// at r (provd's clock at commit) ends its credited span at
//     end = clamp(c, H, r)          a node cannot get more time than provd's clock saw pass, nor
//                                   credit the same time twice;
//     end = max(end, r - max_report_lag)   (the node's live boot only) nor hide time provd saw
//                                   pass by sending timestamps that trail further and further;
// and is credited end - H. So live reports (c ~ r) are credited their spacing; reports replayed
// from the agent's spool after an outage carry their own timestamps, spaced by the true interval,
// and are credited that spacing although they all arrive at once (they are at most max_report_lag
// old; beyond that the older part is credited in one piece to the first replayed report, as a
// gap); a burst of fabricated timestamps spaced by hours gets no more than the r - H that
// provd's clock allows overall. The claimed interval only decides what is an evidence gap: a
// credited span longer than gap_intervals x interval_seconds has interval_seconds of observation
// and the rest is a gap, estimated by ApplyCredit.
//
// First report of a boot: H starts at the node's horizon (the furthest any of its boots was
// credited), so a reboot's silence becomes a gap and a fresh boot id earns nothing provd's clock
// has already credited; that boot is then the node's newest. For a node never seen, the first
// report is credited its claimed interval (<= 3600 s by validation), ending no earlier than
// r - max_report_lag. An older boot (its spool replayed after a newer boot started) is credited
// by its own timestamps but never past the newest boot's start, so one node's boots never
// share time, however their reports interleave; a boot whose first report provd sees is older
// than the node's horizon is such an older boot (credited nothing for time already credited).
// The horizon is one instant per boot, not a set of spans: an old boot first heard of after a
// newer one gets no credit even for spans nobody was credited (the agent resends its spool in
// order, oldest boot first, so this does not happen with prov-agent).
//
// Pure: no I/O, no clock (times are passed in). Safe from any thread.
#pragma once

#include <cstdint>

#include "absl/time/time.h"
#include "server/ledger/usage.h"

namespace prov::server {

inline constexpr char kMethodEvidenceGap[] = "evidence_gap";

struct CreditOptions {
  // How far a report's timestamp may trail provd's clock before provd credits the time anyway.
  absl::Duration max_report_lag = absl::Hours(1);
  // A credited span longer than this many claimed intervals holds an evidence gap.
  double gap_intervals = 3;
  // Replays of synthetic or recorded timelines at accelerated time (prov-sim --time-scale,
  // tools/eval) only: take each report's timestamp as provd's clock, so spans follow the report
  // timestamps alone (gaps, boots and horizons as above). Never for real agents: it is exactly
  // the trust issue 14 removed. provd --ledger-clock=report.
  bool report_clock = false;
};

// Per (node, boot), as stored in node_streams.
struct StreamCredit {
  int64_t credited_until_us = 0;  // H; 0: no report of this boot credited yet
  int64_t last_collected_us = 0;  // collected_at of the newest credited report
  int64_t first_credit_us = 0;    // where this boot's first credited span started
};

struct CreditInput {
  int64_t collected_us = 0;  // the report's collected_at
  int64_t received_us = 0;   // provd's clock at commit
  uint32_t interval_seconds = 0;
  int64_t node_credited_until_us = 0;  // max credited_until over the node's boots; 0: none
  int64_t node_newest_boot_us = 0;     // max first_credit over the node's boots
};

struct Credit {
  int64_t start_us = 0;  // credited span on provd's clock: (start, end]
  int64_t end_us = 0;
  double elapsed_seconds = 0;   // end - start
  double observed_seconds = 0;  // covered by the report's own samples (elapsed when no gap)
  double gap_seconds = 0;       // elapsed - observed, > 0 only for an evidence gap
  bool clock_bound = false;     // the report's timestamp was ahead of what provd's clock allows
  bool lag_floor = false;       // it trailed provd's clock by more than max_report_lag
  StreamCredit next;            // the stream's state after this report
};

Credit CreditReport(const StreamCredit& stream, const CreditInput& in,
                    const CreditOptions& options);

// Rescales one workload's usage, computed by ComputeUsage for interval_seconds, to the credit.
// `continued`: the workload was in the node's previous report, so it ran through a gap (its
// accelerator-seconds and low FLOP bound cover the gap at this report's rates); otherwise they
// cover the observed part only. The high bound always covers the whole credited span, and a gap
// adds kMethodEvidenceGap to the method. usage->gap_seconds gets the gap's accelerator-seconds.
void ApplyCredit(const Credit& credit, uint32_t interval_seconds, bool continued,
                 WorkloadUsage* usage);

}  // namespace prov::server
