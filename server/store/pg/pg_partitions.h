// Day partitions of provd's time-keyed PostgreSQL tables (schema version 10, pg_schema.cc;
// server/store/README.md, "Day partitions"): created ahead by the ingest repository, dropped
// whole by retention.
//
//   // every replica's ingest, when its clock enters a new day (its own short transactions):
//   PROV_ASSIGN_OR_RETURN(int created, EnsurePgDayPartitions(conn, clock.Now()));
//   // retention: every day partition of reports wholly collected before the cutoff
//   PROV_ASSIGN_OR_RETURN(PgDroppedPartitions d, DropPgDayPartitionsBefore(conn, "reports", cut));
//   // what DEFAULT holds (rows of days without a partition; 0 when all is well):
//   PROV_ASSIGN_OR_RETURN(int64_t n, CountPgDefaultRows(conn, "reports"));
//
// The tables (kPgDayPartitionedTables) are RANGE-partitioned on a microsecond column the report
// itself carries (reports.collected_at_us, account_usage_hourly.hour_us), one partition per UTC
// day named <table>_pYYYYMMDD holding [day, day + 24 h), plus <table>_default (DEFAULT) that
// holds whatever arrives for a day with no partition: an ingest never fails for a missing one.
// Creating a partition takes the advisory lock (kPgLockKey, kPgPartitionLock) and moves that
// day's rows out of the DEFAULT partition first (PostgreSQL refuses to create a partition whose
// range has rows in DEFAULT), all in one transaction per table, with lock_timeout lock_wait:
// creating a partition briefly takes an ACCESS EXCLUSIVE lock on its parent table, so a creation
// that cannot get it soon gives up (UNAVAILABLE) rather than stall ingest behind it.
// Thread-compatible (uses the caller's connection, outside any transaction).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/store/pg/pg_conn.h"

namespace prov::server {

struct PgDayPartitionedTable {
  const char* table;
  const char* key;  // the BIGINT microsecond partition key
};
inline constexpr PgDayPartitionedTable kPgDayPartitionedTables[] = {
    {"reports", "collected_at_us"}, {"account_usage_hourly", "hour_us"}};

inline constexpr int64_t kUsPerDay = int64_t{86400} * 1000000;

// The UTC day (days since 1970-01-01, floored) that holds `us`.
int64_t PgDayOf(int64_t us);

struct PgEnsureOptions {
  int days_before = 1;  // yesterday too: a replica whose clock is behind another's
  int days_ahead = 2;   // reports may be collected up to 10 min in the future (validator)
  absl::Duration lock_wait = absl::Seconds(2);
};

// Creates the missing partitions of every day-partitioned table for the days around now's
// (one transaction per table); how many it created.
absl::StatusOr<int> EnsurePgDayPartitions(PgConn& conn, absl::Time now,
                                          const PgEnsureOptions& options = {});

struct PgDayPartition {
  std::string name;
  int64_t from_us = 0;  // inclusive
  int64_t to_us = 0;    // exclusive
};
// The table's day partitions (the DEFAULT one aside), oldest first.
absl::StatusOr<std::vector<PgDayPartition>> ListPgDayPartitions(PgConn& conn,
                                                                absl::string_view table);

struct PgDroppedPartitions {
  int partitions = 0;
  uint64_t rows = 0;  // counted (an index-only scan) just before each DROP, in its transaction
};
// Drops every day partition of `table` whose range ends at or before before_us, each in its own
// transaction (lock_timeout lock_wait). `table` must be one of kPgDayPartitionedTables.
absl::StatusOr<PgDroppedPartitions> DropPgDayPartitionsBefore(
    PgConn& conn, absl::string_view table, int64_t before_us,
    absl::Duration lock_wait = absl::Seconds(10));

// One attempt of an ingest repository to make the day partitions ahead
// (PgIngestOptions::on_partitions, StoreBackendOptions::on_pg_partitions).
struct PgPartitionsReport {
  absl::Status status;  // EnsurePgDayPartitions' (or the reconnect's)
  int created = 0;
  // (table, rows in its DEFAULT partition then: CountPgDefaultRows; -1 when it could not count).
  std::vector<std::pair<std::string, int64_t>> default_rows;
};

// The rows in `table`'s DEFAULT partition, counting at most `cap` (a bounded scan). DEFAULT
// stays empty while partitions are made ahead; rows there are reports of days with no
// partition (spooled from before the partitions, after retention dropped their day) or of days
// whose partitions could not be created. Nothing drops them whole, and every partition creation
// scans them. Waits at most lock_wait for the table's lock. `table` must be one of
// kPgDayPartitionedTables.
absl::StatusOr<int64_t> CountPgDefaultRows(PgConn& conn, absl::string_view table,
                                           int64_t cap = 1'000'000,
                                           absl::Duration lock_wait = absl::Seconds(2));

}  // namespace prov::server
