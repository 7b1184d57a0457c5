#include "server/location/location_book.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/location/probe_sig.h"
#include "common/proto_time.h"

namespace prov::server::location {
namespace {

using provenance::v1::Measurement;
using provenance::v1::PROBE_TARGET_KIND_LANDMARK;
using provenance::v1::PROBE_TARGET_KIND_NODE;

bool FiniteNonNegative(double v) { return std::isfinite(v) && v >= 0; }

// What is structurally wrong with a measurement ("" when nothing).
std::string Malformed(const Measurement& m) {
  if (m.target_kind() != PROBE_TARGET_KIND_NODE && m.target_kind() != PROBE_TARGET_KIND_LANDMARK) {
    return "target_kind must be NODE or LANDMARK";
  }
  if (m.target_id().empty() || m.target_id().size() > 256) return "target_id empty or too long";
  // The store refuses a whole call for one (PostgreSQL text cannot hold a NUL): refuse the record.
  if (m.target_id().find('\0') != std::string::npos) return "target_id holds a NUL byte";
  if (!m.has_measured_at() || m.measured_at().nanos() < 0 ||
      m.measured_at().nanos() >= 1'000'000'000) {
    return "measured_at missing or invalid";
  }
  if (!FiniteNonNegative(m.rtt_min_ms()) || !FiniteNonNegative(m.rtt_median_ms())) {
    return "rtt_min_ms / rtt_median_ms must be finite and not negative";
  }
  // Only valid answers are bounded by the probes: a landmark may count a repeated datagram of an
  // answered probe among the invalid ones.
  if (static_cast<uint64_t>(m.answers_valid()) > m.probes_sent()) {
    return "more valid answers than probes sent";
  }
  if (m.invalid_samples_size() > 16) return "more than 16 invalid_samples";
  if (m.answers_valid() > 0) {
    if (!m.has_min_answer()) return "answers_valid > 0 without min_answer";
    if (m.min_answer().nonce().size() != prov::location::kNonceSize) {
      return "min_answer.nonce must be 16 bytes";
    }
    if (m.min_answer().rtt_ms() != m.rtt_min_ms()) return "min_answer.rtt_ms is not rtt_min_ms";
    if (m.rtt_median_ms() < m.rtt_min_ms()) return "rtt_median_ms below rtt_min_ms";
  }
  return "";
}

}  // namespace

prov::location::VerifierParams ParamsOf(const policy::LocationPolicy& p) {
  prov::location::VerifierParams v;
  v.fibre_km_per_ms = p.fibre_km_per_ms;
  v.processing_floor_ms = p.processing_floor_ms;
  v.min_radius_km = p.min_radius_km;
  v.site_tolerance_km = p.site_tolerance_km;
  v.proof_radius_km = p.proof_radius_km;
  v.max_age = p.max_age;
  return v;
}

CheckedRecord LocationBook::Check(
    const provenance::v1::SignedMeasurement& record, const std::string& caller, absl::Time now,
    const policy::LocationPolicy& p,
    const absl::flat_hash_map<std::string, LandmarkState>* pending) const {
  CheckedRecord c;
  c.bytes = record.measurement();
  c.signature = record.landmark_signature();
  auto refuse = [&c](const char* reason, std::string detail) {
    c.refusal = reason;
    c.detail = std::move(detail);
    return c;
  };
  Measurement& m = c.measurement;
  if (c.bytes.empty() || !m.ParseFromString(c.bytes)) {
    return refuse("malformed", "measurement: not a serialized Measurement");
  }
  const LandmarkConfig* lm = config_.Landmark(m.landmark_id());
  if (lm == nullptr) {
    return refuse("unknown_landmark", absl::StrCat("landmark \"", m.landmark_id(),
                                                   "\" is not configured in provd's location "
                                                   "file (no key)"));
  }
  if (!caller.empty() && caller != m.landmark_id()) {
    return refuse("caller_mismatch", absl::StrCat("the client certificate names landmark ", caller,
                                                  ", the record landmark ", m.landmark_id()));
  }
  if (!prov::location::VerifyEd25519Raw(
          lm->public_key, prov::location::MeasurementSigningMessage(c.bytes), c.signature)) {
    return refuse("bad_landmark_signature",
                  absl::StrCat("landmark_signature does not verify against landmark ",
                               m.landmark_id(), "'s configured key"));
  }
  c.landmark_verified = true;
  if (std::string what = Malformed(m); !what.empty()) return refuse("malformed", what);
  const LandmarkState* state = nullptr;
  if (pending != nullptr) {
    if (auto it = pending->find(m.landmark_id()); it != pending->end()) state = &it->second;
  }
  if (state == nullptr) {
    if (auto it = landmarks_.find(m.landmark_id()); it != landmarks_.end()) state = &it->second;
  }
  if (state != nullptr && m.landmark_seq() <= state->last_seq) {
    return refuse("replay",
                  absl::StrCat("landmark_seq ", m.landmark_seq(),
                               " is not above the landmark's last accepted ", state->last_seq));
  }
  const absl::Time measured = FromProtoTime(m.measured_at());
  if (absl::AbsDuration(measured - now) > p.clock_tolerance) {
    return refuse(
        "clock_skew",
        absl::StrCat("measured_at ", absl::FormatTime(measured, absl::UTCTimeZone()), " is ",
                     absl::FormatDuration(measured - now), " from provd's clock (tolerance ",
                     absl::FormatDuration(p.clock_tolerance), ")"));
  }
  if (state != nullptr && measured < state->last_measured) {
    return refuse("clock_jump",
                  absl::StrCat("measured_at is before the landmark's previous record (",
                               absl::FormatTime(state->last_measured, absl::UTCTimeZone()),
                               "): its clock jumped back"));
  }
  const bool node = m.target_kind() == PROBE_TARGET_KIND_NODE;
  const NodeTarget* target_node = node ? assignment_.Node(m.target_id()) : nullptr;
  if (target_node != nullptr && target_node->revoked) {
    return refuse("node_revoked", absl::StrCat("node ", m.target_id(),
                                               " is revoked: its location records are refused"));
  }
  const LandmarkConfig* target_lm = node ? nullptr : config_.Landmark(m.target_id());
  if (node ? !assignment_.Assigned(m.landmark_id(), m.target_id())
           : (target_lm == nullptr || target_lm == lm || target_lm->udp_address.empty())) {
    return refuse("not_assigned", absl::StrCat(node ? "node " : "landmark ", m.target_id(),
                                               " is not assigned to landmark ", m.landmark_id()));
  }
  if (m.answers_valid() > 0) {
    const std::string message = prov::location::AnswerMessage(
        m.min_answer().nonce(), m.landmark_id(), m.target_id(), m.min_answer().seq());
    bool ok = false;
    if (node) {
      ok = SignedByOneOf(target_node->accepted_keys, message, m.min_answer().signature());
      if (!ok && SignedByOneOf(target_node->known_keys, message, m.min_answer().signature())) {
        // Signed by a key the node had: its key changed (renewal), nothing was forged.
        return refuse("previous_node_key",
                      absl::StrCat("min_answer.signature verifies only against a key node ",
                                   m.target_id(), " no longer uses (key rotation; no flag)"));
      }
    } else {
      ok = prov::location::VerifyEd25519Raw(target_lm->public_key, message,
                                            m.min_answer().signature());
    }
    if (!ok) {
      if (node) {
        c.forged = true;
        c.forged_detail = absl::StrCat(
            "landmark ", m.landmark_id(), " sent a record (landmark_seq ", m.landmark_seq(),
            ") whose answer of node ", m.target_id(), " (probe seq ", m.min_answer().seq(),
            ", rtt ", m.rtt_min_ms(), " ms) does not verify against the node's public key");
      }
      return refuse("forged_answer",
                    absl::StrCat("min_answer.signature does not verify against ",
                                 node ? "node " : "landmark ", m.target_id(), "'s key"));
    }
  }
  if (node) {
    for (const auto& bad : m.invalid_samples()) {
      const auto& a = bad.answer();
      if (bad.reason() == "bad_signature" &&
          SignedByOneOf(
              target_node->known_keys,
              prov::location::AnswerMessage(a.nonce(), m.landmark_id(), m.target_id(), a.seq()),
              a.signature())) {
        continue;  // the landmark checked against another key of the node: key rotation
      }
      if (bad.reason() == "wrong_nonce" && m.answers_valid() > 0 &&
          a.nonce() == m.min_answer().nonce() && a.seq() == m.min_answer().seq() &&
          a.signature() == m.min_answer().signature()) {
        continue;  // a byte-identical repeat of the accepted answer: a duplicated datagram
      }
      if (bad.reason() == "bad_signature" || bad.reason() == "wrong_nonce" ||
          bad.reason() == "wrong_target") {
        c.forged = true;
        c.forged_detail =
            absl::StrCat("landmark ", m.landmark_id(), " received ", m.answers_invalid(),
                         " invalid answer(s) for node ", m.target_id(), " (first: ", bad.reason(),
                         ", probe seq ", bad.answer().seq(), ") in the burst of landmark_seq ",
                         m.landmark_seq());
        break;
      }
    }
  }
  return c;
}

bool LocationBook::SignedByOneOf(const std::vector<std::string>& keys, const std::string& message,
                                 const std::string& signature) const {
  for (const std::string& key : keys) {
    const auto* verifier = Verifier(key);
    if (verifier != nullptr && verifier->Verify(message, signature)) return true;
  }
  return false;
}

const prov::location::NodeAnswerVerifier* LocationBook::Verifier(
    const std::string& spki_der) const {
  auto it = verifiers_.find(spki_der);
  if (it != verifiers_.end()) return it->second.get();
  if (verifiers_.size() >= 1'000'000) verifiers_.clear();  // bounded (keys are per node)
  auto parsed = prov::location::NodeAnswerVerifier::FromSpkiDer(spki_der);
  auto& slot = verifiers_[spki_der];
  if (parsed.ok()) slot = *std::move(parsed);
  return slot.get();  // null: not an EC key, nothing verifies
}

void LocationBook::Accept(const CheckedRecord& record, int64_t id, absl::Time received) {
  const Measurement& m = record.measurement;
  LandmarkState& state = landmarks_[m.landmark_id()];
  state.last_seq = m.landmark_seq();
  state.last_measured = FromProtoTime(m.measured_at());
  state.last_record = received;
  ++state.accepted;
  RestoreRecord(
      m.landmark_id(), m.target_kind() == PROBE_TARGET_KIND_NODE ? "node" : "landmark",
      m.target_id(),
      RecordRef{id, m.rtt_min_ms(), FromProtoTime(m.measured_at()), m.answers_valid() > 0});
}

void LocationBook::CountRefusal(const std::string& landmark_id) {
  if (config_.Landmark(landmark_id) != nullptr) ++landmarks_[landmark_id].refused;
}

void LocationBook::RestoreLandmark(const std::string& id, const LandmarkState& state) {
  landmarks_[id] = state;
}

void LocationBook::RestoreRecord(const std::string& landmark_id, const std::string& target_kind,
                                 const std::string& target_id, const RecordRef& ref) {
  if (!ref.has_answer) return;  // no valid answer: proves nothing, places no disk
  RecordRef* slot =
      target_kind == "node" ? &disks_[target_id][landmark_id] : &pairs_[{landmark_id, target_id}];
  if (slot->id == 0 || ref.measured_at >= slot->measured_at) {
    *slot = ref;
    if (target_kind != "node") {
      speeds_.erase(landmark_id);
      speeds_.erase(target_id);
    }
  }
}

double LocationBook::Speed(const std::string& landmark_id,
                           const prov::location::VerifierParams& params,
                           std::vector<int64_t>* ids) const {
  auto cached = speeds_.find(landmark_id);
  if (cached != speeds_.end() && cached->second.fibre == params.fibre_km_per_ms &&
      cached->second.floor == params.processing_floor_ms) {
    if (ids != nullptr) *ids = cached->second.ids;
    return cached->second.speed;
  }
  CachedSpeed& c = speeds_[landmark_id];
  c.fibre = params.fibre_km_per_ms;
  c.floor = params.processing_floor_ms;
  c.ids.clear();
  std::vector<double> implied;
  for (const auto& [pair, ref] : pairs_) {
    if (pair.first != landmark_id && pair.second != landmark_id) continue;
    const LandmarkConfig* a = config_.Landmark(pair.first);
    const LandmarkConfig* b = config_.Landmark(pair.second);
    if (a == nullptr || b == nullptr) continue;
    implied.push_back(prov::location::ImpliedSpeed(
        prov::location::GreatCircleKm(a->position, b->position), ref.rtt_min_ms, params));
    c.ids.push_back(ref.id);
  }
  c.speed = prov::location::CalibratedSpeed(implied, params);
  if (ids != nullptr) *ids = c.ids;
  return c.speed;
}

std::vector<std::string> LocationBook::MeasuredNodes() const {
  std::vector<std::string> out;
  out.reserve(disks_.size());
  for (const auto& [node, unused] : disks_) out.push_back(node);
  return out;
}

NodeVerdict LocationBook::Evaluate(const std::string& node_id, const policy::LocationPolicy& p,
                                   const std::string& policy_version, absl::Time now) const {
  NodeVerdict v;
  provenance::v1::NodeLocation& loc = v.location;
  loc.set_node_id(node_id);
  loc.set_policy_version(policy_version);
  SetProtoTime(now, loc.mutable_evaluated_at());
  const NodeTarget* node = assignment_.Node(node_id);
  const std::string datacenter = node != nullptr ? node->datacenter : "";
  const SiteConfig* site = config_.Site(datacenter);
  const std::string region = site != nullptr && !site->region.empty() ? site->region
                             : node != nullptr                        ? node->region
                                                                      : "";
  loc.set_datacenter(datacenter);
  loc.set_region(region);
  // With any proof requirement, a node whose declared site provd cannot place (no datacenter, or
  // one without coordinates) needs proof: otherwise reporting an unknown datacenter would escape.
  loc.set_proof_required(p.ProofRequired(datacenter, region) ||
                         (!p.require_proof.empty() && site == nullptr));
  loc.set_verdict(provenance::v1::LOCATION_VERDICT_UNVERIFIED);
  if (node != nullptr && node->revoked) {
    loc.set_reason(absl::StrCat("Node ", node_id,
                                " revoked (provctl nodes revocations): its location records are "
                                "refused and it is not probed"));
    return v;
  }
  if (site == nullptr) {
    loc.set_reason(
        datacenter.empty()
            ? absl::StrCat("Node ", node_id, " declares no datacenter: nothing to verify")
            : absl::StrCat("Datacenter ", datacenter,
                           " has no coordinates in provd's location file"));
    return v;
  }
  loc.set_site_known(true);
  loc.mutable_declared_site()->set_lat_deg(site->position.lat_deg);
  loc.mutable_declared_site()->set_lon_deg(site->position.lon_deg);
  const prov::location::VerifierParams params = ParamsOf(p);
  std::vector<prov::location::DiskInput> inputs;
  if (auto it = disks_.find(node_id); it != disks_.end()) {
    for (const auto& [lm_id, ref] : it->second) {
      const LandmarkConfig* lm = config_.Landmark(lm_id);
      if (lm == nullptr) continue;  // removed from the location file
      std::vector<int64_t> ids;
      prov::location::DiskInput in;
      in.landmark_id = lm_id;
      in.center = lm->position;
      in.rtt_min_ms = ref.rtt_min_ms;
      in.speed_km_per_ms = Speed(lm_id, params, &ids);
      in.measured_at = ref.measured_at;
      inputs.push_back(std::move(in));
      v.disk_ids.push_back(ref.id);
      v.calibration_ids[lm_id] = std::move(ids);
    }
  }
  std::vector<prov::location::LandmarkSite> sites;
  sites.reserve(config_.landmarks.size());
  for (const LandmarkConfig& lm : config_.landmarks) sites.push_back({lm.id, lm.position});
  const prov::location::LocationResult r =
      prov::location::EvaluateLocation(site->position, inputs, sites, params, now);
  switch (r.verdict) {
    case prov::location::Verdict::kVerified:
      loc.set_verdict(provenance::v1::LOCATION_VERDICT_VERIFIED);
      break;
    case prov::location::Verdict::kContradicted:
      loc.set_verdict(provenance::v1::LOCATION_VERDICT_CONTRADICTED);
      break;
    case prov::location::Verdict::kUnverified:
      break;
  }
  std::string reason = r.reason;
  if (inputs.empty()) {
    if (std::string why = assignment_.Unassigned(config_, node_id); !why.empty()) {
      absl::StrAppend(&reason, " Not assigned to landmarks: ", why, ".");
    }
  }
  loc.set_reason(reason);
  loc.set_needed_landmark_id(r.needed_landmark_id);
  loc.set_needed_landmark_distance_km(r.needed_landmark_distance_km);
  for (const prov::location::Disk& d : r.disks) {
    auto* out = loc.add_disks();
    out->set_landmark_id(d.input.landmark_id);
    out->mutable_center()->set_lat_deg(d.input.center.lat_deg);
    out->mutable_center()->set_lon_deg(d.input.center.lon_deg);
    out->set_rtt_min_ms(d.input.rtt_min_ms);
    out->set_speed_km_per_ms(d.input.speed_km_per_ms);
    out->set_radius_km(d.radius_km);
    out->set_distance_to_site_km(d.distance_to_site_km);
    out->set_contains_site(d.contains_site);
    out->set_fresh(d.fresh);
    SetProtoTime(d.input.measured_at, out->mutable_measured_at());
    if (d.fresh && !d.contains_site) v.excluding.push_back(d.input.landmark_id);
  }
  return v;
}

}  // namespace prov::server::location
