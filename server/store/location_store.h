// Location verification's SQLite rows (issue 11; SCHEMA.md, version 14). The repository
// (LocationRepository: node keys, landmark records and states, verdicts) is in
// server/store/repo/location.h, on SQLite in server/store/sqlite/sqlite_location.h, which this
// header includes for the SQLite reads exports and tests run on an open SqliteDb. What stays
// here is ingest's part: the node's responder address, written inside Store::Commit.
//
//   // The ingest writer, inside Store::Commit's transaction, once per node and batch:
//   PROV_RETURN_IF_ERROR(RecordLocationResponder(db, cache, node_rowid, address, seen_us));
//
// Thread-compatible: every function uses the connection it is given, which the caller serialises.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "server/store/ingest_write_caches.h"
#include "server/store/sqlite.h"
#include "server/store/sqlite/sqlite_location.h"

namespace prov::server {

// Stores the node's NodeIdentity.location_responder when it differs from the stored one (empty
// addresses are stored too: the node stopped running a responder). No SQL on a cache hit.
// `cache` (LocationResponderCache, ingest_write_caches.h): nodes.id -> the address written last.
// PostgreSQL: PgRecordLocationResponder (pg/pg_ingest_node_rows.h).
absl::Status RecordLocationResponder(SqliteDb& db, LocationResponderCache& cache, int64_t node,
                                     const std::string& address, int64_t seen_us);

}  // namespace prov::server
