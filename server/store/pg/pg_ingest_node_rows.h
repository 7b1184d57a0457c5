// The per-node rows of an ingest commit on PostgreSQL that the planner only flags
// (PlannedNode::check_hardware / check_location_responder, ingest_plan.h): the node's SMBIOS
// identity (node_hardware, node_hardware_changes) and its location responder
// (location_responders). The PostgreSQL counterparts of RecordNodeHardware (node_hardware.h) and
// RecordLocationResponder (location_store.h), making the same decisions (DecideNodeHardware).
//
//   // inside PgIngestRepository::Commit's transaction, before the nodes rows are updated:
//   PROV_RETURN_IF_ERROR(PgRecordNodeHardware(conn, caches.node_hardware, node, *n.latest, us));
//   PROV_RETURN_IF_ERROR(PgRecordLocationResponder(conn, caches.location_responders, node,
//                                                  n.latest->node().location_responder(), us));
//
// No SQL on a cache hit; otherwise the stored row is read and written only when it differs.
// Thread-compatible: uses the caller's connection, inside its transaction.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "provenance/v1/report.pb.h"
#include "server/store/ingest_write_caches.h"
#include "server/store/pg/pg_conn.h"

namespace prov::server {

// Stores `report`'s NodeIdentity.hardware for node `node` (nodes.id) when it differs from the
// stored one, with a node_hardware_changes row per changed system_uuid / board_serial. Must run
// before the batch updates nodes.last_seen_us (it reads the previous one).
absl::Status PgRecordNodeHardware(PgConn& conn, NodeHardwareCache& cache, int64_t node,
                                  const provenance::v1::NodeReport& report, int64_t seen_us);

// Stores the node's location responder address when it differs from the stored one (an empty
// one too, once the node had a row).
absl::Status PgRecordLocationResponder(PgConn& conn, LocationResponderCache& cache, int64_t node,
                                       const std::string& address, int64_t seen_us);

}  // namespace prov::server
