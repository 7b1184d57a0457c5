#include "server/store/schema.h"

#include <array>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"

namespace prov::server {
namespace {

// Times are Unix microseconds (INTEGER). Append new migrations; never edit applied ones.
constexpr std::array<const char*, 14> kMigrations = {R"sql(
CREATE TABLE nodes (
  id INTEGER PRIMARY KEY,
  node_id TEXT NOT NULL UNIQUE,
  hostname TEXT NOT NULL DEFAULT '',
  datacenter TEXT NOT NULL DEFAULT '',
  region TEXT NOT NULL DEFAULT '',
  agent_version TEXT NOT NULL DEFAULT '',
  boot_id TEXT NOT NULL DEFAULT '',
  first_seen_us INTEGER NOT NULL,
  last_seen_us INTEGER NOT NULL,
  last_received_us INTEGER NOT NULL,
  last_seq INTEGER NOT NULL DEFAULT 0,
  accelerator_count INTEGER NOT NULL DEFAULT 0,
  workload_count INTEGER NOT NULL DEFAULT 0,
  reports_stored INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX nodes_datacenter ON nodes(datacenter);
CREATE TABLE node_streams (
  node INTEGER NOT NULL REFERENCES nodes(id),
  boot_id TEXT NOT NULL,
  max_seq INTEGER NOT NULL,
  PRIMARY KEY (node, boot_id)
) WITHOUT ROWID;
CREATE TABLE reports (
  id INTEGER PRIMARY KEY,
  node INTEGER NOT NULL REFERENCES nodes(id),
  boot_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  collected_at_us INTEGER NOT NULL,
  received_at_us INTEGER NOT NULL,
  interval_seconds INTEGER NOT NULL,
  size_bytes INTEGER NOT NULL,
  accelerator_count INTEGER NOT NULL,
  sample_count INTEGER NOT NULL,
  workload_count INTEGER NOT NULL,
  UNIQUE (node, boot_id, seq)
);
CREATE TABLE accelerators (
  node INTEGER NOT NULL REFERENCES nodes(id),
  pci_address TEXT NOT NULL,
  vendor_id INTEGER NOT NULL,
  device_id INTEGER NOT NULL,
  vendor TEXT NOT NULL,
  model TEXT NOT NULL,
  model_known INTEGER NOT NULL,
  uuid TEXT NOT NULL,
  serial TEXT NOT NULL,
  accelerator BLOB NOT NULL,
  first_seen_us INTEGER NOT NULL,
  last_seen_us INTEGER NOT NULL,
  PRIMARY KEY (node, pci_address)
) WITHOUT ROWID;
CREATE TABLE workloads (
  id INTEGER PRIMARY KEY,
  node INTEGER NOT NULL REFERENCES nodes(id),
  workload_id TEXT NOT NULL,
  kind INTEGER NOT NULL,
  account TEXT NOT NULL,
  attribution_source INTEGER NOT NULL,
  workload_class INTEGER NOT NULL,
  class_confidence REAL NOT NULL,
  launcher TEXT NOT NULL,
  accelerator_count INTEGER NOT NULL,
  accelerator_model TEXT NOT NULL,
  first_seen_us INTEGER NOT NULL,
  last_seen_us INTEGER NOT NULL,
  accelerator_seconds REAL NOT NULL,
  flop_low REAL NOT NULL,
  flop_high REAL NOT NULL,
  method TEXT NOT NULL,
  UNIQUE (node, workload_id)
);
CREATE INDEX workloads_account ON workloads(account);
CREATE TABLE workload_details (
  node INTEGER NOT NULL REFERENCES nodes(id),
  workload_id TEXT NOT NULL,
  seen_us INTEGER NOT NULL,
  workload BLOB NOT NULL,
  PRIMARY KEY (node, workload_id)
) WITHOUT ROWID;
CREATE TABLE account_usage_hourly (
  account TEXT NOT NULL,
  hour_us INTEGER NOT NULL,
  accelerator_seconds REAL NOT NULL,
  training_seconds REAL NOT NULL,
  inference_seconds REAL NOT NULL,
  flop_low REAL NOT NULL,
  flop_high REAL NOT NULL,
  method TEXT NOT NULL,
  PRIMARY KEY (account, hour_us)
) WITHOUT ROWID;
)sql",
                                                     // Version 2: identity and analysis (issue 3).
                                                     R"sql(
CREATE TABLE kyc_imports (
  version INTEGER PRIMARY KEY,
  imported_at_us INTEGER NOT NULL,
  source TEXT NOT NULL,
  actor TEXT NOT NULL DEFAULT '',
  content_digest TEXT NOT NULL,
  accepted INTEGER NOT NULL,
  errors INTEGER NOT NULL
);
CREATE TABLE account_identities (
  account_id TEXT NOT NULL,
  version INTEGER NOT NULL REFERENCES kyc_imports(version),
  identity BLOB NOT NULL,
  PRIMARY KEY (account_id, version)
) WITHOUT ROWID;
CREATE TABLE accounts (
  account_id TEXT PRIMARY KEY,
  version INTEGER NOT NULL,
  legal_entity TEXT NOT NULL,
  country TEXT NOT NULL,
  parent_account TEXT NOT NULL,
  identity BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE screening_lists (
  id INTEGER PRIMARY KEY,
  list_version TEXT NOT NULL,
  imported_at_us INTEGER NOT NULL,
  source TEXT NOT NULL,
  actor TEXT NOT NULL DEFAULT '',
  columns INTEGER NOT NULL,
  entries INTEGER NOT NULL,
  content BLOB NOT NULL
);
CREATE TABLE screening_hits (
  id INTEGER PRIMARY KEY,
  account_id TEXT NOT NULL,
  list_version TEXT NOT NULL,
  kyc_version INTEGER NOT NULL,
  score REAL NOT NULL,
  found_at_us INTEGER NOT NULL,
  hit BLOB NOT NULL
);
CREATE INDEX screening_hits_account ON screening_hits(account_id);
CREATE TABLE policies (
  id INTEGER PRIMARY KEY,
  policy_version TEXT NOT NULL,
  source TEXT NOT NULL,
  loaded_at_us INTEGER NOT NULL,
  yaml TEXT NOT NULL
);
CREATE TABLE analysis_nodes (
  node_id TEXT PRIMARY KEY,
  facts BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE analysis_workloads (
  workload_key TEXT PRIMARY KEY,
  facts BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE links (
  link_key TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  account_a TEXT NOT NULL,
  account_b TEXT NOT NULL,
  link BLOB NOT NULL
) WITHOUT ROWID;
CREATE INDEX links_account_a ON links(account_a);
CREATE INDEX links_account_b ON links(account_b);
CREATE TABLE bundles (
  bundle_id TEXT PRIMARY KEY,
  merged_into TEXT NOT NULL DEFAULT '',
  updated_us INTEGER NOT NULL,
  bundle BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE bundle_accounts (
  account_id TEXT PRIMARY KEY,
  bundle_id TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX bundle_accounts_bundle ON bundle_accounts(bundle_id);
CREATE TABLE flags (
  flag_id TEXT PRIMARY KEY,
  rule TEXT NOT NULL,
  subject TEXT NOT NULL,
  severity INTEGER NOT NULL,
  status INTEGER NOT NULL,
  updated_us INTEGER NOT NULL,
  flag BLOB NOT NULL,
  UNIQUE (rule, subject)
) WITHOUT ROWID;
CREATE TABLE flag_accounts (
  account_id TEXT NOT NULL,
  flag_id TEXT NOT NULL,
  PRIMARY KEY (account_id, flag_id)
) WITHOUT ROWID;
)sql",
                                                     R"sql(
CREATE TABLE api_tokens (
  token_id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  role INTEGER NOT NULL,
  secret_sha256 TEXT NOT NULL UNIQUE,
  created_us INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  revoked_us INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE audit_log (
  seq INTEGER PRIMARY KEY,
  time_us INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  payload TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE TABLE cases (
  flag_id TEXT PRIMARY KEY,
  status INTEGER NOT NULL,
  disposition INTEGER NOT NULL DEFAULT 0,
  assignee TEXT NOT NULL DEFAULT '',
  duplicate_of TEXT NOT NULL DEFAULT '',
  revision INTEGER NOT NULL,
  updated_us INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE case_actions (
  flag_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  time_us INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action BLOB NOT NULL,
  PRIMARY KEY (flag_id, seq)
) WITHOUT ROWID;
CREATE INDEX case_actions_time ON case_actions(time_us);
CREATE TABLE exports (
  export_id TEXT PRIMARY KEY,
  created_us INTEGER NOT NULL,
  trigger TEXT NOT NULL,
  path TEXT NOT NULL,
  manifest_sha256 TEXT NOT NULL,
  previous_manifest_sha256 TEXT NOT NULL,
  audit_head_seq INTEGER NOT NULL,
  audit_head_hash TEXT NOT NULL,
  summary BLOB NOT NULL
) WITHOUT ROWID;
)sql",
                                                     // Version 4: alert notifier (issue 4).
                                                     R"sql(
CREATE TABLE alert_deliveries (
  flag_id TEXT PRIMARY KEY,
  state INTEGER NOT NULL,
  labels TEXT NOT NULL,
  starts_us INTEGER NOT NULL,
  revision INTEGER NOT NULL,
  updated_us INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX alert_deliveries_state ON alert_deliveries(state);
)sql",
                                                     // Version 5: elapsed-time ledger (issue 14).
                                                     R"sql(
ALTER TABLE node_streams ADD COLUMN credited_until_us INTEGER NOT NULL DEFAULT 0;
ALTER TABLE node_streams ADD COLUMN last_collected_us INTEGER NOT NULL DEFAULT 0;
ALTER TABLE node_streams ADD COLUMN first_credit_us INTEGER NOT NULL DEFAULT 0;
UPDATE node_streams SET
  first_credit_us = COALESCE((SELECT MIN(received_at_us) FROM reports r
                              WHERE r.node = node_streams.node
                                AND r.boot_id = node_streams.boot_id), 0),
  credited_until_us = COALESCE((SELECT MAX(received_at_us) FROM reports r
                                WHERE r.node = node_streams.node
                                  AND r.boot_id = node_streams.boot_id), 0),
  last_collected_us = COALESCE((SELECT MAX(collected_at_us) FROM reports r
                                WHERE r.node = node_streams.node
                                  AND r.boot_id = node_streams.boot_id), 0);
ALTER TABLE reports ADD COLUMN credited_seconds REAL;
ALTER TABLE workloads ADD COLUMN gap_seconds REAL NOT NULL DEFAULT 0;
ALTER TABLE account_usage_hourly ADD COLUMN gap_seconds REAL NOT NULL DEFAULT 0;
CREATE TABLE evidence_gaps (
  id INTEGER PRIMARY KEY,
  node INTEGER NOT NULL REFERENCES nodes(id),
  boot_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  start_us INTEGER NOT NULL,
  end_us INTEGER NOT NULL,
  claimed_interval_seconds INTEGER NOT NULL,
  gap_seconds REAL NOT NULL,
  accelerator_seconds REAL NOT NULL,
  flop_high REAL NOT NULL
);
CREATE INDEX evidence_gaps_node ON evidence_gaps(node, end_us);
)sql",
                                                     // Version 6: stored records that no longer
                                                     // parse, moved aside at start-up (issue 14).
                                                     R"sql(
CREATE TABLE quarantined_records (
  id INTEGER PRIMARY KEY,
  table_name TEXT NOT NULL,
  row_key TEXT NOT NULL,
  reason TEXT NOT NULL,
  quarantined_at_us INTEGER NOT NULL,
  record BLOB NOT NULL
);
)sql",
                                                     // Version 7: rejected reports on the node's
                                                     // record (issue 14).
                                                     R"sql(
ALTER TABLE nodes ADD COLUMN reports_rejected INTEGER NOT NULL DEFAULT 0;
ALTER TABLE nodes ADD COLUMN last_rejected_us INTEGER NOT NULL DEFAULT 0;
ALTER TABLE nodes ADD COLUMN last_rejection TEXT NOT NULL DEFAULT '';
ALTER TABLE nodes ADD COLUMN rejecting_since_us INTEGER NOT NULL DEFAULT 0;
)sql",
                                                     // Version 8: the agent's own health, from
                                                     // its reports (issue 14).
                                                     R"sql(
ALTER TABLE nodes ADD COLUMN agent_health_us INTEGER NOT NULL DEFAULT 0;
ALTER TABLE nodes ADD COLUMN agent_spool_depth INTEGER NOT NULL DEFAULT 0;
ALTER TABLE nodes ADD COLUMN agent_dropped_reports INTEGER NOT NULL DEFAULT 0;
ALTER TABLE nodes ADD COLUMN agent_unreadable_reports INTEGER NOT NULL DEFAULT 0;
ALTER TABLE nodes ADD COLUMN agent_rejected_reports INTEGER NOT NULL DEFAULT 0;
ALTER TABLE nodes ADD COLUMN agent_collector_errors INTEGER NOT NULL DEFAULT 0;
ALTER TABLE nodes ADD COLUMN agent_nvml_available INTEGER NOT NULL DEFAULT 0;
ALTER TABLE nodes ADD COLUMN agent_strings_repaired INTEGER NOT NULL DEFAULT 0;
ALTER TABLE nodes ADD COLUMN agent_strings_truncated INTEGER NOT NULL DEFAULT 0;
)sql",
                                                     // Version 9: the declared inventory
                                                     // (issue 10 §2).
                                                     R"sql(
CREATE TABLE inventory_imports (
  version INTEGER PRIMARY KEY,
  imported_at_us INTEGER NOT NULL,
  source TEXT NOT NULL,
  actor TEXT NOT NULL,
  content_digest TEXT NOT NULL,
  accepted INTEGER NOT NULL,
  errors INTEGER NOT NULL
);
CREATE TABLE inventory_history (
  serial TEXT NOT NULL,
  version INTEGER NOT NULL REFERENCES inventory_imports(version),
  declared BLOB NOT NULL,
  PRIMARY KEY (serial, version)
) WITHOUT ROWID;
CREATE TABLE inventory (
  serial TEXT PRIMARY KEY,
  version INTEGER NOT NULL,
  uuid TEXT NOT NULL,
  node_id TEXT NOT NULL,
  datacenter TEXT NOT NULL,
  rack TEXT NOT NULL,
  status INTEGER NOT NULL,
  declared BLOB NOT NULL
) WITHOUT ROWID;
CREATE INDEX inventory_node ON inventory(node_id);
CREATE INDEX inventory_place ON inventory(datacenter, rack);
CREATE INDEX inventory_uuid ON inventory(uuid) WHERE uuid != '';
CREATE INDEX accelerators_serial ON accelerators(serial) WHERE serial != '';
CREATE INDEX accelerators_uuid ON accelerators(uuid) WHERE uuid != '';
)sql",
                                                     // Version 10: revoked node certificates.
                                                     R"sql(
CREATE TABLE node_revocations (
  node_id       TEXT PRIMARY KEY,
  revoked_at_us INTEGER NOT NULL,
  revoked_by    TEXT NOT NULL,
  reason        TEXT NOT NULL DEFAULT ''
);
)sql",
                                                     // Version 11: node enrolment tokens and the
                                                     // certificates provd's node CA issued.
                                                     R"sql(
CREATE TABLE node_enroll_tokens (
  token_id      TEXT PRIMARY KEY,
  secret_sha256 TEXT NOT NULL,
  node_id       TEXT NOT NULL,
  created_us    INTEGER NOT NULL,
  created_by    TEXT NOT NULL,
  expires_us    INTEGER NOT NULL,
  used_us       INTEGER,
  cert_serial   TEXT
);
CREATE TABLE node_certificates (
  serial        TEXT PRIMARY KEY,
  node_id       TEXT NOT NULL,
  issued_us     INTEGER NOT NULL,
  not_after_us  INTEGER NOT NULL,
  via           TEXT NOT NULL
);
CREATE INDEX node_certificates_by_node ON node_certificates(node_id, issued_us);
)sql",
                                                     // Version 12: each node's newest SMBIOS
                                                     // identity and its changes (issue 10).
                                                     R"sql(
CREATE TABLE node_hardware (
  node          INTEGER PRIMARY KEY REFERENCES nodes(id),
  system_uuid   TEXT NOT NULL,
  board_serial  TEXT NOT NULL,
  hardware      BLOB NOT NULL,
  since_us      INTEGER NOT NULL,
  since_boot_id TEXT NOT NULL
);
CREATE TABLE node_hardware_changes (
  id               INTEGER PRIMARY KEY,
  node             INTEGER NOT NULL REFERENCES nodes(id),
  field            TEXT NOT NULL,
  old_value        TEXT NOT NULL,
  new_value        TEXT NOT NULL,
  changed_at_us    INTEGER NOT NULL,
  boot_id          TEXT NOT NULL,
  previous_seen_us INTEGER NOT NULL
);
CREATE INDEX node_hardware_changes_by_node ON node_hardware_changes(node, changed_at_us);
CREATE INDEX inventory_page ON inventory(datacenter, rack, node_id, serial);
)sql",
                                                     // Version 13: token expiry (issue 13).
                                                     R"sql(
ALTER TABLE api_tokens ADD COLUMN expires_us INTEGER NOT NULL DEFAULT 0;
)sql",
                                                     // Version 14: location verification
                                                     // (issue 11): node keys, responders,
                                                     // landmark records, verdicts.
                                                     R"sql(
CREATE TABLE location_node_keys (
  node_id       TEXT NOT NULL,
  spki          BLOB NOT NULL,
  first_seen_us INTEGER NOT NULL,
  last_seen_us  INTEGER NOT NULL,
  source        TEXT NOT NULL,
  PRIMARY KEY (node_id, spki)
) WITHOUT ROWID;
CREATE TABLE location_responders (
  node       INTEGER PRIMARY KEY REFERENCES nodes(id),
  address    TEXT NOT NULL,
  updated_us INTEGER NOT NULL
);
CREATE TABLE location_measurements (
  id           INTEGER PRIMARY KEY,
  received_us  INTEGER NOT NULL,
  landmark_id  TEXT NOT NULL,
  target_kind  TEXT NOT NULL,
  target_id    TEXT NOT NULL,
  measured_us  INTEGER NOT NULL,
  landmark_seq INTEGER NOT NULL,
  rtt_min_ms   REAL NOT NULL,
  answers      INTEGER NOT NULL,
  measurement  BLOB NOT NULL,
  signature    BLOB NOT NULL
);
CREATE INDEX location_measurements_by_target
  ON location_measurements(target_kind, target_id, landmark_id, measured_us);
CREATE INDEX location_measurements_by_time ON location_measurements(measured_us);
CREATE TABLE location_landmarks (
  landmark_id      TEXT PRIMARY KEY,
  last_seq         INTEGER NOT NULL,
  last_measured_us INTEGER NOT NULL,
  last_record_us   INTEGER NOT NULL,
  accepted         INTEGER NOT NULL,
  refused          INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE location_verdicts (
  node_id      TEXT PRIMARY KEY,
  verdict      TEXT NOT NULL,
  evaluated_us INTEGER NOT NULL,
  location     BLOB NOT NULL,
  disk_ids     TEXT NOT NULL,
  calibration  TEXT NOT NULL,
  params       TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX location_verdicts_by_verdict ON location_verdicts(verdict, node_id);
)sql"};

}  // namespace

int LatestSchemaVersion() { return static_cast<int>(kMigrations.size()); }

absl::StatusOr<int> ReadSchemaVersion(SqliteDb& db) {
  PROV_RETURN_IF_ERROR(
      db.Exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"));
  PROV_ASSIGN_OR_RETURN(auto st,
                        db.Prepare("SELECT COALESCE(MAX(version), 0) FROM schema_version"));
  PROV_ASSIGN_OR_RETURN(bool row, st->Step());
  return row ? static_cast<int>(st->ColumnInt64(0)) : 0;
}

absl::Status CheckProvdDatabase(SqliteDb& db) {
  auto app = db.Prepare("PRAGMA application_id");
  absl::StatusOr<bool> row = app.ok() ? (*app)->Step() : absl::StatusOr<bool>(app.status());
  if (!row.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("not a SQLite database provd can read (", row.status().message(),
                     "); provd never overwrites it: move it away or choose another --data-dir"));
  }
  const int64_t app_id = *row ? (*app)->ColumnInt64(0) : 0;
  if (app_id == kProvdApplicationId) return absl::OkStatus();
  if (app_id != 0) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "another program's SQLite database (application_id 0x%08x, provd's is 0x%08x); provd "
        "never modifies it: choose another --data-dir",
        static_cast<uint32_t>(app_id), static_cast<uint32_t>(kProvdApplicationId)));
  }
  PROV_ASSIGN_OR_RETURN(auto tables,
                        db.Prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name "
                                   "NOT LIKE 'sqlite_%' ORDER BY name"));
  std::vector<std::string> names;
  bool has_version = false;
  while (true) {
    absl::StatusOr<bool> more = tables->Step();
    if (!more.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("not a SQLite database provd can read (", more.status().message(),
                       "); provd never overwrites it: move it away or choose another --data-dir"));
    }
    if (!*more) break;
    std::string name = tables->ColumnText(0);
    has_version |= name == "schema_version";
    names.push_back(std::move(name));
  }
  if (!names.empty() && !has_version) {
    if (names.size() > 5) {
      names.resize(5);
      names.push_back("...");
    }
    return absl::FailedPreconditionError(absl::StrCat(
        "a SQLite database provd did not create (tables ", absl::StrJoin(names, ", "),
        "; no schema_version); provd never migrates into it: choose another --data-dir"));
  }
  return absl::OkStatus();
}

absl::Status MigrateSchema(SqliteDb& db) {
  PROV_ASSIGN_OR_RETURN(int version, ReadSchemaVersion(db));
  if (version > LatestSchemaVersion()) {
    return absl::FailedPreconditionError(
        absl::StrCat("database schema version ", version, " is newer than this provd knows (",
                     LatestSchemaVersion(), "); use a newer provd"));
  }
  for (int v = version; v < LatestSchemaVersion(); ++v) {
    PROV_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
    absl::Status status = db.Exec(kMigrations[v]);
    if (status.ok()) {
      status = db.Exec(absl::StrCat("INSERT INTO schema_version(version) VALUES (", v + 1, ")"));
    }
    if (!status.ok()) {
      (void)db.Exec("ROLLBACK");
      return absl::InternalError(
          absl::StrCat("migrating schema to version ", v + 1, ": ", status.message()));
    }
    PROV_RETURN_IF_ERROR(db.Exec("COMMIT"));
  }
  return db.Exec(absl::StrCat("PRAGMA application_id=", kProvdApplicationId));
}

}  // namespace prov::server
