#include "server/store/sqlite/sqlite_location.h"

#include <algorithm>
#include <cstdint>
#include <map>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/store/connection.h"
#include "server/store/schema.h"
#include "server/store/transaction.h"

namespace prov::server {
namespace {

int64_t Us(absl::Time t) { return absl::ToUnixMicros(t); }
absl::Time FromUs(int64_t us) { return absl::FromUnixMicros(us); }

// A record's columns without its blobs (ListRecordsAfter), and with them.
constexpr char kLocationColumns[] =
    "id, received_us, landmark_id, target_kind, target_id, measured_us, landmark_seq, rtt_min_ms, "
    "answers";
constexpr char kBlobColumns[] = ", measurement, signature";

// Columns 0-8 (kLocationColumns); the blobs left empty.
StoredMeasurement RecordOf(const Statement& st) {
  StoredMeasurement m;
  m.id = st.ColumnInt64(0);
  m.received_at = FromUs(st.ColumnInt64(1));
  m.landmark_id = st.ColumnText(2);
  m.target_kind = st.ColumnText(3);
  m.target_id = st.ColumnText(4);
  m.measured_at = FromUs(st.ColumnInt64(5));
  m.landmark_seq = static_cast<uint64_t>(st.ColumnInt64(6));
  m.rtt_min_ms = st.ColumnDouble(7);
  m.answers_valid = st.ColumnInt64(8);
  return m;
}

// kLocationColumns and kBlobColumns.
StoredMeasurement MeasurementOf(const Statement& st) {
  StoredMeasurement m = RecordOf(st);
  m.measurement = st.ColumnBlob(9);
  m.signature = st.ColumnBlob(10);
  return m;
}

// Runs `st` to the end, appending each row through `of`.
template <typename T, typename F>
absl::Status Collect(Statement& st, std::vector<T>& out, F of) {
  while (true) {
    absl::StatusOr<bool> row = st.Step();
    if (!row.ok()) {
      st.Reset();
      return row.status();
    }
    if (!*row) break;
    out.push_back(of(st));
  }
  st.Reset();
  return absl::OkStatus();
}

}  // namespace

absl::Status UpsertNodeKey(SqliteDb& db, const StoredNodeKey& key) {
  PROV_ASSIGN_OR_RETURN(
      Statement * st,
      db.Cached(
          "INSERT INTO location_node_keys(node_id, spki, first_seen_us, last_seen_us, source) "
          "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(node_id, spki) DO UPDATE SET "
          "first_seen_us = MIN(first_seen_us, excluded.first_seen_us), "
          "last_seen_us = MAX(last_seen_us, excluded.last_seen_us), "
          "source = IIF(excluded.source = 'stream', 'stream', source)"));
  st->BindText(1, key.node_id);
  st->BindBlob(2, key.spki_der);
  st->BindInt64(3, Us(key.first_seen));
  st->BindInt64(4, Us(key.last_seen));
  st->BindText(5, key.source);
  absl::Status s = st->Run();
  st->Reset();
  return s;
}

absl::StatusOr<std::vector<StoredNodeKey>> ListNodeKeys(SqliteDb& db) {
  PROV_ASSIGN_OR_RETURN(Statement * st,
                        db.Cached("SELECT node_id, spki, first_seen_us, last_seen_us, source FROM "
                                  "location_node_keys ORDER BY node_id, first_seen_us, spki"));
  std::vector<StoredNodeKey> out;
  PROV_RETURN_IF_ERROR(Collect(*st, out, [](const Statement& s) {
    return StoredNodeKey{s.ColumnText(0), s.ColumnBlob(1), FromUs(s.ColumnInt64(2)),
                         FromUs(s.ColumnInt64(3)), s.ColumnText(4)};
  }));
  return out;
}

absl::StatusOr<std::vector<LocationNodeRow>> ListLocationNodes(SqliteDb& db) {
  PROV_ASSIGN_OR_RETURN(
      Statement * st,
      db.Cached("SELECT n.node_id, COALESCE(r.address, ''), n.datacenter, n.region, "
                "COALESCE((SELECT i.datacenter FROM inventory i WHERE i.node_id = n.node_id "
                "ORDER BY i.serial LIMIT 1), '') "
                "FROM nodes n LEFT JOIN location_responders r ON r.node = n.id "
                "ORDER BY n.node_id"));
  std::vector<LocationNodeRow> out;
  PROV_RETURN_IF_ERROR(Collect(*st, out, [](const Statement& s) {
    return LocationNodeRow{s.ColumnText(0), s.ColumnText(1), s.ColumnText(2), s.ColumnText(3),
                           s.ColumnText(4)};
  }));
  return out;
}

absl::StatusOr<int64_t> InsertMeasurement(SqliteDb& db, const StoredMeasurement& m) {
  PROV_ASSIGN_OR_RETURN(
      Statement * st,
      db.Cached("INSERT INTO location_measurements(received_us, landmark_id, target_kind, "
                "target_id, measured_us, landmark_seq, rtt_min_ms, answers, measurement, "
                "signature) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"));
  st->BindInt64(1, Us(m.received_at));
  st->BindText(2, m.landmark_id);
  st->BindText(3, m.target_kind);
  st->BindText(4, m.target_id);
  st->BindInt64(5, Us(m.measured_at));
  st->BindInt64(6, static_cast<int64_t>(m.landmark_seq));
  st->BindDouble(7, m.rtt_min_ms);
  st->BindInt64(8, m.answers_valid);
  st->BindBlob(9, m.measurement);
  st->BindBlob(10, m.signature);
  absl::Status s = st->Run();
  st->Reset();
  PROV_RETURN_IF_ERROR(s);
  return db.LastInsertRowId();
}

absl::StatusOr<std::vector<StoredMeasurement>> ListMeasurementsSince(SqliteDb& db,
                                                                     absl::Time since) {
  PROV_ASSIGN_OR_RETURN(
      Statement * st, db.Cached(absl::StrCat("SELECT ", kLocationColumns, kBlobColumns,
                                             " FROM location_measurements WHERE measured_us >= ?1 "
                                             "ORDER BY id")));
  st->BindInt64(1, Us(since));
  std::vector<StoredMeasurement> out;
  PROV_RETURN_IF_ERROR(Collect(*st, out, MeasurementOf));
  return out;
}

absl::StatusOr<std::vector<StoredMeasurement>> ListNewestMeasurements(SqliteDb& db,
                                                                      absl::Time since) {
  // SQLite's bare columns with MAX(): each group's other columns come from its newest row.
  PROV_ASSIGN_OR_RETURN(
      Statement * st,
      db.Cached("SELECT id, landmark_id, target_kind, target_id, MAX(measured_us), rtt_min_ms, "
                "answers FROM location_measurements WHERE measured_us >= ?1 AND answers > 0 "
                "GROUP BY landmark_id, target_kind, target_id "
                "ORDER BY landmark_id, target_kind, target_id"));
  st->BindInt64(1, Us(since));
  std::vector<StoredMeasurement> out;
  PROV_RETURN_IF_ERROR(Collect(*st, out, [](const Statement& s) {
    StoredMeasurement m;
    m.id = s.ColumnInt64(0);
    m.landmark_id = s.ColumnText(1);
    m.target_kind = s.ColumnText(2);
    m.target_id = s.ColumnText(3);
    m.measured_at = FromUs(s.ColumnInt64(4));
    m.rtt_min_ms = s.ColumnDouble(5);
    m.answers_valid = s.ColumnInt64(6);
    return m;
  }));
  return out;
}

absl::StatusOr<std::vector<StoredMeasurement>> ReadMeasurements(SqliteDb& db,
                                                                absl::Span<const int64_t> ids) {
  PROV_ASSIGN_OR_RETURN(Statement * st,
                        db.Cached(absl::StrCat("SELECT ", kLocationColumns, kBlobColumns,
                                               " FROM location_measurements WHERE id = ?1")));
  std::vector<StoredMeasurement> out;
  for (int64_t id : ids) {
    st->BindInt64(1, id);
    PROV_RETURN_IF_ERROR(Collect(*st, out, MeasurementOf));
  }
  return out;
}

absl::StatusOr<std::vector<StoredMeasurement>> ListRecordsAfter(SqliteDb& db, int64_t after_id,
                                                                size_t limit) {
  PROV_ASSIGN_OR_RETURN(
      Statement * st,
      db.Cached(absl::StrCat("SELECT ", kLocationColumns,
                             " FROM location_measurements WHERE id > ?1 ORDER BY id LIMIT ?2")));
  st->BindInt64(1, after_id);
  st->BindInt64(2, static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX)));
  std::vector<StoredMeasurement> out;
  PROV_RETURN_IF_ERROR(Collect(*st, out, RecordOf));
  return out;
}

absl::Status SaveLandmarkState(SqliteDb& db, const StoredLandmarkState& state) {
  PROV_ASSIGN_OR_RETURN(
      Statement * st,
      db.Cached("INSERT INTO location_landmarks(landmark_id, last_seq, last_measured_us, "
                "last_record_us, accepted, refused) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
                "ON CONFLICT(landmark_id) DO UPDATE SET last_seq = excluded.last_seq, "
                "last_measured_us = excluded.last_measured_us, "
                "last_record_us = excluded.last_record_us, accepted = excluded.accepted, "
                "refused = excluded.refused"));
  st->BindText(1, state.landmark_id);
  st->BindInt64(2, static_cast<int64_t>(state.last_seq));
  st->BindInt64(3, Us(state.last_measured));
  st->BindInt64(4, Us(state.last_record));
  st->BindInt64(5, state.accepted);
  st->BindInt64(6, state.refused);
  absl::Status s = st->Run();
  st->Reset();
  return s;
}

absl::StatusOr<std::vector<StoredLandmarkState>> ListLandmarkStates(SqliteDb& db) {
  PROV_ASSIGN_OR_RETURN(Statement * st,
                        db.Cached("SELECT landmark_id, last_seq, last_measured_us, "
                                  "last_record_us, accepted, refused FROM location_landmarks "
                                  "ORDER BY landmark_id"));
  std::vector<StoredLandmarkState> out;
  PROV_RETURN_IF_ERROR(Collect(*st, out, [](const Statement& s) {
    return StoredLandmarkState{s.ColumnText(0),          static_cast<uint64_t>(s.ColumnInt64(1)),
                               FromUs(s.ColumnInt64(2)), FromUs(s.ColumnInt64(3)),
                               s.ColumnInt64(4),         s.ColumnInt64(5)};
  }));
  return out;
}

absl::Status SaveVerdict(SqliteDb& db, const StoredVerdict& v) {
  PROV_ASSIGN_OR_RETURN(
      Statement * st,
      db.Cached("INSERT INTO location_verdicts(node_id, verdict, evaluated_us, location, disk_ids, "
                "calibration, params) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(node_id) DO "
                "UPDATE SET verdict = excluded.verdict, evaluated_us = excluded.evaluated_us, "
                "location = excluded.location, disk_ids = excluded.disk_ids, "
                "calibration = excluded.calibration, params = excluded.params"));
  st->BindText(1, v.node_id);
  st->BindText(2, v.verdict);
  st->BindInt64(3, Us(v.evaluated_at));
  st->BindBlob(4, v.location);
  st->BindText(5, v.disk_ids);
  st->BindText(6, v.calibration);
  st->BindText(7, v.params);
  absl::Status s = st->Run();
  st->Reset();
  return s;
}

absl::StatusOr<std::vector<StoredVerdict>> ListVerdicts(SqliteDb& db, const std::string& verdict,
                                                        const std::string& after_node_id,
                                                        size_t limit) {
  PROV_ASSIGN_OR_RETURN(
      Statement * st,
      db.Cached("SELECT node_id, verdict, evaluated_us, location, disk_ids, calibration, params "
                "FROM location_verdicts WHERE (?1 = '' OR verdict = ?1) AND node_id > ?2 "
                "ORDER BY node_id LIMIT ?3"));
  st->BindText(1, verdict);
  st->BindText(2, after_node_id);
  st->BindInt64(3, static_cast<int64_t>(limit));
  std::vector<StoredVerdict> out;
  PROV_RETURN_IF_ERROR(Collect(*st, out, [](const Statement& s) {
    return StoredVerdict{s.ColumnText(0), s.ColumnText(1), FromUs(s.ColumnInt64(2)),
                         s.ColumnBlob(3), s.ColumnText(4), s.ColumnText(5),
                         s.ColumnText(6)};
  }));
  return out;
}

absl::StatusOr<std::optional<StoredVerdict>> ReadVerdict(SqliteDb& db, const std::string& node_id) {
  PROV_ASSIGN_OR_RETURN(
      Statement * st,
      db.Cached("SELECT node_id, verdict, evaluated_us, location, disk_ids, calibration, params "
                "FROM location_verdicts WHERE node_id = ?1"));
  st->BindText(1, node_id);
  std::vector<StoredVerdict> out;
  PROV_RETURN_IF_ERROR(Collect(*st, out, [](const Statement& s) {
    return StoredVerdict{s.ColumnText(0), s.ColumnText(1), FromUs(s.ColumnInt64(2)),
                         s.ColumnBlob(3), s.ColumnText(4), s.ColumnText(5),
                         s.ColumnText(6)};
  }));
  if (out.empty()) return std::nullopt;
  return std::move(out.front());
}

// The repository: input checks, then the statements above on its own connection.

absl::StatusOr<std::unique_ptr<SqliteLocationRepository>> SqliteLocationRepository::Open(
    const std::string& db_path) {
  PROV_ASSIGN_OR_RETURN(auto db, OpenConnection(db_path, SqliteDb::kReadWrite));
  PROV_RETURN_IF_ERROR(MigrateSchema(*db));
  return std::make_unique<SqliteLocationRepository>(std::move(db));
}

absl::Status SqliteLocationRepository::UpsertNodeKeys(absl::Span<const StoredNodeKey> keys) {
  for (const StoredNodeKey& k : keys) PROV_RETURN_IF_ERROR(CheckNodeKey(k));
  if (keys.empty()) return absl::OkStatus();
  PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(*db_, Transaction::kWrite));
  for (const StoredNodeKey& k : keys) PROV_RETURN_IF_ERROR(UpsertNodeKey(*db_, k));
  return txn.Commit();
}

absl::StatusOr<std::vector<StoredNodeKey>> SqliteLocationRepository::ListNodeKeys() {
  return prov::server::ListNodeKeys(*db_);
}

absl::StatusOr<std::vector<LocationNodeRow>> SqliteLocationRepository::ListLocationNodes() {
  return prov::server::ListLocationNodes(*db_);
}

absl::StatusOr<LandmarkRecordsResult> SqliteLocationRepository::StoreLandmarkRecords(
    const LandmarkRecords& call) {
  PROV_RETURN_IF_ERROR(CheckLandmarkRecords(call));
  LandmarkRecordsResult result;
  const std::vector<std::string> landmarks = LandmarksOf(call);
  if (landmarks.empty()) return result;
  // BEGIN IMMEDIATE: the write lock is held from the read of the states to the commit.
  PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(*db_, Transaction::kWrite));
  PROV_ASSIGN_OR_RETURN(
      Statement * read,
      db_->Cached("SELECT landmark_id, last_seq, last_measured_us, last_record_us, accepted, "
                  "refused FROM location_landmarks WHERE landmark_id = ?1"));
  std::map<std::string, StoredLandmarkState> stored;
  for (const std::string& id : landmarks) {
    read->BindText(1, id);
    std::vector<StoredLandmarkState> rows;
    PROV_RETURN_IF_ERROR(Collect(*read, rows, [](const Statement& s) {
      return StoredLandmarkState{s.ColumnText(0),          static_cast<uint64_t>(s.ColumnInt64(1)),
                                 FromUs(s.ColumnInt64(2)), FromUs(s.ColumnInt64(3)),
                                 s.ColumnInt64(4),         s.ColumnInt64(5)};
    }));
    if (!rows.empty()) stored[id] = std::move(rows.front());
  }
  LandmarkRecordsPlan plan = PlanLandmarkRecords(call, stored);
  result.ids.reserve(call.records.size());
  for (size_t i = 0; i < call.records.size(); ++i) {
    if (!plan.accept[i]) {
      result.ids.push_back(0);
      continue;
    }
    StoredMeasurement m = call.records[i];
    m.received_at = call.received_at;
    PROV_ASSIGN_OR_RETURN(int64_t id, InsertMeasurement(*db_, m));
    result.ids.push_back(id);
  }
  for (const StoredLandmarkState& st : plan.states)
    PROV_RETURN_IF_ERROR(SaveLandmarkState(*db_, st));
  PROV_RETURN_IF_ERROR(txn.Commit());
  result.states = std::move(plan.states);
  return result;
}

absl::StatusOr<std::vector<StoredMeasurement>> SqliteLocationRepository::ListMeasurementsSince(
    absl::Time since) {
  return prov::server::ListMeasurementsSince(*db_, since);
}

absl::StatusOr<std::vector<StoredMeasurement>> SqliteLocationRepository::ListNewestMeasurements(
    absl::Time since) {
  return prov::server::ListNewestMeasurements(*db_, since);
}

absl::StatusOr<std::vector<StoredMeasurement>> SqliteLocationRepository::ReadMeasurements(
    absl::Span<const int64_t> ids) {
  return prov::server::ReadMeasurements(*db_, ids);
}

absl::StatusOr<std::vector<StoredMeasurement>> SqliteLocationRepository::ListRecordsAfter(
    int64_t after_id, size_t limit) {
  return prov::server::ListRecordsAfter(*db_, after_id, limit);
}

absl::StatusOr<std::vector<StoredLandmarkState>> SqliteLocationRepository::ListLandmarkStates() {
  return prov::server::ListLandmarkStates(*db_);
}

absl::Status SqliteLocationRepository::SaveVerdicts(absl::Span<const StoredVerdict> verdicts,
                                                    std::optional<int64_t> /*leader_term*/,
                                                    const VerdictEventsRow& events) {
  // One provd owns the file (SoleLeader): nothing to fence.
  if (!events.record.empty()) {
    return absl::InvalidArgumentError(
        "location verdicts: events: SQLite has no ingest batch log (its engine runs in process: "
        "hand the events to it)");
  }
  for (const StoredVerdict& v : verdicts) PROV_RETURN_IF_ERROR(CheckVerdict(v));
  if (verdicts.empty()) return absl::OkStatus();
  PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(*db_, Transaction::kWrite));
  for (const StoredVerdict& v : verdicts) PROV_RETURN_IF_ERROR(SaveVerdict(*db_, v));
  return txn.Commit();
}

absl::StatusOr<std::vector<StoredVerdict>> SqliteLocationRepository::ListVerdicts(
    const std::string& verdict, const std::string& after_node_id, size_t limit) {
  PROV_RETURN_IF_ERROR(CheckVerdictFilter(verdict));
  return prov::server::ListVerdicts(*db_, verdict, after_node_id, limit);
}

absl::StatusOr<std::optional<StoredVerdict>> SqliteLocationRepository::ReadVerdict(
    const std::string& node_id) {
  PROV_RETURN_IF_ERROR(CheckVerdictNodeId(node_id));
  return prov::server::ReadVerdict(*db_, node_id);
}

}  // namespace prov::server
