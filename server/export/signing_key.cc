#include "server/export/signing_key.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/fs.h"
#include "common/log/log.h"
#include "common/status_macros.h"

namespace prov::server {

std::string PublicKeyPathFor(const std::string& key_path) {
  if (absl::EndsWith(key_path, ".key")) {
    return absl::StrCat(key_path.substr(0, key_path.size() - 4), ".pub");
  }
  return absl::StrCat(key_path, ".pub");
}

absl::StatusOr<integrity::SigningKey> LoadOrCreateSigningKey(const std::string& key_path,
                                                             bool create) {
  integrity::SigningKey key;
  if (PathExists(key_path)) {
    PROV_ASSIGN_OR_RETURN(key, integrity::LoadSigningKey(key_path));
  } else if (!create) {
    return absl::NotFoundError(absl::StrCat(key_path, ": no such signing key file"));
  } else {
    PROV_ASSIGN_OR_RETURN(key, integrity::GenerateSigningKey());
    PROV_RETURN_IF_ERROR(integrity::SaveSigningKey(key_path, key));
  }
  const std::string pub = PublicKeyPathFor(key_path);
  if (!PathExists(pub)) {
    absl::Status saved = integrity::SavePublicKey(pub, key.public_key);
    if (!saved.ok() && create) return saved;
    if (!saved.ok()) {
      // An operator's key often lies where nothing may be written (a Kubernetes Secret, /etc
      // under ProtectSystem=strict): the key still signs, and auditors get the public key from
      // `provctl exports key` (ExportService.GetSigningKey).
      PROV_LOG_WARN("exports",
                    "cannot write the public key beside --export-signing-key; exports are signed "
                    "all the same (`provctl exports key` prints the public key)",
                    {"path", pub}, {"error", saved});
    }
  }
  return key;
}

}  // namespace prov::server
