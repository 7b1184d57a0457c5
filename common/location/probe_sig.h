// The signed messages of location verification (issue 11, docs/location.md): what a landmark signs
// in a probe, what a node (or another landmark) signs in its answer, and what a landmark signs in
// a measurement record. Each message is domain-separated and length-prefixed, so no field can be
// shifted into another and no signature of one kind is valid as another.
//
//   std::string m = prov::location::AnswerMessage(nonce, "lm-fra-1", "gpu-017", seq);
//   PROV_ASSIGN_OR_RETURN(auto signer, prov::location::NodeAnswerSigner::FromKeyPem(key_pem));
//   std::string sig = signer->Sign(m);                                  // ECDSA P-256, DER
//   PROV_ASSIGN_OR_RETURN(std::string spki, prov::location::PublicKeyDerFromPem(cert_pem));
//   bool ok = prov::location::VerifyNodeAnswer(spki, m, sig);
//
// Landmark keys are libsodium Ed25519 (common/integrity/ed25519.h); node keys are the EC P-256
// keys of node identity (common/node_key.h). Thread-safe: a signer is immutable after creation
// and may sign from several threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace prov::location {

inline constexpr size_t kNonceSize = 16;

// "prov-probe-v1\0" | nonce | u16 len | landmark_id | u16 len | target_id | be64 seq.
// The landmark signs it (Ed25519) so a responder answers only its configured landmarks.
std::string ProbeMessage(absl::string_view nonce, absl::string_view landmark_id,
                         absl::string_view target_id, uint64_t seq);

// "prov-answer-v1\0" | nonce | u16 len | landmark_id | u16 len | target_id | be64 seq.
// The target signs it: Sign(node_key, nonce || landmark_id || node_id || seq).
std::string AnswerMessage(absl::string_view nonce, absl::string_view landmark_id,
                          absl::string_view target_id, uint64_t seq);

// "prov-measurement-v1\0" | the serialized Measurement bytes.
std::string MeasurementSigningMessage(absl::string_view measurement_bytes);

// Signs with a node's EC P-256 private key (PEM, PKCS#8 or traditional): ECDSA over SHA-256,
// DER-encoded. The key is parsed once.
class NodeAnswerSigner {
 public:
  static absl::StatusOr<std::unique_ptr<NodeAnswerSigner>> FromKeyPem(absl::string_view key_pem);
  ~NodeAnswerSigner();
  NodeAnswerSigner(const NodeAnswerSigner&) = delete;
  NodeAnswerSigner& operator=(const NodeAnswerSigner&) = delete;

  // Empty only if OpenSSL fails (then the answer is not sent).
  std::string Sign(absl::string_view message) const;
  // DER SubjectPublicKeyInfo of the key.
  const std::string& public_key_der() const { return public_key_der_; }

 private:
  struct Impl;
  explicit NodeAnswerSigner(std::unique_ptr<Impl> impl, std::string spki);
  std::unique_ptr<Impl> impl_;
  std::string public_key_der_;
};

// DER SubjectPublicKeyInfo from a PEM certificate (its subject key) or PEM private/public key.
// INVALID_ARGUMENT when none parses.
absl::StatusOr<std::string> PublicKeyDerFromPem(absl::string_view pem);

// ECDSA P-256 / SHA-256 over `message` by the key in `spki_der`. False for any malformed input.
bool VerifyNodeAnswer(absl::string_view spki_der, absl::string_view message,
                      absl::string_view signature_der);

// Ed25519 (raw 32-byte public key, raw 64-byte signature). False for any malformed input.
bool VerifyEd25519Raw(absl::string_view public_key, absl::string_view message,
                      absl::string_view signature);
// Raw 64-byte Ed25519 signature with a libsodium secret key (64 bytes: seed || public key).
std::string SignEd25519Raw(absl::string_view secret_key, absl::string_view message);

// VerifyNodeAnswer with the key parsed once (issue 11, provd's verifier: OpenSSL 3 decodes a DER
// key through its provider framework, which costs far more than the ECDSA verification itself).
//   PROV_ASSIGN_OR_RETURN(auto v, NodeAnswerVerifier::FromSpkiDer(spki_der));
//   bool ok = v->Verify(AnswerMessage(nonce, "lm-fra-1", "gpu-017", seq), signature_der);
// Thread-safe: immutable after creation.
class NodeAnswerVerifier {
 public:
  // INVALID_ARGUMENT unless `spki_der` is an EC public key.
  static absl::StatusOr<std::unique_ptr<NodeAnswerVerifier>> FromSpkiDer(
      absl::string_view spki_der);
  ~NodeAnswerVerifier();
  NodeAnswerVerifier(const NodeAnswerVerifier&) = delete;
  NodeAnswerVerifier& operator=(const NodeAnswerVerifier&) = delete;
  // The same answer as VerifyNodeAnswer(spki_der, message, signature_der).
  bool Verify(absl::string_view message, absl::string_view signature_der) const;

 private:
  struct Impl;
  explicit NodeAnswerVerifier(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace prov::location
