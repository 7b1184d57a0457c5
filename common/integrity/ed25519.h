// Ed25519 signing keys and detached signatures (libsodium), for signed audit exports.
//
//   SigningKey key = *GenerateSigningKey();
//   SaveSigningKey("/etc/provenance/export.key", key);          // mode 0600, hex seed
//   SavePublicKey("/etc/provenance/export.pub", key.public_key);
//   std::string sig = SignDetached(key, manifest_bytes);         // hex, 128 characters
//   bool ok = VerifyDetached(public_key, manifest_bytes, sig);
//
// Key files are one line of text: "ed25519-seed <64 hex>" or "ed25519-public <64 hex>", so an
// auditor can read and compare them. Thread-safe (libsodium is initialised once).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace prov::integrity {

struct SigningKey {
  std::string seed;        // 32 raw bytes
  std::string secret_key;  // 64 raw bytes (libsodium form: seed || public key)
  std::string public_key;  // 32 raw bytes
};

absl::StatusOr<SigningKey> GenerateSigningKey();
absl::StatusOr<SigningKey> SigningKeyFromSeed(absl::string_view seed);
absl::Status SaveSigningKey(const std::string& path, const SigningKey& key);
absl::StatusOr<SigningKey> LoadSigningKey(const std::string& path);
absl::Status SavePublicKey(const std::string& path, absl::string_view public_key);
absl::StatusOr<std::string> LoadPublicKey(const std::string& path);

std::string SignDetached(const SigningKey& key, absl::string_view message);  // hex
bool VerifyDetached(absl::string_view public_key, absl::string_view message,
                    absl::string_view signature_hex);

}  // namespace prov::integrity
