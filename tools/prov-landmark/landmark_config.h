// prov-landmark's configuration file (YAML, --config FILE). Example and field reference:
// tools/prov-landmark/README.md.
//
//   PROV_ASSIGN_OR_RETURN(LandmarkConfig config, LoadLandmarkConfig("/etc/prov-landmark.yaml"));
//
// Unknown keys are errors (a typo must not silently leave TLS off); errors name the key.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace prov::landmark {

struct LandmarkConfig {
  std::string id;          // 1..64 chars [A-Za-z0-9._-], as in provd's location config
  std::string key_file;    // "ed25519-seed <hex>" (common/integrity/ed25519.h), 0600
  std::string state_file;  // landmark_seq; default: key_file + ".state"
  std::string udp_listen;  // own responder for other landmarks' probes; empty: none
  std::string probe_bind = "0.0.0.0:0";  // the prober's socket
  std::string landmark_keys_file;        // extra landmarks whose probes are answered (optional)
  absl::Duration answer_timeout = absl::Seconds(1);  // an answer later than this is "late"
  // provd
  std::string provd_address;
  std::string tls_ca, tls_cert, tls_key;
  std::string token_file;  // optional bearer token
  bool insecure = false;   // plain-text gRPC (tests only; explicit)
};

absl::StatusOr<LandmarkConfig> ParseLandmarkConfig(absl::string_view yaml);
absl::StatusOr<LandmarkConfig> LoadLandmarkConfig(const std::string& path);

}  // namespace prov::landmark
