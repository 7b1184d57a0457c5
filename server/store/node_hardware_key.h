// A node's SMBIOS identity as the ingest commit decides about it, engine-free:
// NodeHardwareKey joins the facts that make the identity (two NodeHardware with the same key are
// the same identity), and DecideNodeHardware says what a report's identity does to the stored
// one. The ingest planner compares keys with its write cache (ingest_write_caches.h); an engine
// (node_hardware.h for SQLite) reads the stored row on a cache miss and applies the decision.
//
//   if (caches.node_hardware[node] != NodeHardwareKey(hw)) {          // the planner: a miss
//     NodeHardwareDecision d = DecideNodeHardware(stored, last_seen_us, hw, key, seen_us);
//     if (d.action == NodeHardwareDecision::kWrite) { insert d.changes, upsert hw }
//   }
//
// Pure; safe from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "provenance/v1/report.pb.h"

namespace prov::server {

std::string NodeHardwareKey(const provenance::v1::NodeHardware& hw);

// One node_hardware_changes row: a changed system_uuid or board_serial.
struct NodeHardwareChange {
  absl::string_view field;  // "system_uuid" or "board_serial"
  absl::string_view old_value, new_value;
};

struct NodeHardwareDecision {
  enum Action {
    kNothing,    // the report is older than the node's newest stored report: keep the stored row
    kCacheOnly,  // the stored identity is the reported one: remember its key, write nothing
    kWrite,      // store the reported identity (and `changes`), then remember its key
  };
  Action action = kNothing;
  // kWrite over a stored identity: system_uuid, then board_serial, each when both the stored and
  // the reported value are non-empty and differ. Views into the two NodeHardware.
  std::vector<NodeHardwareChange> changes;
};

// `stored`: the node's stored identity (nullptr: none); node_last_seen_us: the node record's
// last_seen_us before this batch; `reported_key` = NodeHardwareKey(reported).
NodeHardwareDecision DecideNodeHardware(const provenance::v1::NodeHardware* stored,
                                        int64_t node_last_seen_us,
                                        const provenance::v1::NodeHardware& reported,
                                        absl::string_view reported_key, int64_t seen_us);

}  // namespace prov::server
