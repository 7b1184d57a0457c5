#include "server/store/pg/pg_retention.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/store/pg/pg_access.h"
#include "server/store/pg/pg_array.h"
#include "server/store/pg/pg_audit_log.h"
#include "server/store/pg/pg_partitions.h"
#include "server/store/pg/pg_schema.h"

namespace prov::server {
namespace {

// As sqlite_retention.cc's, rows picked by ctid (or id) instead of SQLite's row-value IN.
// account_usage_hourly is partitioned (pg_partitions.h): a ctid names a row only within its
// partition, so its rows are picked by (tableoid, ctid); the outer `hour_us <= $1` lets
// PostgreSQL prune the partitions the batch cannot touch (after the drops, all but the partial
// day's and DEFAULT) instead of probing every one.
constexpr char kUsageHours[] =
    "DELETE FROM account_usage_hourly WHERE account = $3 AND hour_us <= $1 AND (tableoid, ctid) "
    "IN (SELECT tableoid, ctid FROM account_usage_hourly WHERE account = $3 AND hour_us <= $1 "
    "LIMIT $2)";
constexpr char kWorkloadDetails[] =
    "DELETE FROM workload_details WHERE ctid IN (SELECT d.ctid FROM workload_details d JOIN "
    "workloads w ON w.node = d.node AND w.workload_id = d.workload_id WHERE w.last_seen_us < $1 "
    "LIMIT $2)";
// The outer `last_seen_us < $1` is checked again on a row ingest refreshed meanwhile (READ
// COMMITTED re-evaluates the WHERE on its newest version, not the subquery): a workload seen
// again is kept. The ctid-based deletes need no such repeat: a refreshed row has a new ctid.
constexpr char kWorkloads[] =
    "DELETE FROM workloads WHERE id IN (SELECT id FROM workloads WHERE last_seen_us < $1 "
    "LIMIT $2) AND last_seen_us < $1";
// Status 4 = FLAG_STATUS_RESOLVED (analysis.proto).
constexpr char kCaseActions[] =
    "DELETE FROM case_actions WHERE ctid IN (SELECT a.ctid FROM case_actions a JOIN cases c ON "
    "c.flag_id = a.flag_id WHERE c.status = 4 AND c.updated_us < $1 AND a.time_us < $1 "
    "LIMIT $2)";

absl::Status CheckBatch(int batch_rows) {
  if (batch_rows < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("retention: batch_rows must be at least 1, not ", batch_rows));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<PgRetentionRepository>> PgRetentionRepository::Open(
    const std::string& conninfo, absl::Duration connect_timeout) {
  PgConnOptions options{.connect_timeout = connect_timeout,
                        .application_name = "provd/retention",
                        .search_path = kPgSchema};
  PROV_ASSIGN_OR_RETURN(auto conn, PgConn::Connect(conninfo, options));
  PROV_RETURN_IF_ERROR(MigratePgSchema(*conn));
  return std::make_unique<PgRetentionRepository>(std::move(conn));
}

absl::StatusOr<uint64_t> PgRetentionRepository::DeleteInBatches(const char* sql, int64_t cutoff_us,
                                                                int batch_rows,
                                                                const std::string* account) {
  PROV_RETURN_IF_ERROR(CheckBatch(batch_rows));
  PROV_RETURN_IF_ERROR(UsablePgSession(*conn_));
  uint64_t total = 0;
  while (true) {
    int64_t deleted = 0;
    PROV_RETURN_IF_ERROR(conn_->Transaction([&]() -> absl::Status {
      absl::StatusOr<PgResult> r = account != nullptr
                                       ? conn_->Query(sql, {cutoff_us, batch_rows, *account})
                                       : conn_->Query(sql, {cutoff_us, batch_rows});
      PROV_RETURN_IF_ERROR(r.status());
      deleted = r->affected();
      return absl::OkStatus();
    }));
    total += static_cast<uint64_t>(deleted);
    if (deleted < batch_rows) return total;
  }
}

absl::StatusOr<uint64_t> PgRetentionRepository::DeleteReports(int64_t cutoff_us, int batch_rows) {
  PROV_RETURN_IF_ERROR(CheckBatch(batch_rows));
  PROV_RETURN_IF_ERROR(UsablePgSession(*conn_));
  // Whole days collected before the cutoff: their partitions go (pg_partitions.h). Then the
  // walk below deletes, row by row, what is left before the cutoff: the partial day at the
  // cutoff and the DEFAULT partition.
  PROV_ASSIGN_OR_RETURN(PgDroppedPartitions dropped,
                        DropPgDayPartitionsBefore(*conn_, "reports", cutoff_us));
  uint64_t total = dropped.rows;
  int64_t cursor = 0;
  while (true) {
    bool reached_young = false;
    int scanned = 0;
    size_t deleted = 0;
    PROV_RETURN_IF_ERROR(conn_->Transaction([&]() -> absl::Status {
      PROV_ASSIGN_OR_RETURN(PgResult r,
                            conn_->Query("SELECT id, collected_at_us, received_at_us FROM reports "
                                         "WHERE id > $1 ORDER BY id LIMIT $2",
                                         {cursor, batch_rows}));
      PgArray old;
      for (int i = 0; i < r.rows(); ++i) {
        ++scanned;
        PROV_ASSIGN_OR_RETURN(int64_t id, r.Int64(i, 0));
        PROV_ASSIGN_OR_RETURN(int64_t collected, r.Int64(i, 1));
        PROV_ASSIGN_OR_RETURN(int64_t received, r.Int64(i, 2));
        if (received >= cutoff_us) {
          reached_young = true;
          break;
        }
        cursor = id;
        if (collected < cutoff_us) old.Add(id);
      }
      deleted = old.size();
      if (deleted == 0) return absl::OkStatus();
      // Every row picked was collected before the cutoff: saying so prunes the partitions.
      return conn_
          ->Query("DELETE FROM reports WHERE id = ANY($1::bigint[]) AND collected_at_us < $2",
                  {old.Finish(), cutoff_us})
          .status();
    }));
    total += deleted;
    if (reached_young || scanned < batch_rows) return total;
  }
}

absl::StatusOr<uint64_t> PgRetentionRepository::DeleteUsageHours(int64_t cutoff_us,
                                                                 int batch_rows) {
  PROV_RETURN_IF_ERROR(CheckBatch(batch_rows));
  PROV_RETURN_IF_ERROR(UsablePgSession(*conn_));
  // A day partition goes when all its hours ended before the cutoff: its last possible hour_us
  // (to_us - 1) <= cutoff - 1 h. The per-account walk then deletes the rest, row by row.
  PROV_ASSIGN_OR_RETURN(
      PgDroppedPartitions dropped,
      DropPgDayPartitionsBefore(*conn_, "account_usage_hourly", cutoff_us - 3600000000 + 1));
  uint64_t total = dropped.rows;
  std::string account;
  bool first = true;
  while (true) {
    // The next account after `account`: one index seek each.
    PROV_RETURN_IF_ERROR(UsablePgSession(*conn_));
    PROV_ASSIGN_OR_RETURN(
        PgResult next,
        first ? conn_->Query("SELECT account FROM account_usage_hourly ORDER BY account LIMIT 1")
              : conn_->Query("SELECT account FROM account_usage_hourly WHERE account > $1 "
                             "ORDER BY account LIMIT 1",
                             {account}));
    if (next.rows() == 0) return total;
    account = next.Text(0, 0);
    first = false;
    PROV_ASSIGN_OR_RETURN(
        uint64_t n, DeleteInBatches(kUsageHours, cutoff_us - 3600000000, batch_rows, &account));
    total += n;
  }
}

absl::StatusOr<uint64_t> PgRetentionRepository::DeleteWorkloadDetails(int64_t cutoff_us,
                                                                      int batch_rows) {
  return DeleteInBatches(kWorkloadDetails, cutoff_us, batch_rows);
}

absl::StatusOr<uint64_t> PgRetentionRepository::DeleteWorkloads(int64_t cutoff_us, int batch_rows) {
  return DeleteInBatches(kWorkloads, cutoff_us, batch_rows);
}

absl::StatusOr<uint64_t> PgRetentionRepository::DeleteCaseActions(int64_t cutoff_us,
                                                                  int batch_rows) {
  return DeleteInBatches(kCaseActions, cutoff_us, batch_rows);
}

absl::Status PgRetentionRepository::RecordPrune(const AuditRecord& entry) {
  PROV_RETURN_IF_ERROR(UsablePgSession(*conn_));
  return conn_->Transaction([&]() -> absl::Status {
    return AppendAuditEntry(*conn_, entry.actor, entry.action, entry.payload, entry.at).status();
  });
}

absl::StatusOr<std::optional<absl::Time>> PgRetentionRepository::LastPruneTime() {
  PgConn& conn = *conn_;
  return RunWithReconnect(conn, [&]() -> absl::StatusOr<std::optional<absl::Time>> {
    PROV_ASSIGN_OR_RETURN(PgResult r, conn.Query("SELECT time_us FROM audit_log WHERE action = "
                                                 "'retention.prune' ORDER BY seq DESC LIMIT 1"));
    if (r.rows() == 0) return std::optional<absl::Time>();
    PROV_ASSIGN_OR_RETURN(int64_t us, r.Int64(0, 0));
    return std::optional<absl::Time>(absl::FromUnixMicros(us));
  });
}

}  // namespace prov::server
