// A node's SMBIOS hardware identity (NodeIdentity.hardware) as provd stores it: the newest one per
// node and every change of its system UUID or board serial (SCHEMA.md, version 12).
//
//   // Writer side, inside Store::Commit's transaction, once per node and batch:
//   NodeHardwareCache cache;                                 // owned by the Store
//   PROV_RETURN_IF_ERROR(RecordNodeHardware(db, cache, node_rowid, report, seen_us));
//   // Reader side (GetNode):
//   PROV_RETURN_IF_ERROR(ReadNodeHardware(db, node_rowid, /*with_changes=*/true, &identity));
//
// The ingest hot path stays cheap: RecordNodeHardware compares the report's identity key with the
// cached key of the stored row and returns without SQL when they are equal; it reads and writes
// only on a cache miss (first report of a node since provd started) or a change. Not thread-safe:
// each function uses the connection it is given, which the caller serialises.
#pragma once

#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "provenance/v1/audit.pb.h"
#include "provenance/v1/report.pb.h"
#include "server/store/ingest_write_caches.h"
#include "server/store/node_hardware_key.h"
#include "server/store/sqlite.h"

namespace prov::server {

// NodeHardwareCache (ingest_write_caches.h): nodes.id -> NodeHardwareKey of the stored row.

// Stores `report`'s NodeIdentity.hardware for node `node` (nodes.id) when it differs from the
// stored one, and a node_hardware_changes row per system_uuid / board_serial that changed (both
// values non-empty). Must run before the batch updates nodes.last_seen_us (it reads the previous
// one). Skips reports without hardware and reports older than the node's newest stored one.
absl::Status RecordNodeHardware(SqliteDb& db, NodeHardwareCache& cache, int64_t node,
                                const provenance::v1::NodeReport& report, int64_t seen_us);

// Fills `out` from node `node`'s rows; leaves it empty when none. `with_changes`: also the newest
// 50 changes (changes_total is always set).
absl::Status ReadNodeHardware(SqliteDb& db, int64_t node, bool with_changes,
                              provenance::v1::NodeHardwareIdentity* out);

}  // namespace prov::server
