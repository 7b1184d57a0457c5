// PgLocationRepository: location verification's rows (repo/location.h) in PostgreSQL, tables
// provd.location_node_keys, location_measurements, location_landmarks, location_verdicts
// (pg_schema.cc, PostgreSQL version 7), and location_responders / nodes / inventory for
// ListLocationNodes.
//
//   PROV_ASSIGN_OR_RETURN(auto repo, PgLocationRepository::Open(url.pg_conninfo));
//   PROV_ASSIGN_OR_RETURN(LandmarkRecordsResult r, repo->StoreLandmarkRecords(call));
//   // or, on a connection a factory opened: PgLocationRepository repo(std::move(conn));
//
// Open connects (application_name provd/location, search_path provd) and migrates the schema
// under the migration lock, as the other PostgreSQL repositories do, and keeps that connection.
//
// Replicas: StoreLandmarkRecords is one READ COMMITTED transaction that first takes the
// transaction-level advisory lock (kPgLockKey, kPgLocationLock = 7), then reads the call's
// landmarks' rows, decides (PlanLandmarkRecords, as SQLite does under BEGIN IMMEDIATE), inserts
// the accepted records and overwrites the landmarks' rows. The read's snapshot is taken after
// the lock, so two replicas storing the same landmark's records take turns and the second sees
// the first's committed state: each (landmark, seq) is accepted once, a replayed or reordered
// record is refused by whichever replica comes second, and the state ends at the highest seq.
// Why one lock rather than the landmark rows FOR UPDATE: a landmark's first record has no row to
// lock yet, and the counts (accepted, refused) and last_measured move with the seq, which a
// conditional upsert alone cannot decide per record; landmark calls are rare (one per landmark
// and round, tens of landmarks), so serialising them all across replicas costs nothing
// measurable, and one lock cannot deadlock whatever order a call lists its landmarks in.
// A wait for it is bounded by lock_timeout (UNAVAILABLE). SaveVerdicts given a term runs
// CheckLeaderTerm first in its transaction (pg_leader_election.h): a deposed leader's save writes
// nothing.
//
// Reconnection (server/store/README.md): every call reconnects a dropped or read-only session
// first. Reads and the idempotent upserts (UpsertNodeKeys: MIN/MAX; SaveVerdicts) run once more
// on a new session when theirs was lost during the call. StoreLandmarkRecords is not repeated
// (its COMMIT may have landed: a repeat would find its own records replays and count them
// refused); it first makes sure its session answers (UsablePgSession), so a session dropped
// while idle costs nothing, and a session lost during the call fails it UNAVAILABLE.
// Thread-compatible: one thread at a time (LocationHub: under its mutex).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "server/store/pg/pg_conn.h"
#include "server/store/repo/location.h"

namespace prov::server {

// The second key of the advisory lock serialising StoreLandmarkRecords (server/store/README.md).
inline constexpr int32_t kPgLocationLock = 7;

class PgLocationRepository : public LocationRepository {
 public:
  static absl::StatusOr<std::unique_ptr<PgLocationRepository>> Open(
      const std::string& conninfo, absl::Duration connect_timeout = absl::Seconds(10));
  // `conn`: an open session with search_path provd, on a migrated database.
  explicit PgLocationRepository(std::unique_ptr<PgConn> conn) : conn_(std::move(conn)) {}

  absl::Status UpsertNodeKeys(absl::Span<const StoredNodeKey> keys) override;
  absl::StatusOr<std::vector<StoredNodeKey>> ListNodeKeys() override;
  absl::StatusOr<std::vector<LocationNodeRow>> ListLocationNodes() override;
  absl::StatusOr<LandmarkRecordsResult> StoreLandmarkRecords(const LandmarkRecords& call) override;
  absl::StatusOr<std::vector<StoredMeasurement>> ListMeasurementsSince(absl::Time since) override;
  absl::StatusOr<std::vector<StoredMeasurement>> ListNewestMeasurements(absl::Time since) override;
  absl::StatusOr<std::vector<StoredMeasurement>> ReadMeasurements(
      absl::Span<const int64_t> ids) override;
  absl::StatusOr<std::vector<StoredMeasurement>> ListRecordsAfter(int64_t after_id,
                                                                  size_t limit) override;
  absl::StatusOr<std::optional<StoredVerdict>> ReadVerdict(const std::string& node_id) override;
  absl::StatusOr<std::vector<StoredLandmarkState>> ListLandmarkStates() override;
  using LocationRepository::SaveVerdicts;
  absl::Status SaveVerdicts(absl::Span<const StoredVerdict> verdicts,
                            std::optional<int64_t> leader_term,
                            const VerdictEventsRow& events) override;
  absl::StatusOr<std::vector<StoredVerdict>> ListVerdicts(const std::string& verdict,
                                                          const std::string& after_node_id,
                                                          size_t limit) override;

 private:
  absl::StatusOr<LandmarkRecordsResult> StoreOnce(const LandmarkRecords& call);
  std::unique_ptr<PgConn> conn_;
};

}  // namespace prov::server
