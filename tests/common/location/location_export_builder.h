// LocationExportBuilder: a real audit export folder with location data for tests: landmarks with
// real Ed25519 keys, nodes with real EC P-256 keys, measurement records signed exactly as
// prov-landmark signs them (common/location/probe_sig.h), the five location_*.jsonl files of
// docs/export-format.md, and a manifest sealed with integrity::SealExportDir as provd does.
//
//   LocationExportBuilder b(dir);
//   b.AddLandmark("lm-fra", {50.11, 8.68});
//   b.AddSite("fra1", {50.10, 8.70});
//   b.AddNode("gpu-1");
//   int64_t id = b.AddNodeRecord("lm-fra", "gpu-1", /*rtt_ms=*/1.0);
//   b.AddVerdict({.node_id = "gpu-1", .datacenter = "fra1", .verdict = "verified",
//                 .disk_ids = {id}});
//   b.Write();   // files + manifest; then edit a file and Reseal() to model a dishonest exporter
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/integrity/ed25519.h"
#include "common/location/probe_sig.h"
#include "common/location/verifier.h"
#include "nlohmann/json.hpp"

namespace prov::location::testing {

inline constexpr char kEvaluatedAt[] = "2026-12-06T00:00:00Z";

class LocationExportBuilder {
 public:
  struct Verdict {
    std::string node_id;
    std::string datacenter;
    std::string verdict;
    std::vector<int64_t> disk_ids;
    std::map<std::string, std::vector<int64_t>> calibration_ids;
  };

  explicit LocationExportBuilder(std::string dir);

  void AddLandmark(const std::string& id, GeoPoint position);
  void AddSite(const std::string& datacenter, GeoPoint position);
  void AddNode(const std::string& node_id);
  // A node record measured 1 minute before kEvaluatedAt; returns its id.
  int64_t AddNodeRecord(const std::string& landmark, const std::string& node, double rtt_ms);
  // A landmark-pair record (calibration), the answer signed with the target landmark's key.
  int64_t AddPairRecord(const std::string& landmark, const std::string& target, double rtt_ms);
  void AddVerdict(const Verdict& v);

  // Writes the five files and seals the folder (manifest.json, manifest.sig).
  void Write();
  // Re-seals after a test edited a file (the exporter signs what it wrote).
  void Reseal();

  nlohmann::json& record_line(int64_t id) { return records_.at(id); }
  nlohmann::json& node_key_line(const std::string& node) { return node_keys_.at(node); }
  nlohmann::json& verdict_line(size_t i) { return verdicts_.at(i); }
  void RemoveRecord(int64_t id) { records_.erase(id); }
  // Another node's key (DER SPKI hex), to swap in.
  static std::string FreshNodeKeyHex();
  const integrity::SigningKey& export_key() const { return export_key_; }
  const std::string& dir() const { return dir_; }
  // The five files joined as the location fuzz target reads them.
  std::string FuzzInput() const;

 private:
  int64_t AddRecord(const std::string& landmark, bool node_target, const std::string& target,
                    double rtt_ms);
  std::string Lines(const std::vector<nlohmann::json>& lines) const;
  std::string Text(const char* file) const;

  std::string dir_;
  integrity::SigningKey export_key_;
  std::map<std::string, integrity::SigningKey> landmark_keys_;
  std::map<std::string, GeoPoint> landmark_positions_;
  std::map<std::string, std::unique_ptr<NodeAnswerSigner>> node_signers_;
  std::vector<nlohmann::json> landmarks_, sites_;
  std::map<std::string, nlohmann::json> node_keys_;
  std::map<int64_t, nlohmann::json> records_;
  std::vector<nlohmann::json> verdicts_;
  int64_t next_id_ = 1;
  uint64_t next_seq_ = 1;
};

}  // namespace prov::location::testing
