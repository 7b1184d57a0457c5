// IngestStateSource: the stored state the ingest planner (ingest_planner.h) asks for while it plans
// a batch, answered by an engine inside the batch's transaction (the SQLite Store answers from its
// caches, reading the database on a miss).
//
//   class MyEngine : private IngestStateSource { ... };   // answers from its tables
//   PROV_ASSIGN_OR_RETURN(int64_t node, state.Node("gpu-017", seen_us));
//   PROV_ASSIGN_OR_RETURN(StreamState * s, state.Stream(node, "boot-a"));
//   s->max_seq;                                            // the (node, boot) high-water mark
//
// StreamState and NodeCredit are returned by pointer so the planner advances them in place as it
// stores reports: the owner keeps them (a cache of what the batch is about to commit) and must
// forget them when the transaction fails. A returned pointer stays valid until the next call of
// the same method. Thread-compatible: used by the ingest writer thread only.
#pragma once

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/ledger/credit.h"

namespace prov::server {

// Per (node, boot): the dedup high-water mark and the ledger's credit state (node_streams).
struct StreamState {
  uint64_t max_seq = 0;
  StreamCredit credit;
};

// Per node: the furthest any boot was credited, and where its newest boot started.
struct NodeCredit {
  int64_t horizon_us = 0;
  int64_t newest_boot_us = 0;
};

class IngestStateSource {
 public:
  virtual ~IngestStateSource() = default;

  // The node's handle (the engine's row id, the key of every planned row), its record created
  // in the batch's transaction when the node was never seen (first_seen_us = seen_us).
  virtual absl::StatusOr<int64_t> Node(absl::string_view node_id, int64_t seen_us) = 0;
  // The (node, boot)'s stored state; all zero for a boot never stored.
  virtual absl::StatusOr<StreamState*> Stream(int64_t node, absl::string_view boot_id) = 0;
  // Over the node's stored boots: max credited_until_us and max first_credit_us (0 when none).
  virtual absl::StatusOr<NodeCredit*> Horizon(int64_t node) = 0;
  // The node record's last_seen_us (newest collected_at stored; 0 when none).
  virtual absl::StatusOr<int64_t> NodeLastSeen(int64_t node) = 0;
  // Whether the stored (node, workload) row was last seen at or after since_us (false when none).
  virtual absl::StatusOr<bool> WorkloadSeenSince(int64_t node, absl::string_view workload_id,
                                                 int64_t since_us) = 0;
};

}  // namespace prov::server
