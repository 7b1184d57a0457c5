// LocationBook: provd's in-memory view of location verification (issue 11), with no threads and
// no I/O: each landmark's replay and clock state, the newest accepted record per (node, landmark)
// and per landmark pair, and the verdict of each node from them (common/location/verifier.h).
// The LocationHub (location_hub.h) owns one, persists what it accepts and decides, and serialises
// every call (the book is not thread-safe, not even its const methods: they fill caches).
//
//   LocationBook book(config);
//   book.SetAssignment(AssignmentTable::Build(config, targets));
//   CheckedRecord c = book.Check(signed_record, /*caller=*/"lm-fra-1", now, policy.location);
//   if (c.refusal.empty()) book.Accept(c, stored_id, now);        // then Evaluate its node
//   NodeVerdict v = book.Evaluate("gpu-017", policy.location, policy.version, now);
//
// Refusal reasons (the metric's `reason` label; location.proto's header): malformed,
// unknown_landmark, caller_mismatch, bad_landmark_signature, replay, clock_skew, clock_jump,
// not_assigned, node_revoked, previous_node_key (an answer signed by a key the node had before:
// key rotation, refused without a flag), forged_answer.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "common/location/probe_sig.h"
#include "common/location/verifier.h"
#include "provenance/v1/location.pb.h"
#include "server/location/assignment.h"
#include "server/location/location_config.h"
#include "server/policy/policy.h"

namespace prov::server::location {

struct LandmarkState {
  uint64_t last_seq = 0;
  absl::Time last_measured = absl::UnixEpoch();
  absl::Time last_record = absl::UnixEpoch();  // provd's clock at the newest accepted record
  int64_t accepted = 0;
  int64_t refused = 0;
};

struct CheckedRecord {
  std::string refusal;  // empty: acceptable; else the reason (see above)
  std::string detail;   // a sentence naming what is wrong
  // The landmark's signature verified: the record is the claimed landmark's (refusals count
  // against it only then).
  bool landmark_verified = false;
  // The node answer's signature failed (refused) or the landmark saw invalid answers (accepted):
  // a location_answer_forged fact on target_id.
  bool forged = false;
  std::string forged_detail;
  provenance::v1::Measurement measurement;  // parsed (when it parsed)
  std::string bytes, signature;             // exactly as signed
};

// One accepted record as the verdicts use it.
struct RecordRef {
  int64_t id = 0;
  double rtt_min_ms = 0;
  absl::Time measured_at;
  bool has_answer = false;  // answers_valid > 0
};

struct NodeVerdict {
  provenance::v1::NodeLocation location;
  std::vector<int64_t> disk_ids;
  std::map<std::string, std::vector<int64_t>> calibration_ids;  // landmark -> pair record ids
  std::vector<std::string> excluding;  // contradicted: the landmarks whose disks exclude the site
};

prov::location::VerifierParams ParamsOf(const policy::LocationPolicy& p);

class LocationBook {
 public:
  explicit LocationBook(const LocationConfig& config) : config_(config) {}

  void SetAssignment(AssignmentTable table) { assignment_ = std::move(table); }
  const AssignmentTable& assignment() const { return assignment_; }
  const LocationConfig& config() const { return config_; }

  // Validates a record against the configuration, the landmark's state and the assignment.
  // `caller`: the landmark the client certificate names ("" when provd requires none).
  // `pending` (may be null): landmark states of a batch not yet taken in (the hub checks a whole
  // call before its transaction); a landmark found there is checked against that state.
  CheckedRecord Check(
      const provenance::v1::SignedMeasurement& record, const std::string& caller, absl::Time now,
      const policy::LocationPolicy& p,
      const absl::flat_hash_map<std::string, LandmarkState>* pending = nullptr) const;
  // Takes an acceptable record (Check's refusal empty), stored as `id`, into the state.
  void Accept(const CheckedRecord& record, int64_t id, absl::Time received);
  // Counts a refusal against its landmark (when the landmark is configured).
  void CountRefusal(const std::string& landmark_id);
  // Restores state at start-up.
  void RestoreLandmark(const std::string& id, const LandmarkState& state);
  void RestoreRecord(const std::string& landmark_id, const std::string& target_kind,
                     const std::string& target_id, const RecordRef& ref);

  NodeVerdict Evaluate(const std::string& node_id, const policy::LocationPolicy& p,
                       const std::string& policy_version, absl::Time now) const;
  // Each landmark's calibrated speed and its pair records' ids.
  double Speed(const std::string& landmark_id, const prov::location::VerifierParams& params,
               std::vector<int64_t>* ids) const;

  const absl::flat_hash_map<std::string, LandmarkState>& landmarks() const { return landmarks_; }
  // landmark pair (a, b) -> newest record of a probing b.
  const std::map<std::pair<std::string, std::string>, RecordRef>& pairs() const { return pairs_; }
  // Nodes with at least one accepted record.
  std::vector<std::string> MeasuredNodes() const;

 private:
  // The node answer's verifier for a key (parsed once: OpenSSL's decoding is the costly part).
  const prov::location::NodeAnswerVerifier* Verifier(const std::string& spki_der) const;
  bool SignedByOneOf(const std::vector<std::string>& keys, const std::string& message,
                     const std::string& signature) const;

  const LocationConfig& config_;
  AssignmentTable assignment_;
  // Caches (the book is used by one caller at a time): parsed node keys by their DER bytes, and
  // each landmark's calibrated speed with its record ids, dropped when one of its pairs changes
  // or the parameters differ.
  mutable absl::flat_hash_map<std::string, std::unique_ptr<prov::location::NodeAnswerVerifier>>
      verifiers_;
  struct CachedSpeed {
    double fibre = 0, floor = 0, speed = 0;
    std::vector<int64_t> ids;
  };
  mutable absl::flat_hash_map<std::string, CachedSpeed> speeds_;
  absl::flat_hash_map<std::string, LandmarkState> landmarks_;
  // node -> landmark -> newest record (by measured_at)
  absl::flat_hash_map<std::string, std::map<std::string, RecordRef>> disks_;
  std::map<std::pair<std::string, std::string>, RecordRef> pairs_;
};

}  // namespace prov::server::location
