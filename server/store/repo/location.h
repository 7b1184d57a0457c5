// LocationRepository: location verification's rows (issue 11; tables location_node_keys,
// location_measurements, location_landmarks, location_verdicts, server/store/SCHEMA.md) on either
// engine: SqliteLocationRepository (server/store/sqlite/) or PgLocationRepository
// (server/store/pg/). tests/store/location_conformance_test.cc holds both to the same behaviour.
//
//   PROV_ASSIGN_OR_RETURN(auto repo, SqliteLocationRepository::Open(data_dir + "/provd.db"));
//   PROV_RETURN_IF_ERROR(repo->UpsertNodeKeys({{"gpu-017", spki_der, now, now, "stream"}}));
//   LandmarkRecords call{.received_at = now, .records = {record}, .refused = {{"lm-fra-1", 2}}};
//   PROV_ASSIGN_OR_RETURN(LandmarkRecordsResult stored, repo->StoreLandmarkRecords(call));
//   // stored.ids[i] == 0: record i was a replay of a seq already stored (by another replica)
//   PROV_RETURN_IF_ERROR(repo->SaveVerdicts({verdict}, leader_term));
//   PROV_RETURN_IF_ERROR(repo->SaveVerdicts({verdict}, leader_term, {now_us, encoded_events}));
//
// The landmark sequence rule (replay refusal) is decided by the repository, inside the write
// that stores the records, against the stored landmark row: on several replicas sharing one
// database each (landmark, seq) is accepted at most once and a landmark's state only moves
// forward, whichever replica a record reaches (the caller's own in-memory check is only a
// first filter). Both engines make the decision with PlanLandmarkRecords below.
// Bad input (an empty or oversize id, an unknown kind, verdict or source, a NUL byte in a text
// field, an oversize blob) is INVALID_ARGUMENT naming the field, before anything is written.
// Thread-compatible: one thread at a time uses a repository (LocationHub: under its mutex).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace prov::server {

struct StoredNodeKey {
  std::string node_id;
  std::string spki_der;  // DER SubjectPublicKeyInfo
  absl::Time first_seen;
  absl::Time last_seen;
  std::string source;  // "stream" (a bound AgentGateway stream) or "node_ca" (issued here)
};

// A node provd could assign to landmarks: its responder, and where it is declared.
struct LocationNodeRow {
  std::string node_id;
  std::string responder;             // "host:port"; empty: none
  std::string report_datacenter;     // nodes.datacenter (what its reports say)
  std::string region;                // nodes.region
  std::string inventory_datacenter;  // the datacenter of its inventory rows ("" when none)
};

struct StoredMeasurement {
  int64_t id = 0;  // set by the store
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

// A landmark's replay and clock state: the newest accepted record's seq and measured_at.
struct StoredLandmarkState {
  std::string landmark_id;
  uint64_t last_seq = 0;
  absl::Time last_measured = absl::UnixEpoch();
  absl::Time last_record = absl::UnixEpoch();  // provd's clock when it was accepted
  int64_t accepted = 0;
  int64_t refused = 0;
  bool operator==(const StoredLandmarkState&) const = default;
};

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

// The node events that saved verdicts make (EncodeNodeEvents,
// server/analysis/observation_record.h), as one row of the PostgreSQL ingest batch log written in
// the verdicts' own transaction. An empty record: none.
struct VerdictEventsRow {
  int64_t received_us = 0;  // the row's time (the judging replica's clock)
  std::string record;
};

// One landmark call's outcome to store: the records the caller's checks accepted, in call order
// (each record's received_at is taken from `received_at`), and per landmark how many records the
// caller's checks refused (counted in its state's `refused`).
struct LandmarkRecords {
  absl::Time received_at;
  std::vector<StoredMeasurement> records;
  std::map<std::string, int64_t> refused;
};
struct LandmarkRecordsResult {
  // Per record: its new row id; 0 when the store refused it as a replay (its landmark_seq is not
  // above the landmark's last stored or earlier accepted one: another replica stored it, or a
  // later one, first). Counted in the landmark's `refused`.
  std::vector<int64_t> ids;
  // Every landmark of the call (records and `refused`), as stored after it, by landmark_id.
  std::vector<StoredLandmarkState> states;
};

class LocationRepository {
 public:
  virtual ~LocationRepository() = default;

  // Inserts or updates each of the nodes' keys (one row per node and key), all in one
  // transaction: first_seen moves back, last_seen forward; "stream" sticks once a stream bound
  // the key. Safe to repeat.
  virtual absl::Status UpsertNodeKeys(absl::Span<const StoredNodeKey> keys) = 0;
  // Every node's keys, by node_id, first_seen, spki (byte order).
  virtual absl::StatusOr<std::vector<StoredNodeKey>> ListNodeKeys() = 0;
  // Every node in `nodes`, by node_id, with its responder row where it has one (responder ""
  // otherwise) and the datacenter of its inventory row with the lowest serial.
  virtual absl::StatusOr<std::vector<LocationNodeRow>> ListLocationNodes() = 0;

  // In one transaction serialised with every other call's on the database: reads the call's
  // landmarks' stored states, refuses (id 0) each record whose seq is not above its landmark's
  // (PlanLandmarkRecords), inserts the others and writes the landmarks' new states.
  virtual absl::StatusOr<LandmarkRecordsResult> StoreLandmarkRecords(
      const LandmarkRecords& call) = 0;
  // Records measured at or after `since`, by id (oldest first).
  virtual absl::StatusOr<std::vector<StoredMeasurement>> ListMeasurementsSince(
      absl::Time since) = 0;
  // Per (landmark, target kind, target) the newest record (highest measured_at; which of two
  // records measured in the same microsecond is unspecified) measured at or after `since` with a
  // valid answer (answers > 0), without received_at, landmark_seq and the blobs (left empty), by
  // landmark, target kind, target.
  virtual absl::StatusOr<std::vector<StoredMeasurement>> ListNewestMeasurements(
      absl::Time since) = 0;
  // The rows with these ids, in the order asked (missing ids are skipped).
  virtual absl::StatusOr<std::vector<StoredMeasurement>> ReadMeasurements(
      absl::Span<const int64_t> ids) = 0;
  // Records with an id above `after_id`, by id, at most `limit`, without the blobs (left empty):
  // how a replica's hub takes in what the others stored (LocationHub, docs/design/scale-out.md).
  virtual absl::StatusOr<std::vector<StoredMeasurement>> ListRecordsAfter(int64_t after_id,
                                                                          size_t limit) = 0;
  // Every landmark's state, by landmark_id.
  virtual absl::StatusOr<std::vector<StoredLandmarkState>> ListLandmarkStates() = 0;

  // Upserts each node's verdict row, all in one transaction. Safe to repeat. `leader_term`: the
  // term of the replica that judged them; on PostgreSQL the transaction is fenced by it
  // (CheckLeaderTerm: a deposed leader's save writes nothing, FAILED_PRECONDITION). SQLite has
  // one provd and ignores it. nullopt: not fenced (a store without replicas).
  // `events` (PostgreSQL): appended to the ingest batch log in the same transaction, so the
  // leader's engine hears of exactly the verdicts that were saved: a leader that dies after the
  // commit has handed them on already, one whose save fails (or is fenced) hands on nothing. A
  // repeat after a lost COMMIT answer may append them twice (at least once, like the node-event
  // forwarder). SQLite has no batch log (its engine runs in process): a non-empty record is
  // INVALID_ARGUMENT there, and nothing is written.
  virtual absl::Status SaveVerdicts(absl::Span<const StoredVerdict> verdicts,
                                    std::optional<int64_t> leader_term,
                                    const VerdictEventsRow& events) = 0;
  // Without events.
  absl::Status SaveVerdicts(absl::Span<const StoredVerdict> verdicts,
                            std::optional<int64_t> leader_term) {
    return SaveVerdicts(verdicts, leader_term, VerdictEventsRow{});
  }
  // Keyset paging by node_id (byte order): rows after `after_node_id`, at most `limit`;
  // `verdict` empty: all, else only that verdict (INVALID_ARGUMENT for an unknown one).
  virtual absl::StatusOr<std::vector<StoredVerdict>> ListVerdicts(const std::string& verdict,
                                                                  const std::string& after_node_id,
                                                                  size_t limit) = 0;
  // The node's verdict row; nullopt when it has none.
  virtual absl::StatusOr<std::optional<StoredVerdict>> ReadVerdict(const std::string& node_id) = 0;
};

// Limits both engines check (INVALID_ARGUMENT beyond them).
inline constexpr size_t kMaxLocationIdBytes = 1024;       // node, landmark and target ids
inline constexpr size_t kMaxLocationBlobBytes = 1 << 20;  // spki, measurement, verdict fields
inline constexpr size_t kMaxLandmarkRecordsPerCall = 10'000;

absl::Status CheckNodeKey(const StoredNodeKey& key);
absl::Status CheckLandmarkRecords(const LandmarkRecords& call);
absl::Status CheckVerdict(const StoredVerdict& verdict);
absl::Status CheckVerdictFilter(const std::string& verdict);
absl::Status CheckVerdictNodeId(const std::string& node_id);  // ReadVerdict's

// The decision both engines make under their write lock. `stored`: the call's landmarks' stored
// states (absent: no row yet). A record is accepted when its landmark has neither a stored row
// nor an earlier accepted record in this call, or when its seq is above the landmark's last
// (stored or accepted earlier in the call); an accepted record moves last_seq, last_measured
// (its measured_at) and last_record (received_at) and counts in `accepted`; a refused one and
// the call's `refused` count in `refused`.
struct LandmarkRecordsPlan {
  std::vector<bool> accept;                 // per record
  std::vector<StoredLandmarkState> states;  // every landmark of the call, by landmark_id
};
LandmarkRecordsPlan PlanLandmarkRecords(const LandmarkRecords& call,
                                        const std::map<std::string, StoredLandmarkState>& stored);
// The distinct landmark ids of a call (records and refusals), in byte order.
std::vector<std::string> LandmarksOf(const LandmarkRecords& call);

}  // namespace prov::server
