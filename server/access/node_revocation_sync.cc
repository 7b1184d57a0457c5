#include "server/access/node_revocation_sync.h"

#include <vector>

#include "common/status_macros.h"

namespace prov::server {

absl::StatusOr<int> NodeRevocationSync::Poll() {
  PROV_ASSIGN_OR_RETURN(int64_t revision, repo_.Revision());
  if (revision == seen_revision_) return 0;
  PROV_ASSIGN_OR_RETURN(std::vector<StoredRevocation> all, repo_.List());
  int added = 0;
  for (const StoredRevocation& r : all) {
    const bool known = list_.RevokedAt(r.node_id).has_value();
    list_.Add(r.node_id, r.revoked_at);
    if (known) continue;
    ++added;
    if (end_streams_) end_streams_(r.node_id);
  }
  // The count of the rows read (which include any revocation committed after Revision()).
  seen_revision_ = static_cast<int64_t>(all.size());
  return added;
}

}  // namespace prov::server
