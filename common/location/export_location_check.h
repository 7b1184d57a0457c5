// Offline re-derivation of the location verdicts in an audit export (issue 11, docs/location.md
// "Offline verification"): an auditor with the export folder alone, and no provd, checks that
// every exported verdict follows from signed records.
//
//   LocationExportCheck c = CheckLocationExport("/exports/20261206T000000Z", export_public_key);
//   for (const auto& n : c.nodes) {
//     std::cout << n.node_id << " " << n.exported_verdict << " -> " << n.rederived_verdict;
//     for (const auto& p : n.problems) std::cout << "  " << p << "\n";  // "record 7: ..."
//   }
//   return c.ok() ? 0 : 1;
//
// The steps, exactly as the export format promises (docs/export-format.md):
//  1. the export itself: manifest signature and every file (integrity::VerifyExport);
//  2. every record a verdict references: its landmark's Ed25519 signature over the exact
//     Measurement bytes (location_landmarks.jsonl), and the answer's signature
//     (Measurement.min_answer over AnswerMessage(nonce, landmark, target, seq)) against the node's
//     key (location_node_keys.jsonl; any key the export lists for the node) or, for landmark-pair
//     records, the target landmark's Ed25519 key;
//  3. each landmark's speed: CalibratedSpeed over ImpliedSpeed(distance between the two
//     landmarks' configured positions, pair rtt_min_ms) of its calibration records;
//  4. EvaluateLocation(site, disks from the verified records, every landmark, the verdict's own
//     params, evaluated_at), compared with the exported verdict.
// A record that fails a check is named and left out of the re-derivation (a verdict must follow
// from verified records alone). Pure function of the files; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/integrity/export_check.h"
#include "common/location/verifier.h"

namespace prov::location {

inline constexpr char kLandmarksFile[] = "location_landmarks.jsonl";
inline constexpr char kSitesFile[] = "location_sites.jsonl";
inline constexpr char kNodeKeysFile[] = "location_node_keys.jsonl";
inline constexpr char kMeasurementsFile[] = "location_measurements.jsonl";
inline constexpr char kVerdictsFile[] = "location_verdicts.jsonl";

// ---- the parsed files (ParseLocationFiles) ----

struct ExportLandmark {
  std::string landmark_id;
  GeoPoint position;
  std::string region;
  std::string public_key;  // raw 32 bytes (from public_key_hex)
};

struct ExportRecord {
  int64_t id = 0;
  std::string landmark_id;  // the line's field; must equal the signed Measurement's
  std::string target_kind;  // "node" | "landmark"
  std::string target_id;
  std::string measurement;  // the exact signed bytes (from measurement_b64)
  std::string signature;    // raw 64 bytes (from landmark_signature_hex)
};

struct ExportVerdict {
  std::string node_id;
  std::string datacenter;
  GeoPoint site;
  std::string verdict;  // "verified" | "unverified" | "contradicted"
  std::string evaluated_at_text;
  absl::Time evaluated_at;
  VerifierParams params;
  std::vector<int64_t> disk_ids;
  std::map<std::string, std::vector<int64_t>> calibration_ids;  // landmark id -> pair records
};

struct LocationFiles {  // the five files' text; an absent file is empty
  std::string landmarks, sites, node_keys, measurements, verdicts;
};

struct ParsedLocationExport {
  std::map<std::string, ExportLandmark> landmarks;
  std::map<std::string, GeoPoint> sites;                      // data centre -> position
  std::map<std::string, std::vector<std::string>> node_keys;  // node id -> DER SPKIs
  std::map<int64_t, ExportRecord> records;
  std::vector<ExportVerdict> verdicts;  // file order
};

// Parses the five files; every line that is not what the format says becomes a problem naming
// the file and line ("location_measurements.jsonl: line 3: ...") and is skipped. Never throws.
ParsedLocationExport ParseLocationFiles(const LocationFiles& files,
                                        std::vector<std::string>* problems);

// ---- the re-derivation ----

struct NodeLocationCheck {
  std::string node_id;
  std::string exported_verdict;
  std::string rederived_verdict;  // always set (from whichever records verified)
  std::string rederived_reason;
  int records_checked = 0;            // distinct referenced records whose signatures were checked
  std::vector<std::string> problems;  // "record 7: landmark signature invalid", ...
  bool ok() const { return problems.empty(); }
};

// Re-derives every verdict of `parsed` (steps 2-4 above).
std::vector<NodeLocationCheck> RederiveVerdicts(const ParsedLocationExport& parsed);

struct LocationExportCheck {
  integrity::ExportVerification export_check;  // step 1
  std::vector<std::string> problems;           // files: unreadable, not in the manifest, bad lines
  std::vector<NodeLocationCheck> nodes;
  bool ok() const;  // the export verifies, no file problem, every node verifies
};

// All four steps on an export folder. `public_key`: the exporter's raw Ed25519 key, or empty to
// check against the key the manifest names (a note says so, as for `provctl export verify`).
LocationExportCheck CheckLocationExport(const std::string& dir, const std::string& public_key);

}  // namespace prov::location
