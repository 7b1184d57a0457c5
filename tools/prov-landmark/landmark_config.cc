#include "tools/prov-landmark/landmark_config.h"

#include <yaml-cpp/yaml.h>

#include <set>

#include "absl/strings/str_cat.h"
#include "common/fs.h"
#include "common/location/probe_wire.h"
#include "common/location/udp_socket.h"

namespace prov::landmark {
namespace {

absl::Status Bad(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("landmark config: ", what));
}

absl::Status Scalar(const YAML::Node& node, absl::string_view key, std::string* out) {
  if (!node.IsScalar()) return Bad(absl::StrCat("'", key, "' must be a string"));
  *out = node.as<std::string>();
  return absl::OkStatus();
}

absl::Status ParseProvd(const YAML::Node& provd, LandmarkConfig* c) {
  if (!provd.IsMap()) return Bad("'provd' must be a map");
  for (const auto& kv : provd) {
    const std::string key = kv.first.as<std::string>();
    absl::Status s;
    if (key == "address") {
      s = Scalar(kv.second, "provd.address", &c->provd_address);
    } else if (key == "tls_ca") {
      s = Scalar(kv.second, "provd.tls_ca", &c->tls_ca);
    } else if (key == "tls_cert") {
      s = Scalar(kv.second, "provd.tls_cert", &c->tls_cert);
    } else if (key == "tls_key") {
      s = Scalar(kv.second, "provd.tls_key", &c->tls_key);
    } else if (key == "token_file") {
      s = Scalar(kv.second, "provd.token_file", &c->token_file);
    } else if (key == "insecure") {
      if (!kv.second.IsScalar()) return Bad("'provd.insecure' must be true or false");
      c->insecure = kv.second.as<bool>();
    } else {
      return Bad(absl::StrCat("unknown key 'provd.", key, "'"));
    }
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<LandmarkConfig> ParseRoot(const YAML::Node& root) {
  if (!root.IsMap()) return Bad("the file must be a YAML map");
  LandmarkConfig c;
  for (const auto& kv : root) {
    const std::string key = kv.first.as<std::string>();
    absl::Status s;
    if (key == "id") {
      s = Scalar(kv.second, key, &c.id);
    } else if (key == "key_file") {
      s = Scalar(kv.second, key, &c.key_file);
    } else if (key == "state_file") {
      s = Scalar(kv.second, key, &c.state_file);
    } else if (key == "udp_listen") {
      s = Scalar(kv.second, key, &c.udp_listen);
    } else if (key == "probe_bind") {
      s = Scalar(kv.second, key, &c.probe_bind);
    } else if (key == "landmark_keys_file") {
      s = Scalar(kv.second, key, &c.landmark_keys_file);
    } else if (key == "answer_timeout_ms") {
      if (!kv.second.IsScalar()) return Bad("'answer_timeout_ms' must be a number");
      const int ms = kv.second.as<int>();
      if (ms < 1 || ms > 10000) return Bad("'answer_timeout_ms' must be 1..10000");
      c.answer_timeout = absl::Milliseconds(ms);
    } else if (key == "provd") {
      s = ParseProvd(kv.second, &c);
    } else {
      return Bad(absl::StrCat("unknown key '", key, "'"));
    }
    if (!s.ok()) return s;
  }
  if (c.id.empty()) return Bad("'id' is required");
  if (c.id.find(':') != std::string::npos) return Bad("'id' may not contain ':'");
  if (auto s = location::ValidateWireId(c.id, "'id'"); !s.ok()) return Bad(s.message());
  if (c.key_file.empty()) return Bad("'key_file' is required");
  if (c.provd_address.empty()) return Bad("'provd.address' is required");
  if (c.tls_ca.empty() && !c.insecure) {
    return Bad("'provd.tls_ca' is required (or 'provd.insecure: true', tests only)");
  }
  if (c.tls_cert.empty() != c.tls_key.empty()) {
    return Bad("'provd.tls_cert' and 'provd.tls_key' go together");
  }
  // UDP addresses are numeric IPv4/[IPv6] literals (udp_socket.h): checked here so a host name
  // stops the landmark at start, naming the key.
  if (!c.udp_listen.empty()) {
    if (auto a = location::ResolveUdpAddress(c.udp_listen); !a.ok()) {
      return Bad(absl::StrCat("'udp_listen': ", a.status().message()));
    }
  }
  if (auto a = location::ResolveUdpAddress(c.probe_bind); !a.ok()) {
    return Bad(absl::StrCat("'probe_bind': ", a.status().message()));
  }
  if (c.state_file.empty()) c.state_file = c.key_file + ".state";
  return c;
}

}  // namespace

absl::StatusOr<LandmarkConfig> ParseLandmarkConfig(absl::string_view yaml) {
  try {
    return ParseRoot(YAML::Load(std::string(yaml)));
  } catch (const YAML::Exception& e) {
    return Bad(absl::StrCat("YAML line ", e.mark.line + 1, ": ", e.msg));
  }
}

absl::StatusOr<LandmarkConfig> LoadLandmarkConfig(const std::string& path) {
  auto text = ReadFileToString(path, 1u << 20);
  if (!text.ok()) return text.status();
  auto config = ParseLandmarkConfig(*text);
  if (!config.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", config.status().message()));
  }
  return config;
}

}  // namespace prov::landmark
