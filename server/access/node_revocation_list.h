// NodeRevocationList: the revoked nodes, in memory, for the agent gateway's certificate check
// (node_cert.h). Loaded from the store at start (NodeRevocationRepository::List), added to by
// NodeAdminService::RevokeNode after its transaction commits, and by NodeRevocationSync::Poll
// (node_revocation_sync.h) for revocations made on other replicas.
//
//   NodeRevocationList revoked;
//   revoked.Add("gpu-017", revoked_at);
//   if (revoked.Refuses("gpu-017", cert_not_before)) ...   // issued at or before the revocation
//
// Thread-safe.
#pragma once

#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace prov::server {

class NodeRevocationList {
 public:
  // Keeps the earliest time when the node is revoked already.
  void Add(const std::string& node_id, absl::Time revoked_at);
  // When the node was revoked; nullopt when it is not.
  std::optional<absl::Time> RevokedAt(absl::string_view node_id) const;
  // A certificate of `node_id` issued (notBefore) at `not_before` is refused.
  bool Refuses(absl::string_view node_id, absl::Time not_before) const;
  size_t size() const;

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, absl::Time> revoked_ ABSL_GUARDED_BY(mu_);
};

}  // namespace prov::server
