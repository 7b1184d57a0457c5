// provd's location file (`--location-config FILE`, issue 11): the provider's landmarks (id,
// position, region, Ed25519 public key, UDP address for calibration), the data centres'
// coordinates, and the probing schedule handed to landmarks. Format in server/README.md
// ("Location verification"); the contract is /docs/location.md.
//
//   PROV_ASSIGN_OR_RETURN(LocationConfig config,
//   LoadLocationConfig("/etc/provenance/location.yaml")); const LandmarkConfig* lm =
//   config.Landmark("lm-fra-1");   // null when unknown const SiteConfig* site =
//   config.Site("fra1");              // null when no coordinates
//
// Every error names the file, line, column and field ("location.yaml:7:5: landmarks[1].public_key:
// ..."). Immutable after loading; safe to share between threads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/location/verifier.h"

namespace prov::server::location {

struct LandmarkConfig {
  std::string id;  // 1..64 chars [A-Za-z0-9._-]
  prov::location::GeoPoint position;
  std::string region;
  std::string public_key;   // raw 32-byte Ed25519
  std::string udp_address;  // "host:port"; empty: not probed by other landmarks
};

struct SiteConfig {
  std::string id;  // the datacenter id of the inventory and the reports
  prov::location::GeoPoint position;
  std::string region;
};

struct AssignmentConfig {
  uint32_t landmarks_per_node = 3;
  uint32_t probes_per_burst = 16;
  uint32_t probe_spacing_ms = 20;
  uint32_t round_interval_seconds = 60;
};

struct LocationConfig {
  std::vector<LandmarkConfig> landmarks;  // file order
  std::vector<SiteConfig> datacenters;
  AssignmentConfig assignment;

  const LandmarkConfig* Landmark(absl::string_view id) const;
  const SiteConfig* Site(absl::string_view datacenter) const;
  // Built by the parser (indexes into the vectors above).
  absl::flat_hash_map<std::string, size_t> landmark_index;
  absl::flat_hash_map<std::string, size_t> site_index;
};

// `source` names the text in errors (the file name).
absl::StatusOr<LocationConfig> ParseLocationConfig(absl::string_view yaml,
                                                   absl::string_view source);
absl::StatusOr<LocationConfig> LoadLocationConfig(const std::string& path);

// Whether `id` is a valid landmark id (1..64 of [A-Za-z0-9._-]).
bool ValidLandmarkId(absl::string_view id);

}  // namespace prov::server::location
