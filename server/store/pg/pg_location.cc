#include "server/store/pg/pg_location.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <tuple>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "server/store/pg/pg_access.h"
#include "server/store/pg/pg_ingest_batches.h"
#include "server/store/pg/pg_leader_election.h"
#include "server/store/pg/pg_schema.h"

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
absl::StatusOr<StoredMeasurement> RecordOf(const PgResult& r, int i) {
  StoredMeasurement m;
  PROV_ASSIGN_OR_RETURN(m.id, r.Int64(i, 0));
  PROV_ASSIGN_OR_RETURN(int64_t received, r.Int64(i, 1));
  m.received_at = FromUs(received);
  m.landmark_id = r.Text(i, 2);
  m.target_kind = r.Text(i, 3);
  m.target_id = r.Text(i, 4);
  PROV_ASSIGN_OR_RETURN(int64_t measured, r.Int64(i, 5));
  m.measured_at = FromUs(measured);
  PROV_ASSIGN_OR_RETURN(int64_t seq, r.Int64(i, 6));
  m.landmark_seq = static_cast<uint64_t>(seq);
  PROV_ASSIGN_OR_RETURN(m.rtt_min_ms, r.Double(i, 7));
  PROV_ASSIGN_OR_RETURN(m.answers_valid, r.Int64(i, 8));
  return m;
}

// kLocationColumns and kBlobColumns.
absl::StatusOr<StoredMeasurement> MeasurementOf(const PgResult& r, int i) {
  PROV_ASSIGN_OR_RETURN(StoredMeasurement m, RecordOf(r, i));
  PROV_ASSIGN_OR_RETURN(m.measurement, r.Bytes(i, 9));
  PROV_ASSIGN_OR_RETURN(m.signature, r.Bytes(i, 10));
  return m;
}

absl::StatusOr<StoredLandmarkState> StateOf(const PgResult& r, int i) {
  StoredLandmarkState st;
  st.landmark_id = r.Text(i, 0);
  PROV_ASSIGN_OR_RETURN(int64_t seq, r.Int64(i, 1));
  st.last_seq = static_cast<uint64_t>(seq);
  PROV_ASSIGN_OR_RETURN(int64_t measured, r.Int64(i, 2));
  st.last_measured = FromUs(measured);
  PROV_ASSIGN_OR_RETURN(int64_t record, r.Int64(i, 3));
  st.last_record = FromUs(record);
  PROV_ASSIGN_OR_RETURN(st.accepted, r.Int64(i, 4));
  PROV_ASSIGN_OR_RETURN(st.refused, r.Int64(i, 5));
  return st;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PgLocationRepository>> PgLocationRepository::Open(
    const std::string& conninfo, absl::Duration connect_timeout) {
  PgConnOptions options{.connect_timeout = connect_timeout,
                        .application_name = "provd/location",
                        .search_path = kPgSchema};
  PROV_ASSIGN_OR_RETURN(auto conn, PgConn::Connect(conninfo, options));
  PROV_RETURN_IF_ERROR(MigratePgSchema(*conn));
  return std::make_unique<PgLocationRepository>(std::move(conn));
}

absl::Status PgLocationRepository::UpsertNodeKeys(absl::Span<const StoredNodeKey> keys) {
  for (const StoredNodeKey& k : keys) PROV_RETURN_IF_ERROR(CheckNodeKey(k));
  if (keys.empty()) return absl::OkStatus();
  // In (node_id, spki) order, so two replicas upserting the same keys lock them in one order and
  // never deadlock.
  std::vector<const StoredNodeKey*> ordered;
  for (const StoredNodeKey& k : keys) ordered.push_back(&k);
  std::sort(ordered.begin(), ordered.end(), [](const StoredNodeKey* a, const StoredNodeKey* b) {
    return std::tie(a->node_id, a->spki_der) < std::tie(b->node_id, b->spki_der);
  });
  // Safe to repeat: MIN / MAX and a sticky "stream" give the same row however often it runs.
  return RunWithReconnect(*conn_, [&] {
    return conn_->Transaction([&]() -> absl::Status {
      for (const StoredNodeKey* key : ordered) {
        const StoredNodeKey& k = *key;
        PROV_RETURN_IF_ERROR(
            conn_
                ->Query("INSERT INTO location_node_keys(node_id, spki, first_seen_us, "
                        "last_seen_us, source) VALUES ($1, $2, $3, $4, $5) "
                        "ON CONFLICT (node_id, spki) DO UPDATE SET "
                        "first_seen_us = LEAST(location_node_keys.first_seen_us, "
                        "EXCLUDED.first_seen_us), "
                        "last_seen_us = GREATEST(location_node_keys.last_seen_us, "
                        "EXCLUDED.last_seen_us), "
                        "source = CASE WHEN EXCLUDED.source = 'stream' THEN 'stream' "
                        "ELSE location_node_keys.source END",
                        {k.node_id, PgParam::Bytes(k.spki_der), Us(k.first_seen), Us(k.last_seen),
                         k.source})
                .status());
      }
      return absl::OkStatus();
    });
  });
}

absl::StatusOr<std::vector<StoredNodeKey>> PgLocationRepository::ListNodeKeys() {
  return RunWithReconnect(*conn_, [&]() -> absl::StatusOr<std::vector<StoredNodeKey>> {
    PROV_ASSIGN_OR_RETURN(
        PgResult r, conn_->Query("SELECT node_id, spki, first_seen_us, last_seen_us, source FROM "
                                 "location_node_keys ORDER BY node_id, first_seen_us, spki"));
    std::vector<StoredNodeKey> out;
    out.reserve(static_cast<size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
      StoredNodeKey k;
      k.node_id = r.Text(i, 0);
      PROV_ASSIGN_OR_RETURN(k.spki_der, r.Bytes(i, 1));
      PROV_ASSIGN_OR_RETURN(int64_t first, r.Int64(i, 2));
      PROV_ASSIGN_OR_RETURN(int64_t last, r.Int64(i, 3));
      k.first_seen = FromUs(first);
      k.last_seen = FromUs(last);
      k.source = r.Text(i, 4);
      out.push_back(std::move(k));
    }
    return out;
  });
}

absl::StatusOr<std::vector<LocationNodeRow>> PgLocationRepository::ListLocationNodes() {
  return RunWithReconnect(*conn_, [&]() -> absl::StatusOr<std::vector<LocationNodeRow>> {
    PROV_ASSIGN_OR_RETURN(
        PgResult r,
        conn_->Query("SELECT n.node_id, COALESCE(r.address, ''), n.datacenter, n.region, "
                     "COALESCE((SELECT i.datacenter FROM inventory i WHERE i.node_id = n.node_id "
                     "ORDER BY i.serial LIMIT 1), '') "
                     "FROM nodes n LEFT JOIN location_responders r ON r.node = n.id "
                     "ORDER BY n.node_id"));
    std::vector<LocationNodeRow> out;
    out.reserve(static_cast<size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
      out.push_back(
          LocationNodeRow{r.Text(i, 0), r.Text(i, 1), r.Text(i, 2), r.Text(i, 3), r.Text(i, 4)});
    }
    return out;
  });
}

absl::StatusOr<LandmarkRecordsResult> PgLocationRepository::StoreLandmarkRecords(
    const LandmarkRecords& call) {
  PROV_RETURN_IF_ERROR(CheckLandmarkRecords(call));
  if (LandmarksOf(call).empty()) return LandmarkRecordsResult{};
  // Not repeated after a lost session (its COMMIT may have landed): see the header.
  PROV_RETURN_IF_ERROR(UsablePgSession(*conn_));
  return StoreOnce(call);
}

absl::StatusOr<LandmarkRecordsResult> PgLocationRepository::StoreOnce(const LandmarkRecords& call) {
  LandmarkRecordsResult result;
  absl::Status s = conn_->Transaction(
      [&]() -> absl::Status {
        // The lock before the read: the read's snapshot (READ COMMITTED: per statement) then
        // includes every call committed before ours.
        PROV_RETURN_IF_ERROR(conn_
                                 ->Query("SELECT pg_advisory_xact_lock($1::int, $2::int)",
                                         {kPgLockKey, kPgLocationLock})
                                 .status());
        const std::vector<std::string> landmarks = LandmarksOf(call);
        std::vector<PgParam> ids;
        std::string placeholders;
        for (size_t i = 0; i < landmarks.size(); ++i) {
          absl::StrAppend(&placeholders, i == 0 ? "" : ", ", "$", i + 1);
          ids.emplace_back(landmarks[i]);
        }
        PROV_ASSIGN_OR_RETURN(
            PgResult read,
            conn_->Query(absl::StrCat("SELECT landmark_id, last_seq, last_measured_us, "
                                      "last_record_us, accepted, refused FROM location_landmarks "
                                      "WHERE landmark_id IN (",
                                      placeholders, ")"),
                         ids));
        std::map<std::string, StoredLandmarkState> stored;
        for (int i = 0; i < read.rows(); ++i) {
          PROV_ASSIGN_OR_RETURN(StoredLandmarkState st, StateOf(read, i));
          stored[st.landmark_id] = std::move(st);
        }
        LandmarkRecordsPlan plan = PlanLandmarkRecords(call, stored);
        result.ids.clear();
        result.ids.reserve(call.records.size());
        for (size_t i = 0; i < call.records.size(); ++i) {
          if (!plan.accept[i]) {
            result.ids.push_back(0);
            continue;
          }
          const StoredMeasurement& m = call.records[i];
          PROV_ASSIGN_OR_RETURN(
              PgResult inserted,
              conn_->Query(
                  "INSERT INTO location_measurements(received_us, landmark_id, target_kind, "
                  "target_id, measured_us, landmark_seq, rtt_min_ms, answers, measurement, "
                  "signature) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
                  {Us(call.received_at), m.landmark_id, m.target_kind, m.target_id,
                   Us(m.measured_at), static_cast<int64_t>(m.landmark_seq), m.rtt_min_ms,
                   m.answers_valid, PgParam::Bytes(m.measurement), PgParam::Bytes(m.signature)}));
          PROV_ASSIGN_OR_RETURN(int64_t id, inserted.Int64(0, 0));
          result.ids.push_back(id);
        }
        for (const StoredLandmarkState& st : plan.states) {
          PROV_RETURN_IF_ERROR(
              conn_
                  ->Query("INSERT INTO location_landmarks(landmark_id, last_seq, "
                          "last_measured_us, last_record_us, accepted, refused) VALUES ($1, $2, "
                          "$3, $4, $5, $6) ON CONFLICT (landmark_id) DO UPDATE SET "
                          "last_seq = EXCLUDED.last_seq, "
                          "last_measured_us = EXCLUDED.last_measured_us, "
                          "last_record_us = EXCLUDED.last_record_us, "
                          "accepted = EXCLUDED.accepted, refused = EXCLUDED.refused",
                          {st.landmark_id, static_cast<int64_t>(st.last_seq), Us(st.last_measured),
                           Us(st.last_record), st.accepted, st.refused})
                  .status());
        }
        result.states = std::move(plan.states);
        return absl::OkStatus();
      },
      "BEGIN ISOLATION LEVEL READ COMMITTED");
  PROV_RETURN_IF_ERROR(s);
  return result;
}

absl::StatusOr<std::vector<StoredMeasurement>> PgLocationRepository::ListMeasurementsSince(
    absl::Time since) {
  return RunWithReconnect(*conn_, [&]() -> absl::StatusOr<std::vector<StoredMeasurement>> {
    PROV_ASSIGN_OR_RETURN(
        PgResult r, conn_->Query(absl::StrCat("SELECT ", kLocationColumns, kBlobColumns,
                                              " FROM location_measurements WHERE measured_us >= $1 "
                                              "ORDER BY id"),
                                 {Us(since)}));
    std::vector<StoredMeasurement> out;
    out.reserve(static_cast<size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
      PROV_ASSIGN_OR_RETURN(StoredMeasurement m, MeasurementOf(r, i));
      out.push_back(std::move(m));
    }
    return out;
  });
}

absl::StatusOr<std::vector<StoredMeasurement>> PgLocationRepository::ListNewestMeasurements(
    absl::Time since) {
  return RunWithReconnect(*conn_, [&]() -> absl::StatusOr<std::vector<StoredMeasurement>> {
    // SQLite's bare columns with MAX() as DISTINCT ON: each group's newest row.
    PROV_ASSIGN_OR_RETURN(
        PgResult r,
        conn_->Query("SELECT DISTINCT ON (landmark_id, target_kind, target_id) id, landmark_id, "
                     "target_kind, target_id, measured_us, rtt_min_ms, answers "
                     "FROM location_measurements WHERE measured_us >= $1 AND answers > 0 "
                     "ORDER BY landmark_id, target_kind, target_id, measured_us DESC, id DESC",
                     {Us(since)}));
    std::vector<StoredMeasurement> out;
    out.reserve(static_cast<size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
      StoredMeasurement m;
      PROV_ASSIGN_OR_RETURN(m.id, r.Int64(i, 0));
      m.landmark_id = r.Text(i, 1);
      m.target_kind = r.Text(i, 2);
      m.target_id = r.Text(i, 3);
      PROV_ASSIGN_OR_RETURN(int64_t measured, r.Int64(i, 4));
      m.measured_at = FromUs(measured);
      PROV_ASSIGN_OR_RETURN(m.rtt_min_ms, r.Double(i, 5));
      PROV_ASSIGN_OR_RETURN(m.answers_valid, r.Int64(i, 6));
      out.push_back(std::move(m));
    }
    return out;
  });
}

absl::StatusOr<std::vector<StoredMeasurement>> PgLocationRepository::ReadMeasurements(
    absl::Span<const int64_t> ids) {
  if (ids.empty()) return std::vector<StoredMeasurement>{};
  return RunWithReconnect(*conn_, [&]() -> absl::StatusOr<std::vector<StoredMeasurement>> {
    PROV_ASSIGN_OR_RETURN(
        PgResult r,
        conn_->Query(absl::StrCat("SELECT ", kLocationColumns, kBlobColumns,
                                  " FROM location_measurements WHERE id = ANY($1::bigint[])"),
                     {absl::StrCat("{", absl::StrJoin(ids, ","), "}")}));
    absl::flat_hash_map<int64_t, StoredMeasurement> by_id;
    for (int i = 0; i < r.rows(); ++i) {
      PROV_ASSIGN_OR_RETURN(StoredMeasurement m, MeasurementOf(r, i));
      by_id[m.id] = std::move(m);
    }
    // In the order asked, as SQLite's one lookup per id gives them.
    std::vector<StoredMeasurement> out;
    out.reserve(ids.size());
    for (int64_t id : ids) {
      if (auto it = by_id.find(id); it != by_id.end()) out.push_back(it->second);
    }
    return out;
  });
}

absl::StatusOr<std::vector<StoredMeasurement>> PgLocationRepository::ListRecordsAfter(
    int64_t after_id, size_t limit) {
  return RunWithReconnect(*conn_, [&]() -> absl::StatusOr<std::vector<StoredMeasurement>> {
    PROV_ASSIGN_OR_RETURN(
        PgResult r,
        conn_->Query(absl::StrCat("SELECT ", kLocationColumns,
                                  " FROM location_measurements WHERE id > $1 ORDER BY id LIMIT $2"),
                     {after_id, LimitParam(limit)}));
    std::vector<StoredMeasurement> out;
    out.reserve(static_cast<size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
      PROV_ASSIGN_OR_RETURN(StoredMeasurement m, RecordOf(r, i));
      out.push_back(std::move(m));
    }
    return out;
  });
}

absl::StatusOr<std::vector<StoredLandmarkState>> PgLocationRepository::ListLandmarkStates() {
  return RunWithReconnect(*conn_, [&]() -> absl::StatusOr<std::vector<StoredLandmarkState>> {
    PROV_ASSIGN_OR_RETURN(PgResult r,
                          conn_->Query("SELECT landmark_id, last_seq, last_measured_us, "
                                       "last_record_us, accepted, refused FROM location_landmarks "
                                       "ORDER BY landmark_id"));
    std::vector<StoredLandmarkState> out;
    out.reserve(static_cast<size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
      PROV_ASSIGN_OR_RETURN(StoredLandmarkState st, StateOf(r, i));
      out.push_back(std::move(st));
    }
    return out;
  });
}

absl::Status PgLocationRepository::SaveVerdicts(absl::Span<const StoredVerdict> verdicts,
                                                std::optional<int64_t> leader_term,
                                                const VerdictEventsRow& events) {
  for (const StoredVerdict& v : verdicts) PROV_RETURN_IF_ERROR(CheckVerdict(v));
  if (verdicts.empty() && events.record.empty()) return absl::OkStatus();
  // Safe to repeat: each row is overwritten with the same values (the events row may land twice:
  // at least once).
  return RunWithReconnect(*conn_, [&] {
    return conn_->Transaction([&]() -> absl::Status {
      // A deposed leader (a successor's term is stored) writes nothing.
      if (leader_term.has_value()) PROV_RETURN_IF_ERROR(CheckLeaderTerm(*conn_, *leader_term));
      for (const StoredVerdict& v : verdicts) {
        PROV_RETURN_IF_ERROR(
            conn_
                ->Query("INSERT INTO location_verdicts(node_id, verdict, evaluated_us, location, "
                        "disk_ids, calibration, params) VALUES ($1, $2, $3, $4, $5, $6, $7) "
                        "ON CONFLICT (node_id) DO UPDATE SET verdict = EXCLUDED.verdict, "
                        "evaluated_us = EXCLUDED.evaluated_us, location = EXCLUDED.location, "
                        "disk_ids = EXCLUDED.disk_ids, calibration = EXCLUDED.calibration, "
                        "params = EXCLUDED.params",
                        {v.node_id, v.verdict, Us(v.evaluated_at), PgParam::Bytes(v.location),
                         v.disk_ids, v.calibration, v.params})
                .status());
      }
      if (!events.record.empty()) {
        PROV_RETURN_IF_ERROR(
            AppendIngestBatch(*conn_, events.received_us, /*reports=*/0, events.record));
      }
      return absl::OkStatus();
    });
  });
}

absl::StatusOr<std::vector<StoredVerdict>> PgLocationRepository::ListVerdicts(
    const std::string& verdict, const std::string& after_node_id, size_t limit) {
  PROV_RETURN_IF_ERROR(CheckVerdictFilter(verdict));
  if (after_node_id.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError("after_node_id: holds a NUL byte");
  }
  return RunWithReconnect(*conn_, [&]() -> absl::StatusOr<std::vector<StoredVerdict>> {
    PROV_ASSIGN_OR_RETURN(
        PgResult r,
        conn_->Query("SELECT node_id, verdict, evaluated_us, location, disk_ids, calibration, "
                     "params FROM location_verdicts WHERE ($1 = '' OR verdict = $1) AND "
                     "node_id > $2 ORDER BY node_id LIMIT $3",
                     {verdict, after_node_id, LimitParam(limit)}));
    std::vector<StoredVerdict> out;
    out.reserve(static_cast<size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
      StoredVerdict v;
      v.node_id = r.Text(i, 0);
      v.verdict = r.Text(i, 1);
      PROV_ASSIGN_OR_RETURN(int64_t evaluated, r.Int64(i, 2));
      v.evaluated_at = FromUs(evaluated);
      PROV_ASSIGN_OR_RETURN(v.location, r.Bytes(i, 3));
      v.disk_ids = r.Text(i, 4);
      v.calibration = r.Text(i, 5);
      v.params = r.Text(i, 6);
      out.push_back(std::move(v));
    }
    return out;
  });
}

absl::StatusOr<std::optional<StoredVerdict>> PgLocationRepository::ReadVerdict(
    const std::string& node_id) {
  PROV_RETURN_IF_ERROR(CheckVerdictNodeId(node_id));
  return RunWithReconnect(*conn_, [&]() -> absl::StatusOr<std::optional<StoredVerdict>> {
    PROV_ASSIGN_OR_RETURN(
        PgResult r,
        conn_->Query("SELECT node_id, verdict, evaluated_us, location, disk_ids, calibration, "
                     "params FROM location_verdicts WHERE node_id = $1",
                     {node_id}));
    if (r.rows() == 0) return std::optional<StoredVerdict>();
    StoredVerdict v;
    v.node_id = r.Text(0, 0);
    v.verdict = r.Text(0, 1);
    PROV_ASSIGN_OR_RETURN(int64_t evaluated, r.Int64(0, 2));
    v.evaluated_at = FromUs(evaluated);
    PROV_ASSIGN_OR_RETURN(v.location, r.Bytes(0, 3));
    v.disk_ids = r.Text(0, 4);
    v.calibration = r.Text(0, 5);
    v.params = r.Text(0, 6);
    return std::optional<StoredVerdict>(std::move(v));
  });
}

}  // namespace prov::server
