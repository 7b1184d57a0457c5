#include "server/store/pg/pg_schema.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "common/status_macros.h"

namespace prov::server {
namespace {

// Append only (renumbered by hand while PostgreSQL mode is unreleased; see SCHEMA.md). Every text
// column is COLLATE "C" (byte order, as SQLite's BINARY) and every integer BIGINT (SQLite's
// INTEGER is 64-bit); store_schema_parity_test checks both.
const std::vector<const char*> kPgMigrations = {
    // Version 1: what marks the database as provd's, the version table, and the alert notifier's
    // deliveries (SQLite version 4's alert_deliveries, same columns and meaning).
    R"sql(
CREATE TABLE provd_meta (
  key TEXT COLLATE "C" PRIMARY KEY,
  value TEXT COLLATE "C" NOT NULL
);
INSERT INTO provd_meta(key, value) VALUES ('application_id', '1347571542');
CREATE TABLE schema_version (version BIGINT PRIMARY KEY);
CREATE TABLE alert_deliveries (
  flag_id TEXT COLLATE "C" PRIMARY KEY,
  state BIGINT NOT NULL,
  labels TEXT COLLATE "C" NOT NULL,
  starts_us BIGINT NOT NULL,
  revision BIGINT NOT NULL,
  updated_us BIGINT NOT NULL
);
CREATE INDEX alert_deliveries_state ON alert_deliveries(state);
)sql",
    // Version 2: the audit log (SQLite version 3's audit_log, same columns and meaning) and the
    // part of `exports` that AuditLogRepository::Verify reads for its default anchor: the newest
    // export's audit head. Only those columns until the exports domain moves (issue 12): that
    // slice adds the rest here, in SQLite's column order, while these versions may still be
    // renumbered (SCHEMA.md).
    R"sql(
CREATE TABLE audit_log (
  seq BIGINT PRIMARY KEY,
  time_us BIGINT NOT NULL,
  actor TEXT COLLATE "C" NOT NULL,
  action TEXT COLLATE "C" NOT NULL,
  payload TEXT COLLATE "C" NOT NULL,
  prev_hash TEXT COLLATE "C" NOT NULL,
  hash TEXT COLLATE "C" NOT NULL
);
CREATE TABLE exports (
  export_id TEXT COLLATE "C" PRIMARY KEY,
  created_us BIGINT NOT NULL,
  audit_head_seq BIGINT NOT NULL,
  audit_head_hash TEXT COLLATE "C" NOT NULL
);
)sql",
    // Version 3: compliance cases (SQLite version 3's cases and case_actions, same columns and
    // meaning; PgCaseRepository).
    R"sql(
CREATE TABLE cases (
  flag_id TEXT COLLATE "C" PRIMARY KEY,
  status BIGINT NOT NULL,
  disposition BIGINT NOT NULL DEFAULT 0,
  assignee TEXT COLLATE "C" NOT NULL DEFAULT '',
  duplicate_of TEXT COLLATE "C" NOT NULL DEFAULT '',
  revision BIGINT NOT NULL,
  updated_us BIGINT NOT NULL
);
CREATE TABLE case_actions (
  flag_id TEXT COLLATE "C" NOT NULL,
  seq BIGINT NOT NULL,
  time_us BIGINT NOT NULL,
  actor TEXT COLLATE "C" NOT NULL,
  action BYTEA NOT NULL,
  PRIMARY KEY (flag_id, seq)
);
CREATE INDEX case_actions_time ON case_actions(time_us);
)sql",
    // Version 4: the elected leader's term (PostgreSQL only: one provd on SQLite leads alone;
    // pg_leader_election.h).
    R"sql(
CREATE TABLE leader (
  id BIGINT PRIMARY KEY CHECK (id = 1),
  term BIGINT NOT NULL,
  holder TEXT COLLATE "C" NOT NULL,
  since_us BIGINT NOT NULL
);
)sql",
    // Version 5: the access domain (SQLite versions 1, 10, 11 and 13, same columns, order and
    // meaning): API tokens, node revocations, node enrolment tokens and node certificates.
    R"sql(
CREATE TABLE api_tokens (
  token_id TEXT COLLATE "C" PRIMARY KEY,
  name TEXT COLLATE "C" NOT NULL,
  role BIGINT NOT NULL,
  secret_sha256 TEXT COLLATE "C" NOT NULL UNIQUE,
  created_us BIGINT NOT NULL,
  created_by TEXT COLLATE "C" NOT NULL,
  revoked_us BIGINT NOT NULL DEFAULT 0,
  expires_us BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE node_revocations (
  node_id TEXT COLLATE "C" PRIMARY KEY,
  revoked_at_us BIGINT NOT NULL,
  revoked_by TEXT COLLATE "C" NOT NULL,
  reason TEXT COLLATE "C" NOT NULL DEFAULT ''
);
CREATE TABLE node_enroll_tokens (
  token_id TEXT COLLATE "C" PRIMARY KEY,
  secret_sha256 TEXT COLLATE "C" NOT NULL,
  node_id TEXT COLLATE "C" NOT NULL,
  created_us BIGINT NOT NULL,
  created_by TEXT COLLATE "C" NOT NULL,
  expires_us BIGINT NOT NULL,
  used_us BIGINT,
  cert_serial TEXT COLLATE "C"
);
CREATE TABLE node_certificates (
  serial TEXT COLLATE "C" PRIMARY KEY,
  node_id TEXT COLLATE "C" NOT NULL,
  issued_us BIGINT NOT NULL,
  not_after_us BIGINT NOT NULL,
  via TEXT COLLATE "C" NOT NULL
);
CREATE INDEX node_certificates_by_node ON node_certificates(node_id, issued_us);
)sql",
};

constexpr char kApplicationId[] = "1347571542";  // 0x50524f56, 'PROV'

absl::Status Locked(PgConn& conn, const PgMigrateHooks& hooks) {
  PROV_ASSIGN_OR_RETURN(PgResult v, conn.Query("SELECT current_setting('server_version_num')"));
  PROV_ASSIGN_OR_RETURN(int64_t server_version, v.Int64(0, 0));
  if (server_version < 150000) {
    return absl::FailedPreconditionError(absl::StrCat("PostgreSQL ", server_version / 10000,
                                                      " is too old; provd needs 15 or newer"));
  }
  PROV_RETURN_IF_ERROR(CheckProvdPgDatabase(conn));
  PROV_ASSIGN_OR_RETURN(int version, ReadPgSchemaVersion(conn));
  if (hooks.after_version_read) hooks.after_version_read(version);
  if (version > LatestPgSchemaVersion()) {
    return absl::FailedPreconditionError(
        absl::StrCat("PostgreSQL schema version ", version, " is newer than this provd knows (",
                     LatestPgSchemaVersion(), "); use a newer provd"));
  }
  for (int next = version + 1; next <= LatestPgSchemaVersion(); ++next) {
    absl::Status s = conn.Transaction([&]() -> absl::Status {
      PROV_RETURN_IF_ERROR(conn.Exec(absl::StrCat("CREATE SCHEMA IF NOT EXISTS ", kPgSchema)));
      PROV_RETURN_IF_ERROR(conn.Exec(absl::StrCat("SET LOCAL search_path = ", kPgSchema)));
      PROV_RETURN_IF_ERROR(conn.Exec(kPgMigrations[next - 1]));
      return conn.Exec(absl::StrCat("INSERT INTO schema_version(version) VALUES (", next, ")"));
    });
    if (!s.ok()) {
      return absl::Status(s.code(), absl::StrCat("migrating the PostgreSQL schema to version ",
                                                 next, ": ", s.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace

int LatestPgSchemaVersion() { return static_cast<int>(kPgMigrations.size()); }

absl::StatusOr<int> ReadPgSchemaVersion(PgConn& conn) {
  PROV_ASSIGN_OR_RETURN(PgResult exists, conn.Query("SELECT to_regclass($1) IS NOT NULL",
                                                    {absl::StrCat(kPgSchema, ".schema_version")}));
  if (exists.Text(0, 0) != "t") return 0;
  PROV_ASSIGN_OR_RETURN(PgResult r,
                        conn.Query(absl::StrCat("SELECT COALESCE(MAX(version), 0) FROM ", kPgSchema,
                                                ".schema_version")));
  PROV_ASSIGN_OR_RETURN(int64_t version, r.Int64(0, 0));
  return static_cast<int>(version);
}

absl::Status CheckProvdPgDatabase(PgConn& conn) {
  PROV_ASSIGN_OR_RETURN(PgResult meta, conn.Query("SELECT to_regclass($1) IS NOT NULL",
                                                  {absl::StrCat(kPgSchema, ".provd_meta")}));
  if (meta.Text(0, 0) == "t") {
    PROV_ASSIGN_OR_RETURN(PgResult app,
                          conn.Query(absl::StrCat("SELECT value FROM ", kPgSchema,
                                                  ".provd_meta WHERE key = 'application_id'")));
    const std::string found = app.rows() > 0 ? app.Text(0, 0) : "(none)";
    if (found != kApplicationId) {
      return absl::FailedPreconditionError(
          absl::StrCat("another program's PostgreSQL schema (", kPgSchema,
                       ".provd_meta application_id ", found, ", provd's is ", kApplicationId,
                       "); provd never modifies it: give provd a database of its own"));
    }
    return absl::OkStatus();
  }
  // pg_class, not information_schema.tables: that view lists only the tables the current role
  // has rights on, so a non-superuser would see another owner's database as empty.
  PROV_ASSIGN_OR_RETURN(
      PgResult tables,
      conn.Query("SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON "
                 "n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND "
                 "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE "
                 "'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%' ORDER BY 1 LIMIT 6"));
  if (tables.rows() == 0) return absl::OkStatus();
  std::vector<std::string> names;
  for (int i = 0; i < tables.rows() && i < 5; ++i) names.push_back(tables.Text(i, 0));
  if (tables.rows() > 5) names.push_back("...");
  return absl::FailedPreconditionError(absl::StrCat(
      "a PostgreSQL database provd did not create (tables ", absl::StrJoin(names, ", "), "; no ",
      kPgSchema, ".provd_meta); provd never migrates into it: give provd a database of its own"));
}

absl::Status MigratePgSchema(PgConn& conn, const PgMigrateHooks& hooks) {
  const std::string lock_args = absl::StrCat(kPgLockKey, ", ", kPgMigrationLock);
  // A session lock taken inside a transaction outlives it; SET LOCAL bounds only this wait.
  absl::Status locked = conn.Transaction([&] {
    PROV_RETURN_IF_ERROR(
        conn.Exec(absl::StrCat("SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = ",
                               std::max<int64_t>(1, absl::ToInt64Milliseconds(hooks.lock_wait)))));
    return conn.Exec(absl::StrCat("SELECT pg_advisory_lock(", lock_args, ")"));
  });
  if (!locked.ok()) {
    std::string holder;
    if (absl::StrContains(locked.message(), "[55P03]")) {
      auto who = conn.Query(
          "SELECT a.pid, a.application_name, a.client_addr FROM pg_locks l JOIN pg_stat_activity "
          "a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT "
          "oid FROM pg_database WHERE datname = current_database()) AND l.classid = "
          "$1::bigint::oid "
          "AND l.objid = $2::bigint::oid AND l.objsubid = 2 LIMIT 1",
          {int64_t{kPgLockKey}, int64_t{kPgMigrationLock}});
      if (who.ok() && who->rows() > 0) {
        holder =
            absl::StrCat("; held by pid ", who->Text(0, 0), " application_name '", who->Text(0, 1),
                         "' from ", who->IsNull(0, 2) ? "a Unix socket" : who->Text(0, 2));
      }
    }
    return absl::Status(
        locked.code(),
        absl::StrCat("waited ", absl::FormatDuration(hooks.lock_wait),
                     " for the schema migration lock pg_advisory_lock(", lock_args,
                     ") (another provd migrating, or stuck)", holder, ": ", locked.message()));
  }
  absl::Status status = Locked(conn, hooks);
  if (conn.ok()) {
    absl::Status unlock = conn.Exec(absl::StrCat("SELECT pg_advisory_unlock(", lock_args, ")"));
    if (status.ok()) status = unlock;
  }
  return status;
}

}  // namespace prov::server
