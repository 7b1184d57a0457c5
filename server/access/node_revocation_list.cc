#include "server/access/node_revocation_list.h"

#include <algorithm>

namespace prov::server {

void NodeRevocationList::Add(const std::string& node_id, absl::Time revoked_at) {
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = revoked_.emplace(node_id, revoked_at);
  if (!inserted) it->second = std::min(it->second, revoked_at);
}

std::optional<absl::Time> NodeRevocationList::RevokedAt(absl::string_view node_id) const {
  absl::MutexLock lock(&mu_);
  auto it = revoked_.find(node_id);
  if (it == revoked_.end()) return std::nullopt;
  return it->second;
}

bool NodeRevocationList::Refuses(absl::string_view node_id, absl::Time not_before) const {
  std::optional<absl::Time> at = RevokedAt(node_id);
  return at.has_value() && not_before <= *at;
}

size_t NodeRevocationList::size() const {
  absl::MutexLock lock(&mu_);
  return revoked_.size();
}

}  // namespace prov::server
