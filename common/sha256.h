// SHA-256 digests (OpenSSL EVP), used for command-line and image digests and export manifests.
//
//   std::string hex = prov::Sha256Hex("hello");  // 64 lowercase hex characters
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace prov {

std::string Sha256Hex(absl::string_view data);
// The digest of a file's bytes, read in 1 MiB pieces (any size; constant memory).
absl::StatusOr<std::string> Sha256FileHex(const std::string& path);

}  // namespace prov
