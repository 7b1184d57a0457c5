// NodeRevocationSync: brings node revocations made on other provd replicas (sharing one
// PostgreSQL) into this replica's NodeRevocationList and ends the revoked nodes' open agent
// streams here, as NodeAdminServiceImpl::RevokeNode does on the replica that took the request.
//
//   NodeRevocationSync sync(*revocations, *revoked_nodes, end_streams);
//   // every `interval` (the bound below), on one thread:
//   absl::StatusOr<int> added = sync.Poll();
//
// Poll reads the repository's revision (the count of revoked nodes, one cheap query) and, only
// when it moved since the last Poll, the revocations: each node not in the list yet is added and
// its open streams are ended. So a node revoked on another replica is refused here (new streams
// and renewals: NodeCertBinder) and its streams here are ended within one poll interval of the
// revocation's commit, while the database answers; a failed Poll changes nothing and the next
// one tries again. Revocations are never undone, so the list only grows.
// Not wired into provd yet: provd runs on SQLite only (one replica, whose NodeAdminService updates
// the list itself); the slice that runs provd on PostgreSQL drives Poll from a timer thread.
// Thread-compatible: one thread polls (the list and the repository are thread-safe).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "server/access/node_revocation_list.h"
#include "server/store/repo/node_revocations.h"

namespace prov::server {

class NodeRevocationSync {
 public:
  // Ends the open agent streams of a node; returns how many (may be empty: none to end).
  using EndStreams = std::function<int(const std::string& node_id)>;

  // `repo` and `list` must outlive the sync.
  NodeRevocationSync(NodeRevocationRepository& repo, NodeRevocationList& list,
                     EndStreams end_streams)
      : repo_(repo), list_(list), end_streams_(std::move(end_streams)) {}

  // Returns how many nodes were new to the list.
  absl::StatusOr<int> Poll();

 private:
  NodeRevocationRepository& repo_;
  NodeRevocationList& list_;
  const EndStreams end_streams_;
  int64_t seen_revision_ = -1;
};

}  // namespace prov::server
