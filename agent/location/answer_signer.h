// AnswerSigner: what signs a responder's answers. A node signs with its EC P-256 key (ECDSA, DER),
// a landmark with its Ed25519 key (raw 64 bytes), so one Responder serves both.
//
//   PROV_ASSIGN_OR_RETURN(auto node, NodeKeyAnswerSigner::FromKeyPem(pem));   // prov-agent
//   PROV_ASSIGN_OR_RETURN(auto renewed, NodeKeyAnswerSigner::FromKeyFile(tls.key_file));
//   PROV_ASSIGN_OR_RETURN(auto lm, Ed25519AnswerSigner::FromSecretKey(sk));  // prov-landmark
//   std::string sig = node->Sign(AnswerMessage(nonce, landmark, node_id, seq));
//
// Keys are parsed once at creation; Sign() does no I/O and no parsing. Thread-safe (immutable).
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/location/probe_sig.h"

namespace prov::agent {

class AnswerSigner {
 public:
  virtual ~AnswerSigner() = default;
  // The signature, or empty when signing failed (the answer is then not sent, and counted).
  virtual std::string Sign(absl::string_view message) const = 0;
};

class NodeKeyAnswerSigner final : public AnswerSigner {
 public:
  static absl::StatusOr<std::unique_ptr<NodeKeyAnswerSigner>> FromKeyPem(absl::string_view pem) {
    auto signer = location::NodeAnswerSigner::FromKeyPem(pem);
    if (!signer.ok()) return signer.status();
    return std::unique_ptr<NodeKeyAnswerSigner>(new NodeKeyAnswerSigner(std::move(*signer)));
  }
  // The PEM key in `path` (at most 64 KiB); errors name the file. prov-agent uses it at start and
  // after each certificate renewal (the renewed node.key, swapped in with Responder::SetSigner).
  static absl::StatusOr<std::unique_ptr<NodeKeyAnswerSigner>> FromKeyFile(const std::string& path);
  std::string Sign(absl::string_view message) const override { return signer_->Sign(message); }
  const std::string& public_key_der() const { return signer_->public_key_der(); }

 private:
  explicit NodeKeyAnswerSigner(std::unique_ptr<location::NodeAnswerSigner> signer)
      : signer_(std::move(signer)) {}
  std::unique_ptr<location::NodeAnswerSigner> signer_;
};

class Ed25519AnswerSigner final : public AnswerSigner {
 public:
  // `secret_key`: libsodium's 64-byte form (seed || public key), integrity::SigningKey.
  static absl::StatusOr<std::unique_ptr<Ed25519AnswerSigner>> FromSecretKey(
      absl::string_view secret_key) {
    if (secret_key.size() != 64) {
      return absl::InvalidArgumentError("Ed25519 secret key must be 64 bytes");
    }
    return std::unique_ptr<Ed25519AnswerSigner>(new Ed25519AnswerSigner(std::string(secret_key)));
  }
  std::string Sign(absl::string_view message) const override {
    return location::SignEd25519Raw(secret_key_, message);
  }

 private:
  explicit Ed25519AnswerSigner(std::string secret_key) : secret_key_(std::move(secret_key)) {}
  std::string secret_key_;
};

}  // namespace prov::agent
