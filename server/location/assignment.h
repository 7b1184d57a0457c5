// Which landmark probes what (issue 11): each node that is not revoked, whose id fits the UDP wire
// format (common/location/probe_wire.h: 1..64 of [A-Za-z0-9._:-]), with a known responder address,
// a known public key and a declared site with coordinates is probed by its N nearest landmarks (N =
// assignment.landmarks_per_node, ties by landmark id); every landmark with a UDP address is
// probed by every other landmark (calibration pairs).
//
//   AssignmentTable table = AssignmentTable::Build(config, targets);
//   provenance::v1::Assignment a = table.For(config, "lm-fra-1", now);
//   if (!table.Assigned("lm-fra-1", "gpu-017")) ...;   // a record for it is refused
//
// Pure and immutable after Build; safe to share between threads.
#pragma once

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "provenance/v1/location.pb.h"
#include "server/location/location_config.h"

namespace prov::server::location {

// A node as the verifier knows it: what its reports and the inventory declare, and its key.
struct NodeTarget {
  std::string node_id;
  std::string responder;   // "host:port" (NodeIdentity.location_responder); empty: none
  std::string spki_der;    // its active key (the newest a stream bound); empty: unknown
  std::string datacenter;  // declared: the inventory's, else its reports'
  std::string region;
  // Keys whose answers are accepted now: the active key and those the node had within the grace
  // period (a renewal's previous key, a key the node CA just issued). Build adds spki_der
  // to both lists.
  std::vector<std::string> accepted_keys;
  // Every key provd has seen for the node: an answer signed by one of them is key rotation, not
  // forgery.
  std::vector<std::string> known_keys;
  bool revoked = false;  // revoked (provctl nodes revoke) and no key seen since: never assigned
};

// The landmark ids nearest `site` (great circle), at most `n`, nearest first.
std::vector<std::string> NearestLandmarks(const LocationConfig& config,
                                          prov::location::GeoPoint site, size_t n);

class AssignmentTable {
 public:
  static AssignmentTable Build(const LocationConfig& config, std::vector<NodeTarget> nodes);

  // The landmark's targets now (empty targets for an unknown landmark).
  provenance::v1::Assignment For(const LocationConfig& config, const std::string& landmark_id,
                                 absl::Time now) const;
  // Whether `landmark_id` is assigned node `node_id` (node targets only).
  bool Assigned(const std::string& landmark_id, const std::string& node_id) const;
  // Why a node is not assigned ("" when it is): revoked, an id the wire format cannot carry, no
  // responder, no key, no site coordinates.
  std::string Unassigned(const LocationConfig& config, const std::string& node_id) const;
  const NodeTarget* Node(const std::string& node_id) const;
  const absl::flat_hash_map<std::string, NodeTarget>& nodes() const { return nodes_; }
  size_t assigned_nodes() const { return assigned_nodes_; }

 private:
  absl::flat_hash_map<std::string, NodeTarget> nodes_;
  absl::flat_hash_map<std::string, std::vector<std::string>> by_landmark_;  // -> node ids
  absl::flat_hash_set<std::string> pairs_;                                  // "<landmark>\n<node>"
  size_t assigned_nodes_ = 0;
};

}  // namespace prov::server::location
