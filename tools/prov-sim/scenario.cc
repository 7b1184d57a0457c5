#include "tools/prov-sim/scenario.h"

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/fs.h"
#include "common/proto_json.h"
#include "common/status_macros.h"
#include "tools/prov-sim/hardware_plan.h"

namespace prov::sim {

absl::StatusOr<v1::Scenario> ParseScenario(const std::string& json, const std::string& source) {
  v1::Scenario scenario;
  absl::Status s = FromJson(json, &scenario);
  if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat(source, ": ", s.message()));
  FillDefaults(&scenario);
  s = ValidateScenario(scenario);
  if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat(source, ": ", s.message()));
  return scenario;
}

absl::StatusOr<v1::Scenario> LoadScenarioFile(const std::string& path) {
  // A scenario of thousands of nodes with duty cycles runs to hundreds of MiB of JSON; a larger
  // file is refused with an error naming the limit rather than cut short.
  auto text = ReadFileToString(path, size_t{2} << 30);
  if (!text.ok()) {
    return absl::Status(text.status().code(),
                        absl::StrCat("--scenario ", path, ": ", text.status().message()));
  }
  return ParseScenario(*text, path);
}

void FillDefaults(v1::Scenario* scenario) {
  if (scenario->interval_seconds() == 0) scenario->set_interval_seconds(kDefaultInterval);
  if (scenario->reports_per_node() == 0) scenario->set_reports_per_node(kDefaultReportsPerNode);
  int i = 1;  // 10.100.0.1, 10.100.0.2, ...
  for (auto& node : *scenario->mutable_nodes()) {
    if (node.hostname().empty()) node.set_hostname(node.node_id());
    if (node.ip_address().empty()) {
      node.set_ip_address(
          absl::StrCat("10.", 100 + (i >> 16) % 100, ".", (i >> 8) & 255, ".", i & 255));
    }
    ++i;
  }
  for (auto& w : *scenario->mutable_workloads()) {
    if (w.class_confidence() == 0 && w.workload_class() != provenance::v1::WORKLOAD_CLASS_UNKNOWN) {
      w.set_class_confidence(0.8);
    }
    if (w.origin().empty()) w.set_origin("synthetic");
  }
}

absl::Status ValidateScenario(const v1::Scenario& scenario) {
  auto bad = [](const std::string& field, const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
  };
  if (scenario.interval_seconds() < 1 || scenario.interval_seconds() > 3600) {
    return bad("interval_seconds", "must be 1..3600");
  }
  absl::flat_hash_set<std::string> datacenters;
  for (int i = 0; i < scenario.datacenters_size(); ++i) {
    const auto& dc = scenario.datacenters(i);
    std::string field = absl::StrCat("datacenters[", i, "].name");
    if (dc.name().empty()) return bad(field, "is empty");
    if (!datacenters.insert(dc.name()).second) return bad(field, "duplicate '" + dc.name() + "'");
  }
  absl::flat_hash_map<std::string, uint32_t> nodes;  // node_id -> accelerator count
  for (int i = 0; i < scenario.nodes_size(); ++i) {
    const auto& n = scenario.nodes(i);
    std::string prefix = absl::StrCat("nodes[", i, "]");
    if (n.node_id().empty()) return bad(prefix + ".node_id", "is empty");
    if (!nodes.emplace(n.node_id(), n.accelerator_count()).second) {
      return bad(prefix + ".node_id", "duplicate '" + n.node_id() + "'");
    }
    if (!datacenters.contains(n.datacenter())) {
      return bad(prefix + ".datacenter", "unknown datacenter '" + n.datacenter() + "'");
    }
    if (n.accelerator_count() > 64) return bad(prefix + ".accelerator_count", "must be 0..64");
  }
  if (nodes.empty()) return bad("nodes", "the scenario has no nodes");
  absl::flat_hash_set<std::string> workload_keys;
  for (int i = 0; i < scenario.workloads_size(); ++i) {
    const auto& w = scenario.workloads(i);
    std::string prefix = absl::StrCat("workloads[", i, "]");
    if (w.workload_id().empty()) return bad(prefix + ".workload_id", "is empty");
    auto node = nodes.find(w.node_id());
    if (node == nodes.end()) return bad(prefix + ".node_id", "unknown node '" + w.node_id() + "'");
    if (!workload_keys.insert(w.node_id() + "\n" + w.workload_id()).second) {
      return bad(prefix + ".workload_id", "duplicate '" + w.workload_id() + "' on its node");
    }
    if (w.accelerator_count() == 0 ||
        uint64_t{w.first_accelerator()} + w.accelerator_count() > node->second) {
      return bad(prefix + ".accelerator_count",
                 absl::StrCat("accelerators [", w.first_accelerator(), ", ",
                              w.first_accelerator() + w.accelerator_count(), ") do not fit node '",
                              w.node_id(), "' with ", node->second));
    }
    if (w.utilization_pct() < 0 || w.utilization_pct() > 100) {
      return bad(prefix + ".utilization_pct", "must be 0..100");
    }
    for (int v = 0; v < w.utilization_series_size(); ++v) {
      if (!(w.utilization_series(v) >= 0 && w.utilization_series(v) <= 100)) {
        return bad(absl::StrCat(prefix, ".utilization_series[", v, "]"), "must be 0..100");
      }
    }
    if (w.tensor_activity() > 1) return bad(prefix + ".tensor_activity", "must be <= 1");
    if (w.class_confidence() < 0 || w.class_confidence() > 1) {
      return bad(prefix + ".class_confidence", "must be 0..1");
    }
  }
  return ValidateHardwareEvents(scenario);
}

}  // namespace prov::sim
