#include "server/store/repo/api_tokens.h"

namespace prov::server {

int64_t ApiTokenRevision(const std::vector<StoredApiToken>& tokens) {
  int64_t revision = 0;
  for (const StoredApiToken& t : tokens) revision += t.revoked_at.has_value() ? 2 : 1;
  return revision;
}

absl::Status CheckNewApiToken(const StoredApiToken& token) {
  if (token.revoked_at.has_value()) {
    return absl::InvalidArgumentError("revoked_at: a new token is not revoked");
  }
  return absl::OkStatus();
}

}  // namespace prov::server
