// NodeEvent: what provd learns about a node outside its stored reports, for the analysis engine's
// node rules. The ingest writer sends one per node after each round of rejections it records (the
// node's rejection record as the store holds it after the round).
//
//   writer_options.on_node_events = [engine](std::vector<NodeEvent> events) {
//     engine->OnNodeEvents(std::move(events));
//   };
//   // the engine thread: analyzer.ObserveNodeEvent(event) ... analyzer.Evaluate(now)
//
// Times are provd's clock: a node's own clock says nothing about when provd refused it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace prov::server {

struct NodeEvent {
  enum class Kind {
    // Reports of the node were refused (a frame that did not parse, a report the validator or the
    // store refused). `rejecting_since` is the start of the node's current spell, InfinitePast()
    // when a report of it was stored after the newest rejection.
    kRejections,
    // Agent streams whose client certificate names `node_id` sent reports of another node
    // (`detail`: the claimed node id) and were refused (issue 10 §1): `count` streams in this
    // round, the first at `since`, the newest at `time`.
    kIdentityMismatch,
    // Location verification (issue 11, server/location/): the node's verdict changed
    // (`detail`: "verified", "unverified" or "contradicted"; `location` says why).
    kLocationVerdict,
    // A landmark record whose node answer does not verify against the node's key, or a landmark
    // that received invalid answers for the node (`detail`: the landmark id, `location.sentences`
    // the record).
    kLocationForged,
  };
  Kind kind = Kind::kRejections;
  std::string node_id;
  absl::Time time;                          // the newest fact (kRejections: the newest rejection)
  int64_t count = 0;                        // kRejections: reports refused in this round
  int64_t total = 0;                        // kRejections: all the node's refused reports so far
  absl::Time since = absl::InfinitePast();  // kRejections: rejecting_since
  std::string detail;  // kRejections: the newest reason; kIdentityMismatch: the claimed node
  // kLocationVerdict / kLocationForged: what a person reads in the flag.
  struct Location {
    std::string datacenter;
    bool proof_required = false;
    std::string summary;                 // one sentence: the verdict and why
    std::vector<std::string> sentences;  // per landmark: RTT, radius, distance to the site
    std::vector<std::string> landmarks;  // contradicted: the landmarks whose disks exclude it
    std::string needed_landmark;         // unverified: the landmark that would prove it
  } location;
};

}  // namespace prov::server
