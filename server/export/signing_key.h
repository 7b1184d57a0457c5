// The Ed25519 key provd signs export manifests with.
//
//   // <data-dir>/export-signing.key, generated on first use (mode 0600), with the public key
//   // beside it in export-signing.pub for auditors:
//   PROV_ASSIGN_OR_RETURN(SigningKey key, LoadOrCreateSigningKey(path, /*create=*/true));
//
// An operator-supplied key file (provd --export-signing-key FILE) is never created: a missing
// file is an error (create=false), so a typo cannot silently start a new chain of trust. The
// public key file is written next to it (<path without .key>.pub) when missing; for an
// operator-supplied key in a read-only place (a Kubernetes Secret) that failure is logged, not
// fatal (the public key is also served by ExportService.GetSigningKey).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "common/integrity/ed25519.h"

namespace prov::server {

std::string PublicKeyPathFor(const std::string& key_path);
absl::StatusOr<integrity::SigningKey> LoadOrCreateSigningKey(const std::string& key_path,
                                                             bool create);

}  // namespace prov::server
