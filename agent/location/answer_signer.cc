#include "agent/location/answer_signer.h"

#include "absl/strings/str_cat.h"
#include "common/fs.h"

namespace prov::agent {

absl::StatusOr<std::unique_ptr<NodeKeyAnswerSigner>> NodeKeyAnswerSigner::FromKeyFile(
    const std::string& path) {
  auto pem = ReadFileToString(path, 1u << 16);
  if (!pem.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("node key: ", pem.status().message()));
  }
  auto signer = FromKeyPem(*pem);
  if (!signer.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", signer.status().message()));
  }
  return signer;
}

}  // namespace prov::agent
