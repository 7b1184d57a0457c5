#include "server/store/pg/pg_ingest_batches.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "server/store/pg/pg_schema.h"

namespace prov::server {
namespace {

absl::StatusOr<uint64_t> ParseXid(const std::string& text, absl::string_view what) {
  uint64_t xid = 0;
  if (!absl::SimpleAtoi(text, &xid)) {
    return absl::DataLossError(absl::StrCat(what, ": not a transaction id: '", text, "'"));
  }
  return xid;
}

// '{1,2,3}' for a bigint[] / xid8[] parameter.
template <typename T>
std::string ArrayLiteral(const std::vector<T>& values) {
  return absl::StrCat("{", absl::StrJoin(values, ","), "}");
}

std::vector<int64_t> SeenIds(const IngestPosition& p) {
  std::vector<int64_t> ids;
  ids.reserve(p.seen.size());
  for (const auto& [id, xid] : p.seen) ids.push_back(id);
  return ids;
}

}  // namespace

absl::Status AppendIngestBatch(PgConn& conn, int64_t received_us, int64_t reports,
                               absl::string_view record) {
  return conn
      .Query("INSERT INTO ingest_batches(received_us, reports, record) VALUES ($1, $2, $3)",
             {received_us, reports, PgParam::Bytes(record)})
      .status();
}

absl::StatusOr<std::unique_ptr<PgIngestBatchAppender>> PgIngestBatchAppender::Open(
    const std::string& conninfo, absl::Duration connect_timeout) {
  PROV_ASSIGN_OR_RETURN(auto conn,
                        PgConn::Connect(conninfo, {.connect_timeout = connect_timeout,
                                                   .application_name = "provd/node-events",
                                                   .search_path = kPgSchema}));
  PROV_RETURN_IF_ERROR(MigratePgSchema(*conn));
  return std::make_unique<PgIngestBatchAppender>(std::move(conn));
}

absl::Status PgIngestBatchAppender::Append(int64_t received_us, absl::string_view record) {
  PROV_RETURN_IF_ERROR(conn_->Reconnect());
  return AppendIngestBatch(*conn_, received_us, 0, record);
}

absl::StatusOr<std::unique_ptr<PgIngestBatchReader>> PgIngestBatchReader::Open(
    const std::string& conninfo, absl::Duration connect_timeout) {
  PROV_ASSIGN_OR_RETURN(auto conn,
                        PgConn::Connect(conninfo, {.connect_timeout = connect_timeout,
                                                   .application_name = "provd/analysis-feed",
                                                   .search_path = kPgSchema}));
  PROV_RETURN_IF_ERROR(MigratePgSchema(*conn));
  return std::make_unique<PgIngestBatchReader>(std::move(conn));
}

absl::StatusOr<IngestBatchRead> PgIngestBatchReader::Read(const IngestPosition& from, int limit) {
  if (limit < 1) return absl::InvalidArgumentError("ingest batch read: limit must be >= 1");
  return RunWithReconnect(*conn_, [&] { return ReadOnce(from, limit); });
}

absl::StatusOr<IngestBatchRead> PgIngestBatchReader::ReadOnce(const IngestPosition& from,
                                                              int limit) {
  IngestBatchRead out;
  const std::string seen_ids = ArrayLiteral(SeenIds(from));
  const std::string horizon = absl::StrCat(from.horizon);
  PROV_RETURN_IF_ERROR(conn_->Transaction(
      [&]() -> absl::Status {
        // Both statements see the transaction's one snapshot (REPEATABLE READ): the horizon is
        // that snapshot's xmin, so every row below it that committed is visible to the read.
        PROV_ASSIGN_OR_RETURN(PgResult now,
                              conn_->Query("SELECT pg_snapshot_xmin(pg_current_snapshot())::text"));
        PROV_ASSIGN_OR_RETURN(uint64_t snapshot_xmin, ParseXid(now.Text(0, 0), "snapshot xmin"));
        PROV_ASSIGN_OR_RETURN(
            PgResult rows,
            conn_->Query("SELECT batch_id, xid::text, received_us, reports, record FROM "
                         "ingest_batches WHERE xid >= $1::xid8 AND NOT (batch_id = "
                         "ANY($2::bigint[])) ORDER BY batch_id LIMIT $3",
                         {horizon, seen_ids, static_cast<int64_t>(limit)}));
        for (int i = 0; i < rows.rows(); ++i) {
          IngestBatch b;
          PROV_ASSIGN_OR_RETURN(b.batch_id, rows.Int64(i, 0));
          PROV_ASSIGN_OR_RETURN(b.xid, ParseXid(rows.Text(i, 1), "ingest_batches.xid"));
          PROV_ASSIGN_OR_RETURN(b.received_us, rows.Int64(i, 2));
          PROV_ASSIGN_OR_RETURN(b.reports, rows.Int64(i, 3));
          PROV_ASSIGN_OR_RETURN(b.record, rows.Bytes(i, 4));
          out.batches.push_back(std::move(b));
        }
        out.caught_up = rows.rows() < limit;
        uint64_t next = snapshot_xmin;
        if (!out.caught_up) {
          // Rows left unread (visible, above the last one returned) keep the horizon below them.
          PROV_ASSIGN_OR_RETURN(
              PgResult left,
              conn_->Query("SELECT min(xid)::text FROM ingest_batches WHERE xid >= $1::xid8 AND "
                           "batch_id > $2 AND NOT (batch_id = ANY($3::bigint[]))",
                           {horizon, out.batches.back().batch_id, seen_ids}));
          if (!left.IsNull(0, 0)) {
            PROV_ASSIGN_OR_RETURN(uint64_t lowest, ParseXid(left.Text(0, 0), "unread xid"));
            next = std::min(next, lowest);
          }
        }
        out.position.horizon = std::max(from.horizon, next);
        return absl::OkStatus();
      },
      "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"));
  for (const auto& seen : from.seen) {
    if (seen.second >= out.position.horizon) out.position.seen.push_back(seen);
  }
  for (const IngestBatch& b : out.batches) {
    if (b.xid >= out.position.horizon) out.position.seen.emplace_back(b.batch_id, b.xid);
  }
  std::sort(out.position.seen.begin(), out.position.seen.end());
  return out;
}

absl::StatusOr<IngestPosition> PgLoadIngestPosition(PgConn& conn) {
  PROV_ASSIGN_OR_RETURN(std::optional<IngestPosition> saved, PgLoadSavedIngestPosition(conn));
  return saved.value_or(IngestPosition{});
}

absl::StatusOr<std::optional<IngestPosition>> PgLoadSavedIngestPosition(PgConn& conn) {
  PROV_ASSIGN_OR_RETURN(PgResult r,
                        conn.Query("SELECT horizon::text, array_to_string(seen_ids, ','), "
                                   "array_to_string(seen_xids, ',') FROM analysis_position"));
  if (r.rows() == 0) return std::nullopt;
  IngestPosition p;
  PROV_ASSIGN_OR_RETURN(p.horizon, ParseXid(r.Text(0, 0), "analysis_position.horizon"));
  const std::string ids_text = r.Text(0, 1), xids_text = r.Text(0, 2);
  std::vector<std::string> ids = absl::StrSplit(ids_text, ',', absl::SkipEmpty());
  std::vector<std::string> xids = absl::StrSplit(xids_text, ',', absl::SkipEmpty());
  if (ids.size() != xids.size()) {
    return absl::DataLossError("analysis_position: seen_ids and seen_xids differ in length");
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    int64_t id = 0;
    if (!absl::SimpleAtoi(ids[i], &id)) {
      return absl::DataLossError(absl::StrCat("analysis_position: bad batch id '", ids[i], "'"));
    }
    PROV_ASSIGN_OR_RETURN(uint64_t xid, ParseXid(xids[i], "analysis_position.seen_xids"));
    p.seen.emplace_back(id, xid);
  }
  return p;
}

absl::Status PgSaveIngestPosition(PgConn& conn, const IngestPosition& position) {
  std::vector<uint64_t> xids;
  for (const auto& [id, xid] : position.seen) xids.push_back(xid);
  return conn
      .Query(
          "INSERT INTO analysis_position(id, horizon, seen_ids, seen_xids, updated_us) VALUES "
          "(1, $1::xid8, $2::bigint[], $3::xid8[], (EXTRACT(EPOCH FROM statement_timestamp()) * "
          "1000000)::bigint) ON CONFLICT (id) DO UPDATE SET horizon = "
          "excluded.horizon, seen_ids = excluded.seen_ids, seen_xids = excluded.seen_xids, "
          "updated_us = excluded.updated_us",
          {absl::StrCat(position.horizon), ArrayLiteral(SeenIds(position)), ArrayLiteral(xids)})
      .status();
}

absl::StatusOr<int64_t> PgPruneIngestBatches(PgConn& conn, const IngestPosition& position,
                                             int64_t limit) {
  if (limit < 1) return absl::InvalidArgumentError("PgPruneIngestBatches: limit must be >= 1");
  PROV_ASSIGN_OR_RETURN(
      PgResult r,
      conn.Query("WITH gone AS (DELETE FROM ingest_batches WHERE batch_id IN (SELECT batch_id "
                 "FROM ingest_batches WHERE xid < $1::xid8 ORDER BY batch_id LIMIT $2) "
                 "RETURNING 1) SELECT count(*) FROM gone",
                 {absl::StrCat(position.horizon), limit}));
  return r.Int64(0, 0);
}

}  // namespace prov::server
