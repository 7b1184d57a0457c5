// YAML -> LocationConfig. yaml-cpp throws; every exception stops in this file and becomes a Status
// naming the file, line, column and field path.
#include "server/location/location_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <initializer_list>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/fs.h"
#include "common/status_macros.h"

namespace prov::server::location {
namespace {

class Parser {
 public:
  explicit Parser(absl::string_view source) : source_(source) {}

  absl::Status Error(const YAML::Node& node, absl::string_view path, absl::string_view what) const {
    const YAML::Mark mark = node.Mark();
    if (mark.is_null()) {
      return absl::InvalidArgumentError(absl::StrCat(source_, ": ", path, ": ", what));
    }
    return absl::InvalidArgumentError(
        absl::StrCat(source_, ":", mark.line + 1, ":", mark.column + 1, ": ", path, ": ", what));
  }

  absl::Status OnlyKeys(const YAML::Node& map, absl::string_view path,
                        std::initializer_list<absl::string_view> keys) const {
    if (!map.IsMap()) return Error(map, path, "must be a mapping");
    for (const auto& kv : map) {
      const std::string key = kv.first.as<std::string>();
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
        return Error(kv.first, absl::StrCat(path.empty() ? "" : absl::StrCat(path, "."), key),
                     absl::StrCat("unknown field (known: ", absl::StrJoin(keys, ", "), ")"));
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> String(const YAML::Node& n, absl::string_view path) const {
    if (!n || !n.IsScalar()) return Error(n, path, "must be a string");
    return n.Scalar();
  }

  absl::StatusOr<double> Number(const YAML::Node& n, absl::string_view path, double lo,
                                double hi) const {
    double v = 0;
    if (!n || !n.IsScalar() || !absl::SimpleAtod(n.Scalar(), &v)) {
      return Error(n, path, "must be a number");
    }
    if (v < lo || v > hi)
      return Error(n, path, absl::StrCat(n.Scalar(), " is outside ", lo, "..", hi));
    return v;
  }

  absl::StatusOr<prov::location::GeoPoint> Position(const YAML::Node& n,
                                                    absl::string_view path) const {
    if (!n) return Error(n, path, "required ({lat: .., lon: ..})");
    PROV_RETURN_IF_ERROR(OnlyKeys(n, path, {"lat", "lon"}));
    prov::location::GeoPoint p;
    PROV_ASSIGN_OR_RETURN(p.lat_deg, Number(n["lat"], absl::StrCat(path, ".lat"), -90, 90));
    PROV_ASSIGN_OR_RETURN(p.lon_deg, Number(n["lon"], absl::StrCat(path, ".lon"), -180, 180));
    return p;
  }

  // "ed25519-public <64 hex>" (the .pub key file's text) -> 32 raw bytes.
  absl::StatusOr<std::string> PublicKey(const YAML::Node& n, absl::string_view path) const {
    PROV_ASSIGN_OR_RETURN(std::string text, String(n, path));
    std::vector<absl::string_view> parts =
        absl::StrSplit(absl::StripAsciiWhitespace(text), ' ', absl::SkipEmpty());
    if (parts.size() != 2 || parts[0] != "ed25519-public" || parts[1].size() != 64 ||
        !std::all_of(parts[1].begin(), parts[1].end(), absl::ascii_isxdigit)) {
      return Error(n, path, "must be \"ed25519-public <64 hex digits>\" (a .pub key file's text)");
    }
    return absl::HexStringToBytes(parts[1]);
  }

  absl::StatusOr<uint32_t> Count(const YAML::Node& n, absl::string_view path, double lo,
                                 double hi) const {
    PROV_ASSIGN_OR_RETURN(double v, Number(n, path, lo, hi));
    if (v != static_cast<double>(static_cast<uint32_t>(v))) {
      return Error(n, path, "must be a whole number");
    }
    return static_cast<uint32_t>(v);
  }

  absl::StatusOr<LocationConfig> Parse(const YAML::Node& root) const;

 private:
  std::string source_;
};

bool ValidAddress(absl::string_view a) {
  const size_t colon = a.rfind(':');
  uint32_t port = 0;
  return colon != absl::string_view::npos && colon > 0 &&
         absl::SimpleAtoi(a.substr(colon + 1), &port) && port > 0 && port <= 65535;
}

absl::StatusOr<LocationConfig> Parser::Parse(const YAML::Node& root) const {
  LocationConfig c;
  PROV_RETURN_IF_ERROR(OnlyKeys(root, "", {"landmarks", "datacenters", "assignment"}));
  const YAML::Node lms = root["landmarks"];
  if (!lms || !lms.IsSequence() || lms.size() == 0) {
    return Error(lms ? lms : root, "landmarks", "required: a non-empty list");
  }
  for (size_t i = 0; i < lms.size(); ++i) {
    const std::string path = absl::StrCat("landmarks[", i, "]");
    const YAML::Node l = lms[i];
    PROV_RETURN_IF_ERROR(
        OnlyKeys(l, path, {"id", "position", "region", "public_key", "udp_address"}));
    LandmarkConfig lm;
    PROV_ASSIGN_OR_RETURN(lm.id, String(l["id"], path + ".id"));
    if (!ValidLandmarkId(lm.id)) {
      return Error(l["id"], path + ".id", "must be 1..64 characters of [A-Za-z0-9._-]");
    }
    if (c.landmark_index.contains(lm.id)) {
      return Error(l["id"], path + ".id", absl::StrCat("duplicate landmark id \"", lm.id, "\""));
    }
    PROV_ASSIGN_OR_RETURN(lm.position, Position(l["position"], path + ".position"));
    if (l["region"]) {
      PROV_ASSIGN_OR_RETURN(lm.region, String(l["region"], path + ".region"));
    }
    if (!l["public_key"]) return Error(l, path + ".public_key", "required");
    PROV_ASSIGN_OR_RETURN(lm.public_key, PublicKey(l["public_key"], path + ".public_key"));
    if (l["udp_address"]) {
      PROV_ASSIGN_OR_RETURN(lm.udp_address, String(l["udp_address"], path + ".udp_address"));
      if (!lm.udp_address.empty() && !ValidAddress(lm.udp_address)) {
        return Error(l["udp_address"], path + ".udp_address", "must be \"host:port\" or empty");
      }
    }
    c.landmark_index[lm.id] = c.landmarks.size();
    c.landmarks.push_back(std::move(lm));
  }
  if (const YAML::Node dcs = root["datacenters"]) {
    if (!dcs.IsSequence()) return Error(dcs, "datacenters", "must be a list");
    for (size_t i = 0; i < dcs.size(); ++i) {
      const std::string path = absl::StrCat("datacenters[", i, "]");
      const YAML::Node d = dcs[i];
      PROV_RETURN_IF_ERROR(OnlyKeys(d, path, {"id", "position", "region"}));
      SiteConfig site;
      PROV_ASSIGN_OR_RETURN(site.id, String(d["id"], path + ".id"));
      if (absl::StripAsciiWhitespace(site.id).empty()) return Error(d["id"], path + ".id", "empty");
      if (c.site_index.contains(site.id)) {
        return Error(d["id"], path + ".id", absl::StrCat("duplicate datacenter \"", site.id, "\""));
      }
      PROV_ASSIGN_OR_RETURN(site.position, Position(d["position"], path + ".position"));
      if (d["region"]) {
        PROV_ASSIGN_OR_RETURN(site.region, String(d["region"], path + ".region"));
      }
      c.site_index[site.id] = c.datacenters.size();
      c.datacenters.push_back(std::move(site));
    }
  }
  if (const YAML::Node a = root["assignment"]) {
    PROV_RETURN_IF_ERROR(OnlyKeys(
        a, "assignment",
        {"landmarks_per_node", "probes_per_burst", "probe_spacing_ms", "round_interval_seconds"}));
    if (a["landmarks_per_node"]) {
      PROV_ASSIGN_OR_RETURN(c.assignment.landmarks_per_node,
                            Count(a["landmarks_per_node"], "assignment.landmarks_per_node", 1, 64));
    }
    if (a["probes_per_burst"]) {
      PROV_ASSIGN_OR_RETURN(c.assignment.probes_per_burst,
                            Count(a["probes_per_burst"], "assignment.probes_per_burst", 1, 1000));
    }
    if (a["probe_spacing_ms"]) {
      PROV_ASSIGN_OR_RETURN(c.assignment.probe_spacing_ms,
                            Count(a["probe_spacing_ms"], "assignment.probe_spacing_ms", 0, 10000));
    }
    if (a["round_interval_seconds"]) {
      PROV_ASSIGN_OR_RETURN(
          c.assignment.round_interval_seconds,
          Count(a["round_interval_seconds"], "assignment.round_interval_seconds", 1, 86400));
    }
  }
  return c;
}

}  // namespace

bool ValidLandmarkId(absl::string_view id) {
  return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char ch) {
    return absl::ascii_isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '_' ||
           ch == '-';
  });
}

const LandmarkConfig* LocationConfig::Landmark(absl::string_view id) const {
  auto it = landmark_index.find(id);
  return it == landmark_index.end() ? nullptr : &landmarks[it->second];
}

const SiteConfig* LocationConfig::Site(absl::string_view datacenter) const {
  auto it = site_index.find(datacenter);
  return it == site_index.end() ? nullptr : &datacenters[it->second];
}

absl::StatusOr<LocationConfig> ParseLocationConfig(absl::string_view yaml,
                                                   absl::string_view source) {
  Parser parser(source);
  try {
    const YAML::Node root = YAML::Load(std::string(yaml));
    if (!root || root.IsNull()) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": empty location file"));
    }
    return parser.Parse(root);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ":", e.mark.line + 1, ":", e.mark.column + 1, ": ", e.msg));
  }
}

absl::StatusOr<LocationConfig> LoadLocationConfig(const std::string& path) {
  PROV_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path, 4u << 20));
  return ParseLocationConfig(text, path);
}

}  // namespace prov::server::location
