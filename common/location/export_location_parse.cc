// ParseLocationFiles: the five location_*.jsonl files of an audit export into structs. Every line
// that is not what docs/export-format.md says is a problem naming the file and line.
#include <cctype>
#include <stdexcept>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/location/export_location_check.h"
#include "nlohmann/json.hpp"

namespace prov::location {
namespace {

using nlohmann::json;

// Raw bytes from hex; throws (caught per line) naming the field when it is not hex of that size.
std::string Hex(const json& j, const char* field, size_t bytes) {
  const std::string text = j.at(field).get<std::string>();
  const bool sized = bytes == 0 ? !text.empty() : text.size() == 2 * bytes;
  bool hex = text.size() % 2 == 0;
  for (char c : text) hex = hex && std::isxdigit(static_cast<unsigned char>(c));
  if (!sized || !hex) {
    throw std::runtime_error(absl::StrCat(
        field, " is not ", bytes == 0 ? std::string("hex") : absl::StrCat(bytes, " bytes of hex")));
  }
  return absl::HexStringToBytes(text);
}

double Coordinate(const json& j, const char* field, double limit) {
  const double v = j.at(field).get<double>();
  if (!(v >= -limit && v <= limit)) {
    throw std::runtime_error(
        absl::StrCat(field, " ", v, " is outside [-", limit, ", ", limit, "]"));
  }
  return v;
}

GeoPoint Position(const json& j) { return {Coordinate(j, "lat", 90), Coordinate(j, "lon", 180)}; }

std::string Id(const json& j, const char* field) {
  std::string id = j.at(field).get<std::string>();
  if (id.empty()) throw std::runtime_error(absl::StrCat(field, " is empty"));
  return id;
}

double NonNegative(const json& j, const char* field) {
  const double v = j.at(field).get<double>();
  if (!(v >= 0)) throw std::runtime_error(absl::StrCat("params.", field, " is negative"));
  return v;
}

VerifierParams Params(const json& j) {
  VerifierParams p;
  p.fibre_km_per_ms = NonNegative(j, "fibre_km_per_ms");
  if (p.fibre_km_per_ms <= 0) throw std::runtime_error("params.fibre_km_per_ms is not positive");
  p.processing_floor_ms = NonNegative(j, "processing_floor_ms");
  p.min_radius_km = NonNegative(j, "min_radius_km");
  p.site_tolerance_km = NonNegative(j, "site_tolerance_km");
  p.proof_radius_km = NonNegative(j, "proof_radius_km");
  const double age = NonNegative(j, "max_age_seconds");
  if (age > 1e9) throw std::runtime_error("params.max_age_seconds is too large");
  p.max_age = absl::Seconds(age);
  return p;
}

ExportVerdict ParseVerdict(const json& j) {
  ExportVerdict v;
  v.node_id = Id(j, "node_id");
  v.datacenter = j.at("datacenter").get<std::string>();
  v.site = Position(j.at("site"));
  v.verdict = j.at("verdict").get<std::string>();
  if (v.verdict != "verified" && v.verdict != "unverified" && v.verdict != "contradicted") {
    throw std::runtime_error("verdict '" + v.verdict + "' is not verified/unverified/contradicted");
  }
  v.evaluated_at_text = j.at("evaluated_at").get<std::string>();
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, v.evaluated_at_text, &v.evaluated_at, &err)) {
    throw std::runtime_error("evaluated_at is not RFC 3339: " + err);
  }
  v.params = Params(j.at("params"));
  v.disk_ids = j.at("disk_measurement_ids").get<std::vector<int64_t>>();
  v.calibration_ids =
      j.at("calibration_measurement_ids").get<std::map<std::string, std::vector<int64_t>>>();
  return v;
}

ExportRecord ParseRecord(const json& j) {
  ExportRecord r;
  r.id = j.at("id").get<int64_t>();
  r.landmark_id = Id(j, "landmark_id");
  r.target_kind = j.at("target_kind").get<std::string>();
  if (r.target_kind != "node" && r.target_kind != "landmark") {
    throw std::runtime_error("target_kind '" + r.target_kind + "' is not node or landmark");
  }
  r.target_id = Id(j, "target_id");
  if (!absl::Base64Unescape(j.at("measurement_b64").get<std::string>(), &r.measurement)) {
    throw std::runtime_error("measurement_b64 is not base64");
  }
  r.signature = Hex(j, "landmark_signature_hex", 64);
  return r;
}

// Calls `line_fn` on each non-empty line parsed as JSON; a throw becomes a problem.
template <typename Fn>
void ForEachLine(const std::string& text, const char* file, std::vector<std::string>* problems,
                 Fn line_fn) {
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    if (line.empty()) continue;
    try {
      json j = json::parse(line);
      if (!j.is_object()) throw std::runtime_error("not a JSON object");
      line_fn(j);
    } catch (const std::exception& ex) {  // json::exception and the runtime_errors above
      problems->push_back(absl::StrCat(file, ": line ", line_no, ": ", ex.what()));
    }
  }
}

}  // namespace

ParsedLocationExport ParseLocationFiles(const LocationFiles& files,
                                        std::vector<std::string>* problems) {
  ParsedLocationExport out;
  ForEachLine(files.landmarks, kLandmarksFile, problems, [&](const json& j) {
    ExportLandmark l;
    l.landmark_id = Id(j, "landmark_id");
    l.position = Position(j);
    l.region = j.at("region").get<std::string>();
    l.public_key = Hex(j, "public_key_hex", 32);
    if (!out.landmarks.emplace(l.landmark_id, l).second) {
      throw std::runtime_error("landmark " + l.landmark_id + " is listed twice");
    }
  });
  ForEachLine(files.sites, kSitesFile, problems, [&](const json& j) {
    const std::string dc = Id(j, "datacenter");
    if (!out.sites.emplace(dc, Position(j)).second) {
      throw std::runtime_error("data centre " + dc + " is listed twice");
    }
  });
  ForEachLine(files.node_keys, kNodeKeysFile, problems, [&](const json& j) {
    const std::string node = Id(j, "node_id");
    out.node_keys[node].push_back(Hex(j, "spki_der_hex", 0));
  });
  ForEachLine(files.measurements, kMeasurementsFile, problems, [&](const json& j) {
    ExportRecord r = ParseRecord(j);
    if (!out.records.emplace(r.id, r).second) {
      throw std::runtime_error(absl::StrCat("record id ", r.id, " is listed twice"));
    }
  });
  std::map<std::string, int> seen;
  ForEachLine(files.verdicts, kVerdictsFile, problems, [&](const json& j) {
    ExportVerdict v = ParseVerdict(j);
    if (seen[v.node_id]++ > 0) throw std::runtime_error("node " + v.node_id + " is listed twice");
    out.verdicts.push_back(std::move(v));
  });
  return out;
}

}  // namespace prov::location
