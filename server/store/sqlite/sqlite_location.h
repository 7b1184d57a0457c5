// SqliteLocationRepository: location verification's rows (repo/location.h) in provd's SQLite
// file, on a read-write connection of its own (OpenConnection: busy_timeout 5 s, WAL), and the
// SQL it runs as free functions on an open SqliteDb (the former server/store/location_store.cc,
// moved unchanged; exports and tests read with them inside their own transactions).
//
//   PROV_ASSIGN_OR_RETURN(auto repo, SqliteLocationRepository::Open(data_dir + "/provd.db"));
//   PROV_ASSIGN_OR_RETURN(auto keys, repo->ListNodeKeys());
//   PROV_ASSIGN_OR_RETURN(auto verdicts, ListVerdicts(db, "", "", 1000));  // on another SqliteDb
//
// Open migrates the schema (a no-op once provd's store has). StoreLandmarkRecords runs in a
// BEGIN IMMEDIATE transaction (Transaction::kWrite): the landmarks' states are read under the
// write lock, so another connection's records cannot slip between the read and the write.
// Thread-compatible.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "server/store/repo/location.h"
#include "server/store/sqlite.h"

namespace prov::server {

class SqliteLocationRepository : public LocationRepository {
 public:
  static absl::StatusOr<std::unique_ptr<SqliteLocationRepository>> Open(const std::string& db_path);
  explicit SqliteLocationRepository(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}

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
  std::unique_ptr<SqliteDb> db_;
};

// The statements, on the caller's connection (autocommit or the caller's transaction); no input
// checks (the repository makes them). Same contracts as the repository's methods.
absl::Status UpsertNodeKey(SqliteDb& db, const StoredNodeKey& key);
absl::StatusOr<std::vector<StoredNodeKey>> ListNodeKeys(SqliteDb& db);
absl::StatusOr<std::vector<LocationNodeRow>> ListLocationNodes(SqliteDb& db);
// Returns the new row's id.
absl::StatusOr<int64_t> InsertMeasurement(SqliteDb& db, const StoredMeasurement& m);
absl::StatusOr<std::vector<StoredMeasurement>> ListMeasurementsSince(SqliteDb& db,
                                                                     absl::Time since);
absl::StatusOr<std::vector<StoredMeasurement>> ListNewestMeasurements(SqliteDb& db,
                                                                      absl::Time since);
absl::StatusOr<std::vector<StoredMeasurement>> ReadMeasurements(SqliteDb& db,
                                                                absl::Span<const int64_t> ids);
absl::StatusOr<std::vector<StoredMeasurement>> ListRecordsAfter(SqliteDb& db, int64_t after_id,
                                                                size_t limit);
// Overwrites the landmark's row (the repository writes what PlanLandmarkRecords decided).
absl::Status SaveLandmarkState(SqliteDb& db, const StoredLandmarkState& state);
absl::StatusOr<std::vector<StoredLandmarkState>> ListLandmarkStates(SqliteDb& db);
absl::Status SaveVerdict(SqliteDb& db, const StoredVerdict& v);
absl::StatusOr<std::vector<StoredVerdict>> ListVerdicts(SqliteDb& db, const std::string& verdict,
                                                        const std::string& after_node_id,
                                                        size_t limit);
absl::StatusOr<std::optional<StoredVerdict>> ReadVerdict(SqliteDb& db, const std::string& node_id);

}  // namespace prov::server
