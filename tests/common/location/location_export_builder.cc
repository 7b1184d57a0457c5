#include "tests/common/location/location_export_builder.h"

#include <cstdlib>
#include <fstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "common/integrity/manifest.h"
#include "common/location/export_location_check.h"
#include "common/node_key.h"
#include "provenance/v1/location.pb.h"

namespace prov::location::testing {
namespace {

using nlohmann::json;

// Aborts the test binary on a setup failure (a broken fixture is not a test result).
template <typename T>
T Must(absl::StatusOr<T> v) {
  if (!v.ok()) std::abort();
  return *std::move(v);
}

absl::Time Evaluated() {
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, kEvaluatedAt, &t, &err)) std::abort();
  return t;
}

}  // namespace

LocationExportBuilder::LocationExportBuilder(std::string dir)
    : dir_(std::move(dir)), export_key_(Must(integrity::GenerateSigningKey())) {}

void LocationExportBuilder::AddLandmark(const std::string& id, GeoPoint position) {
  integrity::SigningKey key = Must(integrity::GenerateSigningKey());
  landmarks_.push_back({{"landmark_id", id},
                        {"lat", position.lat_deg},
                        {"lon", position.lon_deg},
                        {"region", "eu-central"},
                        {"public_key_hex", absl::BytesToHexString(key.public_key)}});
  landmark_keys_[id] = key;
  landmark_positions_[id] = position;
}

void LocationExportBuilder::AddSite(const std::string& datacenter, GeoPoint position) {
  sites_.push_back({{"datacenter", datacenter},
                    {"lat", position.lat_deg},
                    {"lon", position.lon_deg},
                    {"region", "eu-central"}});
}

void LocationExportBuilder::AddNode(const std::string& node_id) {
  auto signer = Must(NodeAnswerSigner::FromKeyPem(Must(GenerateNodeKeyPem())));
  node_keys_[node_id] = {{"node_id", node_id},
                         {"spki_der_hex", absl::BytesToHexString(signer->public_key_der())},
                         {"first_seen", "2026-12-01T00:00:00Z"},
                         {"last_seen", kEvaluatedAt}};
  node_signers_[node_id] = std::move(signer);
}

std::string LocationExportBuilder::FreshNodeKeyHex() {
  auto signer = Must(NodeAnswerSigner::FromKeyPem(Must(GenerateNodeKeyPem())));
  return absl::BytesToHexString(signer->public_key_der());
}

int64_t LocationExportBuilder::AddNodeRecord(const std::string& landmark, const std::string& node,
                                             double rtt_ms) {
  return AddRecord(landmark, true, node, rtt_ms);
}

int64_t LocationExportBuilder::AddPairRecord(const std::string& landmark, const std::string& target,
                                             double rtt_ms) {
  return AddRecord(landmark, false, target, rtt_ms);
}

int64_t LocationExportBuilder::AddRecord(const std::string& landmark, bool node_target,
                                         const std::string& target, double rtt_ms) {
  const int64_t id = next_id_++;
  const uint64_t seq = next_seq_++;
  provenance::v1::Measurement m;
  m.set_landmark_id(landmark);
  m.set_target_kind(node_target ? provenance::v1::PROBE_TARGET_KIND_NODE
                                : provenance::v1::PROBE_TARGET_KIND_LANDMARK);
  m.set_target_id(target);
  const absl::Time at = Evaluated() - absl::Minutes(1);
  m.mutable_measured_at()->set_seconds(absl::ToUnixSeconds(at));
  m.set_landmark_seq(seq);
  m.set_probes_sent(16);
  m.set_answers_valid(16);
  m.set_rtt_min_ms(rtt_ms);
  m.set_rtt_median_ms(rtt_ms + 0.1);
  auto* a = m.mutable_min_answer();
  const std::string nonce(kNonceSize, static_cast<char>('a' + id % 26));
  a->set_nonce(nonce);
  a->set_seq(seq * 16);
  a->set_rtt_ms(rtt_ms);
  const std::string answer = AnswerMessage(nonce, landmark, target, seq * 16);
  a->set_signature(node_target ? node_signers_.at(target)->Sign(answer)
                               : SignEd25519Raw(landmark_keys_.at(target).secret_key, answer));
  const std::string bytes = m.SerializeAsString();
  const std::string sig =
      SignEd25519Raw(landmark_keys_.at(landmark).secret_key, MeasurementSigningMessage(bytes));
  records_[id] = {{"id", id},
                  {"received_at", kEvaluatedAt},
                  {"landmark_id", landmark},
                  {"target_kind", node_target ? "node" : "landmark"},
                  {"target_id", target},
                  {"measurement_b64", absl::Base64Escape(bytes)},
                  {"landmark_signature_hex", absl::BytesToHexString(sig)}};
  return id;
}

void LocationExportBuilder::AddVerdict(const Verdict& v) {
  GeoPoint site;
  for (const json& s : sites_) {
    if (s["datacenter"] == v.datacenter) site = {s["lat"], s["lon"]};
  }
  verdicts_.push_back({{"node_id", v.node_id},
                       {"datacenter", v.datacenter},
                       {"site", {{"lat", site.lat_deg}, {"lon", site.lon_deg}}},
                       {"verdict", v.verdict},
                       {"evaluated_at", kEvaluatedAt},
                       {"reason", "as provd wrote it"},
                       {"proof_required", false},
                       {"policy_version", "p-1"},
                       {"params",
                        {{"fibre_km_per_ms", 200},
                         {"processing_floor_ms", 0},
                         {"min_radius_km", 1},
                         {"site_tolerance_km", 5},
                         {"proof_radius_km", 500},
                         {"max_age_seconds", 3600}}},
                       {"disk_measurement_ids", v.disk_ids},
                       {"calibration_measurement_ids", v.calibration_ids}});
}

std::string LocationExportBuilder::Lines(const std::vector<json>& lines) const {
  std::string out;
  for (const json& j : lines) out += j.dump() + "\n";
  return out;
}

std::string LocationExportBuilder::Text(const char* file) const {
  const std::string name = file;
  if (name == kLandmarksFile) return Lines(landmarks_);
  if (name == kSitesFile) return Lines(sites_);
  std::vector<json> lines;
  if (name == kNodeKeysFile) {
    for (const auto& [_, j] : node_keys_) lines.push_back(j);
  } else if (name == kMeasurementsFile) {
    for (const auto& [_, j] : records_) lines.push_back(j);
  } else {
    lines = verdicts_;
  }
  return Lines(lines);
}

void LocationExportBuilder::Write() {
  for (const char* f :
       {kLandmarksFile, kSitesFile, kNodeKeysFile, kMeasurementsFile, kVerdictsFile}) {
    std::ofstream(dir_ + "/" + f, std::ios::binary | std::ios::trunc) << Text(f);
  }
  Reseal();
}

void LocationExportBuilder::Reseal() {
  integrity::Manifest m;
  m.export_id = "20261206T000000Z";
  m.created_at = kEvaluatedAt;
  if (!integrity::SealExportDir(dir_, &m, export_key_).ok()) std::abort();
}

std::string LocationExportBuilder::FuzzInput() const {
  std::vector<std::string> parts;
  for (const char* f :
       {kLandmarksFile, kSitesFile, kNodeKeysFile, kMeasurementsFile, kVerdictsFile}) {
    parts.push_back(Text(f));
  }
  return absl::StrJoin(parts, "\n--8<--\n");
}

}  // namespace prov::location::testing
