// Location verification test fixtures (issue 11): three landmarks with real Ed25519 keys
// (Frankfurt, Paris, Singapore), two data centres (fra1, sin1), and builders for signed
// measurement records whose node answers are real ECDSA P-256 signatures.
//
//   LocationKeys keys;                                        // fresh keys
//   auto config = ParseLocationConfig(keys.Yaml(), "test.yaml");
//   Measurement m = NodeMeasurement("lm-fra", "n1", seq, now, 0.5, signer.get());
//   SignedMeasurement rec = SignRecord(keys.fra, m);
#pragma once

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/integrity/ed25519.h"
#include "common/location/probe_sig.h"
#include "provenance/v1/location.pb.h"

namespace prov::server::testing {

inline std::string PublicLine(const integrity::SigningKey& k) {
  return absl::StrCat("ed25519-public ", absl::BytesToHexString(k.public_key));
}

struct LocationKeys {
  integrity::SigningKey fra = *integrity::GenerateSigningKey();
  integrity::SigningKey par = *integrity::GenerateSigningKey();
  integrity::SigningKey sin = *integrity::GenerateSigningKey();

  std::string Yaml(int per_node = 2) const {
    return absl::StrCat(R"(landmarks:
  - id: lm-fra
    position: {lat: 50.11, lon: 8.68}
    region: eu-central
    public_key: ")",
                        PublicLine(fra), R"("
    udp_address: "127.0.0.1:7701"
  - id: lm-par
    position: {lat: 48.86, lon: 2.35}
    region: eu-west
    public_key: ")",
                        PublicLine(par), R"("
    udp_address: "127.0.0.1:7702"
  - id: lm-sin
    position: {lat: 1.35, lon: 103.82}
    region: ap-southeast
    public_key: ")",
                        PublicLine(sin), R"("
datacenters:
  - id: fra1
    position: {lat: 50.10, lon: 8.70}
    region: eu-central
  - id: sin1
    position: {lat: 1.30, lon: 103.80}
    region: ap-southeast
assignment:
  landmarks_per_node: )",
                        per_node, "\n");
  }
};

inline void SetTs(google::protobuf::Timestamp* ts, absl::Time t) {
  const int64_t us = absl::ToUnixMicros(t);
  ts->set_seconds(us / 1'000'000);
  ts->set_nanos(static_cast<int32_t>(us % 1'000'000) * 1000);
}

// A burst against node `target` whose fastest answer took `rtt_ms`, signed by `signer` (null: no
// valid answer).
inline provenance::v1::Measurement NodeMeasurement(const std::string& landmark,
                                                   const std::string& target, uint64_t seq,
                                                   absl::Time at, double rtt_ms,
                                                   const prov::location::NodeAnswerSigner* signer) {
  provenance::v1::Measurement m;
  m.set_landmark_id(landmark);
  m.set_target_kind(provenance::v1::PROBE_TARGET_KIND_NODE);
  m.set_target_id(target);
  SetTs(m.mutable_measured_at(), at);
  m.set_landmark_seq(seq);
  m.set_probes_sent(16);
  if (signer != nullptr) {
    m.set_answers_valid(16);
    m.set_rtt_min_ms(rtt_ms);
    m.set_rtt_median_ms(rtt_ms + 0.1);
    auto* a = m.mutable_min_answer();
    a->set_nonce(std::string(prov::location::kNonceSize, static_cast<char>(seq)));
    a->set_seq(seq * 100);
    a->set_rtt_ms(rtt_ms);
    a->set_signature(
        signer->Sign(prov::location::AnswerMessage(a->nonce(), landmark, target, a->seq())));
    m.set_target_public_key(signer->public_key_der());
  }
  return m;
}

// A calibration burst of landmark `landmark` against landmark `target` (signed with its key).
inline provenance::v1::Measurement PairMeasurement(const std::string& landmark,
                                                   const std::string& target, uint64_t seq,
                                                   absl::Time at, double rtt_ms,
                                                   const integrity::SigningKey& target_key) {
  provenance::v1::Measurement m;
  m.set_landmark_id(landmark);
  m.set_target_kind(provenance::v1::PROBE_TARGET_KIND_LANDMARK);
  m.set_target_id(target);
  SetTs(m.mutable_measured_at(), at);
  m.set_landmark_seq(seq);
  m.set_probes_sent(16);
  m.set_answers_valid(16);
  m.set_rtt_min_ms(rtt_ms);
  m.set_rtt_median_ms(rtt_ms);
  auto* a = m.mutable_min_answer();
  a->set_nonce(std::string(prov::location::kNonceSize, 'p'));
  a->set_seq(seq);
  a->set_rtt_ms(rtt_ms);
  a->set_signature(prov::location::SignEd25519Raw(
      target_key.secret_key,
      prov::location::AnswerMessage(a->nonce(), landmark, target, a->seq())));
  m.set_target_public_key(target_key.public_key);
  return m;
}

inline provenance::v1::SignedMeasurement SignRecord(const integrity::SigningKey& key,
                                                    const provenance::v1::Measurement& m) {
  provenance::v1::SignedMeasurement s;
  s.set_measurement(m.SerializeAsString());
  s.set_landmark_signature(prov::location::SignEd25519Raw(
      key.secret_key, prov::location::MeasurementSigningMessage(s.measurement())));
  return s;
}

}  // namespace prov::server::testing
