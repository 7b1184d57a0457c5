#include "server/store/pg/pg_partitions.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/store/pg/pg_schema.h"

namespace prov::server {
namespace {

static_assert(
    kPgLockKey == 1347571542 && kPgPartitionLock == 8,
    "prov_day_partition (pg_schema.cc, version 10) takes pg_advisory_xact_lock(1347571542, "
    "8) as literals: change both together");

const PgDayPartitionedTable* FindTable(absl::string_view table) {
  for (const PgDayPartitionedTable& t : kPgDayPartitionedTables) {
    if (table == t.table) return &t;
  }
  return nullptr;
}

std::string LockTimeout(absl::Duration wait) {
  return absl::StrCat("SET LOCAL lock_timeout = ",
                      std::max<int64_t>(1, absl::ToInt64Milliseconds(wait)));
}

}  // namespace

int64_t PgDayOf(int64_t us) {
  int64_t day = us / kUsPerDay;
  if (us % kUsPerDay < 0) --day;  // floor, not truncation, before 1970
  return day;
}

absl::StatusOr<int> EnsurePgDayPartitions(PgConn& conn, absl::Time now,
                                          const PgEnsureOptions& options) {
  if (options.days_before < 0 || options.days_ahead < 0) {
    return absl::InvalidArgumentError("day partitions: days_before and days_ahead must be >= 0");
  }
  const int64_t today = PgDayOf(absl::ToUnixMicros(now));
  int created = 0;
  for (const PgDayPartitionedTable& t : kPgDayPartitionedTables) {
    // prov_day_partition (pg_schema.cc, version 10) returns at once, without a lock, for a day
    // that has its partition: the usual case costs one round trip per table.
    absl::Status s = conn.Transaction([&]() -> absl::Status {
      PROV_RETURN_IF_ERROR(conn.Exec(LockTimeout(options.lock_wait)));
      PROV_ASSIGN_OR_RETURN(
          PgResult r,
          conn.Query("SELECT count(*) FILTER (WHERE prov_day_partition($1, $2, d)) "
                     "FROM generate_series($3::bigint, $4::bigint) AS d",
                     {t.table, t.key, today - options.days_before, today + options.days_ahead}));
      PROV_ASSIGN_OR_RETURN(int64_t n, r.Int64(0, 0));
      created += static_cast<int>(n);
      return absl::OkStatus();
    });
    if (!s.ok()) {
      return absl::Status(
          s.code(), absl::StrCat("creating the day partitions of ", t.table, ": ", s.message()));
    }
  }
  return created;
}

absl::StatusOr<std::vector<PgDayPartition>> ListPgDayPartitions(PgConn& conn,
                                                                absl::string_view table) {
  if (FindTable(table) == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("day partitions: ", table, " is not a day-partitioned table"));
  }
  // The day is in the name (<table>_pYYYYMMDD, prov_day_partition); its bounds are that UTC day.
  PROV_ASSIGN_OR_RETURN(
      PgResult r,
      conn.Query("SELECT c.relname, (extract(epoch FROM to_date(right(c.relname, 8), "
                 "'YYYYMMDD'))::bigint * 1000000) FROM pg_inherits i JOIN pg_class c ON c.oid = "
                 "i.inhrelid WHERE i.inhparent = to_regclass($1) AND c.relname ~ '_p[0-9]{8}$' "
                 "ORDER BY 2",
                 {std::string(table)}));
  std::vector<PgDayPartition> out;
  for (int i = 0; i < r.rows(); ++i) {
    PROV_ASSIGN_OR_RETURN(int64_t from, r.Int64(i, 1));
    out.push_back({r.Text(i, 0), from, from + kUsPerDay});
  }
  return out;
}

absl::StatusOr<PgDroppedPartitions> DropPgDayPartitionsBefore(PgConn& conn, absl::string_view table,
                                                              int64_t before_us,
                                                              absl::Duration lock_wait) {
  PROV_ASSIGN_OR_RETURN(std::vector<PgDayPartition> parts, ListPgDayPartitions(conn, table));
  PgDroppedPartitions dropped;
  for (const PgDayPartition& p : parts) {
    if (p.to_us > before_us) break;
    absl::Status s = conn.Transaction([&]() -> absl::Status {
      PROV_RETURN_IF_ERROR(conn.Exec(LockTimeout(lock_wait)));
      // The names come from pg_class and match _p[0-9]{8}: quoted all the same.
      PROV_ASSIGN_OR_RETURN(PgResult n,
                            conn.Query(absl::StrCat("SELECT count(*) FROM \"", p.name, "\"")));
      PROV_ASSIGN_OR_RETURN(int64_t rows, n.Int64(0, 0));
      PROV_RETURN_IF_ERROR(conn.Exec(absl::StrCat("DROP TABLE \"", p.name, "\"")));
      dropped.rows += static_cast<uint64_t>(rows);
      return absl::OkStatus();
    });
    if (!s.ok()) {
      return absl::Status(s.code(),
                          absl::StrCat("dropping the day partition ", p.name, ": ", s.message()));
    }
    ++dropped.partitions;
  }
  return dropped;
}

absl::StatusOr<int64_t> CountPgDefaultRows(PgConn& conn, absl::string_view table, int64_t cap,
                                           absl::Duration lock_wait) {
  if (FindTable(table) == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("DEFAULT partition rows: ", table, " is not a day-partitioned table"));
  }
  int64_t n = 0;
  absl::Status s = conn.Transaction([&]() -> absl::Status {
    PROV_RETURN_IF_ERROR(conn.Exec(LockTimeout(lock_wait)));
    // The table name is one of kPgDayPartitionedTables (checked above), not caller text.
    PROV_ASSIGN_OR_RETURN(PgResult r,
                          conn.Query(absl::StrCat("SELECT count(*) FROM (SELECT 1 FROM ", table,
                                                  "_default LIMIT $1) AS d"),
                                     {cap}));
    PROV_ASSIGN_OR_RETURN(n, r.Int64(0, 0));
    return absl::OkStatus();
  });
  if (!s.ok()) {
    return absl::Status(s.code(),
                        absl::StrCat("counting ", table, "_default's rows: ", s.message()));
  }
  return n;
}

}  // namespace prov::server
