#include "server/location/assignment.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/location/probe_wire.h"
#include "common/location/verifier.h"
#include "common/proto_time.h"

namespace prov::server::location {
namespace {

std::string PairKey(absl::string_view landmark, absl::string_view node) {
  return absl::StrCat(landmark, "\n", node);
}

}  // namespace

std::vector<std::string> NearestLandmarks(const LocationConfig& config,
                                          prov::location::GeoPoint site, size_t n) {
  std::vector<std::pair<double, const std::string*>> by_distance;
  by_distance.reserve(config.landmarks.size());
  for (const LandmarkConfig& lm : config.landmarks) {
    by_distance.emplace_back(prov::location::GreatCircleKm(site, lm.position), &lm.id);
  }
  const size_t k = std::min(n, by_distance.size());
  std::partial_sort(by_distance.begin(), by_distance.begin() + static_cast<ptrdiff_t>(k),
                    by_distance.end(), [](const auto& a, const auto& b) {
                      return a.first != b.first ? a.first < b.first : *a.second < *b.second;
                    });
  std::vector<std::string> out;
  for (size_t i = 0; i < k; ++i) out.push_back(*by_distance[i].second);
  return out;
}

AssignmentTable AssignmentTable::Build(const LocationConfig& config,
                                       std::vector<NodeTarget> nodes) {
  AssignmentTable t;
  for (NodeTarget& node : nodes) {
    std::string id = node.node_id;
    for (auto* keys : {&node.accepted_keys, &node.known_keys}) {
      if (!node.spki_der.empty() &&
          std::find(keys->begin(), keys->end(), node.spki_der) == keys->end()) {
        keys->push_back(node.spki_der);
      }
    }
    const SiteConfig* site = config.Site(node.datacenter);
    if (!node.revoked && prov::location::ValidateWireId(id, "node id").ok() &&
        !node.responder.empty() && !node.spki_der.empty() && site != nullptr) {
      for (const std::string& lm :
           NearestLandmarks(config, site->position, config.assignment.landmarks_per_node)) {
        t.by_landmark_[lm].push_back(id);
        t.pairs_.insert(PairKey(lm, id));
      }
      ++t.assigned_nodes_;
    }
    t.nodes_[id] = std::move(node);
  }
  for (auto& [lm, ids] : t.by_landmark_) std::sort(ids.begin(), ids.end());
  return t;
}

provenance::v1::Assignment AssignmentTable::For(const LocationConfig& config,
                                                const std::string& landmark_id,
                                                absl::Time now) const {
  provenance::v1::Assignment a;
  a.set_landmark_id(landmark_id);
  a.set_probes_per_burst(config.assignment.probes_per_burst);
  a.set_probe_spacing_ms(config.assignment.probe_spacing_ms);
  a.set_round_interval_seconds(config.assignment.round_interval_seconds);
  SetProtoTime(now, a.mutable_issued_at());
  if (config.Landmark(landmark_id) == nullptr) return a;
  auto it = by_landmark_.find(landmark_id);
  if (it != by_landmark_.end()) {
    for (const std::string& id : it->second) {
      const NodeTarget& node = nodes_.at(id);
      auto* target = a.add_targets();
      target->set_kind(provenance::v1::PROBE_TARGET_KIND_NODE);
      target->set_target_id(id);
      target->set_udp_address(node.responder);
      target->set_public_key(node.spki_der);
    }
  }
  for (const LandmarkConfig& other : config.landmarks) {
    if (other.id == landmark_id || other.udp_address.empty()) continue;
    auto* target = a.add_targets();
    target->set_kind(provenance::v1::PROBE_TARGET_KIND_LANDMARK);
    target->set_target_id(other.id);
    target->set_udp_address(other.udp_address);
    target->set_public_key(other.public_key);
  }
  return a;
}

bool AssignmentTable::Assigned(const std::string& landmark_id, const std::string& node_id) const {
  return pairs_.contains(PairKey(landmark_id, node_id));
}

std::string AssignmentTable::Unassigned(const LocationConfig& config,
                                        const std::string& node_id) const {
  const NodeTarget* node = Node(node_id);
  if (node == nullptr) return "provd knows no such node";
  if (node->revoked) return "node revoked (provctl nodes revocations): its records are refused";
  if (absl::Status s = prov::location::ValidateWireId(node_id, "node id"); !s.ok()) {
    return absl::StrCat("the node id cannot be carried in a probe datagram (", s.message(), ")");
  }
  if (node->responder.empty()) {
    return "no responder advertised (the node's agent runs no location responder)";
  }
  if (node->spki_der.empty()) {
    return "provd knows no public key for the node (no client-certificate stream bound yet)";
  }
  if (node->datacenter.empty()) return "the node declares no datacenter";
  if (config.Site(node->datacenter) == nullptr) {
    return absl::StrCat("datacenter ", node->datacenter,
                        " has no coordinates in the location file");
  }
  return "";
}

const NodeTarget* AssignmentTable::Node(const std::string& node_id) const {
  auto it = nodes_.find(node_id);
  return it == nodes_.end() ? nullptr : &it->second;
}

}  // namespace prov::server::location
