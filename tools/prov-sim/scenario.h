// Scenario files for prov-sim: load (proto3 JSON, errors name the field), fill defaults, validate.
//
//   PROV_ASSIGN_OR_RETURN(prov::sim::v1::Scenario s, prov::sim::LoadScenarioFile("fleet.json"));
//   PROV_RETURN_IF_ERROR(prov::sim::ValidateScenario(s));   // "nodes[3].datacenter: ..."
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "tools/prov-sim/scenario.pb.h"

namespace prov::sim {

inline constexpr uint32_t kDefaultInterval = 10;
inline constexpr uint32_t kDefaultReportsPerNode = 6;

absl::StatusOr<v1::Scenario> ParseScenario(const std::string& json, const std::string& source);
absl::StatusOr<v1::Scenario> LoadScenarioFile(const std::string& path);
// Fills defaults (interval, reports, hostnames, IPs, confidence) in place.
void FillDefaults(v1::Scenario* scenario);
// Cross-references: datacenters and nodes exist, ids unique, accelerator ranges fit the node.
absl::Status ValidateScenario(const v1::Scenario& scenario);

}  // namespace prov::sim
