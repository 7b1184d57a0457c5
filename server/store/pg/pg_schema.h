// provd's PostgreSQL schema and its migrations (server/store/SCHEMA.md, "PostgreSQL versions").
//
//   PROV_ASSIGN_OR_RETURN(auto conn, PgConn::Connect(url.pg_conninfo, {.search_path = "provd"}));
//   PROV_RETURN_IF_ERROR(MigratePgSchema(*conn));   // at start, before any repository is used
//
// Everything lives in the schema `provd` (kPgSchema); connections set search_path to it.
// The PostgreSQL versions have their own counter, separate from SQLite's. v1: provd_meta,
// schema_version, alert_deliveries; v2: audit_log and the anchor columns of exports; v3: cases,
// case_actions; v4: leader; v5: the ingest tables (pg_ingest.h) and the function
// prov_merge_methods; v6: api_tokens, node_revocations, node_enroll_tokens, node_certificates;
// v10: reports and account_usage_hourly partitioned by day (pg_partitions.h).
// MigratePgSchema takes the session advisory lock (kPgLockKey, 0) first, so replicas starting
// together migrate once: the others wait (at most PgMigrateHooks::lock_wait, default 2 min; then
// UNAVAILABLE naming the lock and its holder), then find nothing to do. Under the lock it
//  - refuses a server older than PostgreSQL 15;
//  - refuses a database provd did not create (FAILED_PRECONDITION, naming up to five tables):
//    tables, views or foreign tables in any schema (pg_class: also those the role may not read)
//    but no provd.provd_meta, or a provd_meta whose application_id is not
//    provd's. An empty database passes; provd needs a database of its own;
//  - refuses a schema newer than this provd knows (FAILED_PRECONDITION);
//  - applies each pending version with its schema_version row in ONE transaction (PostgreSQL
//    DDL is transactional: a failed migration leaves the previous version intact).
// The lock is released before returning (and by the server if the session dies).
// Thread-compatible (uses the caller's connection).
#pragma once

#include <cstdint>
#include <functional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/store/pg/pg_conn.h"

namespace prov::server {

inline constexpr char kPgSchema[] = "provd";
// The first key of provd's advisory locks: 'PROV', as SQLite's application_id. The second key
// is the purpose: 0 migrations (session lock), 1 audit-log appends (transaction lock,
// pg_audit_log.h), 2 case changes (transaction lock, pg_cases.h; taken before 1 when both are),
// 3 the elected leader (session lock, pg_leader_election.h), 4 identity imports: KYC, screening
// lists, policies (transaction lock, pg_identity.h; taken before 1), 5 inventory imports
// (transaction lock, pg_inventory.h; taken before 1), 6 the export chain (transaction lock,
// pg_exports.h; taken before 1), 7 location records (pg_location.h), 8 creating day partitions
// (transaction lock, taken by prov_day_partition; pg_partitions.h), 9 issuing a token only while
// its role is vacant: the first admin token (transaction lock, pg_api_tokens.h; taken before 1).
inline constexpr int32_t kPgLockKey = 0x50524f56;
inline constexpr int32_t kPgMigrationLock = 0;
inline constexpr int32_t kPgAuditAppendLock = 1;
inline constexpr int32_t kPgCaseLock = 2;
inline constexpr int32_t kPgLeaderLock = 3;
inline constexpr int32_t kPgIdentityLock = 4;
inline constexpr int32_t kPgInventoryImportLock = 5;
inline constexpr int32_t kPgExportChainLock = 6;
inline constexpr int32_t kPgPartitionLock = 8;  // the literal 8 in prov_day_partition (v10)
inline constexpr int32_t kPgTokenLock = 9;

int LatestPgSchemaVersion();

struct PgMigrateHooks {
  // Called under the lock, after the version was read and before anything is applied (tests).
  std::function<void(int version)> after_version_read = nullptr;
  // How long to wait for the migration lock before failing UNAVAILABLE (lock_timeout, 55P03),
  // naming the lock and, when it can, the session holding it.
  absl::Duration lock_wait = absl::Minutes(2);
  // Tests: migrate only up to this version (0: the latest), to build an older database.
  int up_to = 0;
};

absl::Status MigratePgSchema(PgConn& conn, const PgMigrateHooks& hooks = {});

// The version recorded in provd.schema_version (0 when the table does not exist yet).
absl::StatusOr<int> ReadPgSchemaVersion(PgConn& conn);

// The foreign-database check MigratePgSchema makes (reads only).
absl::Status CheckProvdPgDatabase(PgConn& conn);

}  // namespace prov::server
