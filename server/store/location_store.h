// Location verification's rows (issue 11; SCHEMA.md, version 14): node public keys, node responder
// addresses, accepted landmark measurement records (their exact signed bytes), each landmark's
// replay/clock state, and each node's newest verdict.
//
//   // provd's location hub, on its own read-write connection:
//   PROV_RETURN_IF_ERROR(UpsertNodeKey(db, {"gpu-017", spki_der, now, now, "stream"}));
//   PROV_ASSIGN_OR_RETURN(int64_t id, InsertMeasurement(db, record));
//   PROV_RETURN_IF_ERROR(SaveLandmarkState(db, state));
//   PROV_RETURN_IF_ERROR(SaveVerdict(db, verdict));
//   // The ingest writer, inside Store::Commit's transaction, once per node and batch:
//   PROV_RETURN_IF_ERROR(RecordLocationResponder(db, cache, node_rowid, address, seen_us));
//
// Thread-compatible: every function uses the connection it is given, which the caller serialises.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "server/store/ingest_write_caches.h"
#include "server/store/sqlite.h"

namespace prov::server {

struct StoredNodeKey {
  std::string node_id;
  std::string spki_der;  // DER SubjectPublicKeyInfo
  absl::Time first_seen;
  absl::Time last_seen;
  std::string source;  // "stream" (a bound AgentGateway stream) or "node_ca" (issued here)
};

// Inserts or updates one of the node's keys (a node keeps every key it had: one row per node and
// key): first_seen moves back, last_seen forward; "stream" sticks once a stream bound the key.
// Runs in its own statement (autocommit) or the caller's transaction.
absl::Status UpsertNodeKey(SqliteDb& db, const StoredNodeKey& key);
// Every node's keys, by node and first_seen.
absl::StatusOr<std::vector<StoredNodeKey>> ListNodeKeys(SqliteDb& db);

// Stores the node's NodeIdentity.location_responder when it differs from the stored one (empty
// addresses are stored too: the node stopped running a responder). No SQL on a cache hit.
// `cache` (LocationResponderCache, ingest_write_caches.h): nodes.id -> the address written last.
absl::Status RecordLocationResponder(SqliteDb& db, LocationResponderCache& cache, int64_t node,
                                     const std::string& address, int64_t seen_us);

// A node provd could assign to landmarks: its responder, and where it is declared.
struct LocationNodeRow {
  std::string node_id;
  std::string responder;             // "host:port"; empty: none
  std::string report_datacenter;     // nodes.datacenter (what its reports say)
  std::string region;                // nodes.region
  std::string inventory_datacenter;  // the datacenter of its inventory rows ("" when none)
};
// Every node in `nodes`, with its responder row where it has one (responder "" otherwise).
absl::StatusOr<std::vector<LocationNodeRow>> ListLocationNodes(SqliteDb& db);

struct StoredMeasurement {
  int64_t id = 0;  // set by InsertMeasurement
  absl::Time received_at;
  std::string landmark_id;
  std::string target_kind;  // "node" or "landmark"
  std::string target_id;
  absl::Time measured_at;
  uint64_t landmark_seq = 0;
  double rtt_min_ms = 0;
  int64_t answers_valid = 0;
  std::string measurement;  // the serialized Measurement, exactly as signed
  std::string signature;    // the landmark's Ed25519 signature (64 bytes)
};

// Returns the new row's id.
absl::StatusOr<int64_t> InsertMeasurement(SqliteDb& db, const StoredMeasurement& m);
// Records measured at or after `since`, oldest first (provd's start-up rebuilds its book).
absl::StatusOr<std::vector<StoredMeasurement>> ListMeasurementsSince(SqliteDb& db,
                                                                     absl::Time since);
// Per (landmark, target kind, target) the newest record measured at or after `since` with a
// valid answer, without the blobs (measurement, signature empty): what provd's start-up needs.
absl::StatusOr<std::vector<StoredMeasurement>> ListNewestMeasurements(SqliteDb& db,
                                                                      absl::Time since);
// The rows with these ids, by id (missing ids are skipped).
absl::StatusOr<std::vector<StoredMeasurement>> ReadMeasurements(SqliteDb& db,
                                                                absl::Span<const int64_t> ids);

// A landmark's replay and clock state: the newest accepted record's seq and measured_at.
struct StoredLandmarkState {
  std::string landmark_id;
  uint64_t last_seq = 0;
  absl::Time last_measured = absl::UnixEpoch();
  absl::Time last_record = absl::UnixEpoch();  // provd's clock when it was accepted
  int64_t accepted = 0;
  int64_t refused = 0;
};
absl::Status SaveLandmarkState(SqliteDb& db, const StoredLandmarkState& state);
absl::StatusOr<std::vector<StoredLandmarkState>> ListLandmarkStates(SqliteDb& db);

// A node's newest verdict: the NodeLocation proto (serialized) and the records it rests on.
struct StoredVerdict {
  std::string node_id;
  std::string verdict;  // "verified", "unverified", "contradicted"
  absl::Time evaluated_at;
  std::string location;     // serialized provenance.v1.NodeLocation
  std::string disk_ids;     // JSON array of location_measurements ids
  std::string calibration;  // JSON object landmark id -> array of ids
  std::string params;       // JSON object: the verifier parameters it was judged with
};
absl::Status SaveVerdict(SqliteDb& db, const StoredVerdict& v);
// Keyset paging by node id; `verdict` empty: all.
absl::StatusOr<std::vector<StoredVerdict>> ListVerdicts(SqliteDb& db, const std::string& verdict,
                                                        const std::string& after_node_id,
                                                        size_t limit);

}  // namespace prov::server
