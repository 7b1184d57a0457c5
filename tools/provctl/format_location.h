// provctl's output for node location (LocationService, location.proto; docs/location.md) and for
// the offline re-derivation of exported verdicts (common/location/export_location_check.h).
//
//   std::cout << NodeLocationText(node_location);          // provctl location show NODE
//   std::cout << NodeLocationsTable(list_response);        // provctl location list
//   std::cout << LandmarksText(landmarks_response);        // provctl location landmarks
//   std::cout << LocationCheckText(dir, check);            // provctl location verify DIR
//   std::cout << LocationCheckJson(check);                 // ... -o json
//
// Distances in km (one decimal below 10 km: "1.7", "478"), RTTs in ms with three decimals, speeds
// in km per ms one way. Pure functions (unit tested).
#pragma once

#include <string>

#include "common/location/export_location_check.h"
#include "provenance/v1/location.pb.h"

namespace prov::provctl {

// "verified", "unverified", "contradicted", "-".
std::string LocationVerdictName(provenance::v1::LocationVerdict v);
std::string NodeLocationText(const provenance::v1::NodeLocation& n);
std::string NodeLocationsTable(const provenance::v1::ListNodeLocationsResponse& r);
std::string LandmarksText(const provenance::v1::ListLandmarksResponse& r);
// The export's own problems and notes, one row per node (exported vs re-derived), each problem
// on its own "PROBLEM <node>: ..." line, then one verdict line.
std::string LocationCheckText(const std::string& dir, const location::LocationExportCheck& c);
// One JSON object: {"ok", "export_problems", "notes", "problems", "nodes": [...]}.
std::string LocationCheckJson(const location::LocationExportCheck& c);

}  // namespace prov::provctl
