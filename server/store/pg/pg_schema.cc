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
    // Version 2: the audit log and the export records (SQLite version 3's audit_log and exports,
    // same columns and meaning); AuditLogRepository::Verify reads the newest export's audit head
    // as its default anchor.
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
  trigger TEXT COLLATE "C" NOT NULL,
  path TEXT COLLATE "C" NOT NULL,
  manifest_sha256 TEXT COLLATE "C" NOT NULL,
  previous_manifest_sha256 TEXT COLLATE "C" NOT NULL,
  audit_head_seq BIGINT NOT NULL,
  audit_head_hash TEXT COLLATE "C" NOT NULL,
  summary BYTEA NOT NULL
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
    // Version 5: the ingest tables (SQLite versions 1, 5, 7, 8, 9, 12 and 14: nodes, node_streams,
    // reports, accelerators, workloads, workload_details, account_usage_hourly, evidence_gaps,
    // node_hardware, node_hardware_changes, location_responders), same columns in SQLite's order
    // (its ALTER TABLE ADD COLUMNs appended). SQLite's INTEGER PRIMARY KEY rowids are BIGINT
    // identity keys (nodes.id is the node handle every other table refers to). prov_merge_methods
    // is MergeMethods (server/ledger/usage.cc), as SQLite's Store registers it: the ledger's
    // method column keeps each method once, " + "-joined in byte order.
    // The tables every batch updates in place keep 30 % of each page free (fillfactor 70), so an
    // update can stay on its page without new index entries (HOT): 236 -> 162 us of PostgreSQL CPU
    // per report in prov-pg-ingest-bench.
    R"sql(
CREATE TABLE nodes (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  node_id TEXT COLLATE "C" NOT NULL UNIQUE,
  hostname TEXT COLLATE "C" NOT NULL DEFAULT '',
  datacenter TEXT COLLATE "C" NOT NULL DEFAULT '',
  region TEXT COLLATE "C" NOT NULL DEFAULT '',
  agent_version TEXT COLLATE "C" NOT NULL DEFAULT '',
  boot_id TEXT COLLATE "C" NOT NULL DEFAULT '',
  first_seen_us BIGINT NOT NULL,
  last_seen_us BIGINT NOT NULL,
  last_received_us BIGINT NOT NULL,
  last_seq BIGINT NOT NULL DEFAULT 0,
  accelerator_count BIGINT NOT NULL DEFAULT 0,
  workload_count BIGINT NOT NULL DEFAULT 0,
  reports_stored BIGINT NOT NULL DEFAULT 0,
  reports_rejected BIGINT NOT NULL DEFAULT 0,
  last_rejected_us BIGINT NOT NULL DEFAULT 0,
  last_rejection TEXT COLLATE "C" NOT NULL DEFAULT '',
  rejecting_since_us BIGINT NOT NULL DEFAULT 0,
  agent_health_us BIGINT NOT NULL DEFAULT 0,
  agent_spool_depth BIGINT NOT NULL DEFAULT 0,
  agent_dropped_reports BIGINT NOT NULL DEFAULT 0,
  agent_unreadable_reports BIGINT NOT NULL DEFAULT 0,
  agent_rejected_reports BIGINT NOT NULL DEFAULT 0,
  agent_collector_errors BIGINT NOT NULL DEFAULT 0,
  agent_nvml_available BIGINT NOT NULL DEFAULT 0,
  agent_strings_repaired BIGINT NOT NULL DEFAULT 0,
  agent_strings_truncated BIGINT NOT NULL DEFAULT 0
) WITH (fillfactor = 70);
CREATE INDEX nodes_datacenter ON nodes(datacenter);
CREATE TABLE node_streams (
  node BIGINT NOT NULL REFERENCES nodes(id),
  boot_id TEXT COLLATE "C" NOT NULL,
  max_seq BIGINT NOT NULL,
  credited_until_us BIGINT NOT NULL DEFAULT 0,
  last_collected_us BIGINT NOT NULL DEFAULT 0,
  first_credit_us BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (node, boot_id)
) WITH (fillfactor = 70);
CREATE TABLE reports (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  node BIGINT NOT NULL REFERENCES nodes(id),
  boot_id TEXT COLLATE "C" NOT NULL,
  seq BIGINT NOT NULL,
  collected_at_us BIGINT NOT NULL,
  received_at_us BIGINT NOT NULL,
  interval_seconds BIGINT NOT NULL,
  size_bytes BIGINT NOT NULL,
  accelerator_count BIGINT NOT NULL,
  sample_count BIGINT NOT NULL,
  workload_count BIGINT NOT NULL,
  credited_seconds DOUBLE PRECISION,
  UNIQUE (node, boot_id, seq)
);
CREATE TABLE accelerators (
  node BIGINT NOT NULL REFERENCES nodes(id),
  pci_address TEXT COLLATE "C" NOT NULL,
  vendor_id BIGINT NOT NULL,
  device_id BIGINT NOT NULL,
  vendor TEXT COLLATE "C" NOT NULL,
  model TEXT COLLATE "C" NOT NULL,
  model_known BIGINT NOT NULL,
  uuid TEXT COLLATE "C" NOT NULL,
  serial TEXT COLLATE "C" NOT NULL,
  accelerator BYTEA NOT NULL,
  first_seen_us BIGINT NOT NULL,
  last_seen_us BIGINT NOT NULL,
  PRIMARY KEY (node, pci_address)
) WITH (fillfactor = 70);
CREATE INDEX accelerators_serial ON accelerators(serial) WHERE serial != '';
CREATE INDEX accelerators_uuid ON accelerators(uuid) WHERE uuid != '';
CREATE TABLE workloads (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  node BIGINT NOT NULL REFERENCES nodes(id),
  workload_id TEXT COLLATE "C" NOT NULL,
  kind BIGINT NOT NULL,
  account TEXT COLLATE "C" NOT NULL,
  attribution_source BIGINT NOT NULL,
  workload_class BIGINT NOT NULL,
  class_confidence DOUBLE PRECISION NOT NULL,
  launcher TEXT COLLATE "C" NOT NULL,
  accelerator_count BIGINT NOT NULL,
  accelerator_model TEXT COLLATE "C" NOT NULL,
  first_seen_us BIGINT NOT NULL,
  last_seen_us BIGINT NOT NULL,
  accelerator_seconds DOUBLE PRECISION NOT NULL,
  flop_low DOUBLE PRECISION NOT NULL,
  flop_high DOUBLE PRECISION NOT NULL,
  method TEXT COLLATE "C" NOT NULL,
  gap_seconds DOUBLE PRECISION NOT NULL DEFAULT 0,
  UNIQUE (node, workload_id)
) WITH (fillfactor = 70);
CREATE INDEX workloads_account ON workloads(account);
CREATE TABLE workload_details (
  node BIGINT NOT NULL REFERENCES nodes(id),
  workload_id TEXT COLLATE "C" NOT NULL,
  seen_us BIGINT NOT NULL,
  workload BYTEA NOT NULL,
  PRIMARY KEY (node, workload_id)
);
CREATE TABLE account_usage_hourly (
  account TEXT COLLATE "C" NOT NULL,
  hour_us BIGINT NOT NULL,
  accelerator_seconds DOUBLE PRECISION NOT NULL,
  training_seconds DOUBLE PRECISION NOT NULL,
  inference_seconds DOUBLE PRECISION NOT NULL,
  flop_low DOUBLE PRECISION NOT NULL,
  flop_high DOUBLE PRECISION NOT NULL,
  method TEXT COLLATE "C" NOT NULL,
  gap_seconds DOUBLE PRECISION NOT NULL DEFAULT 0,
  PRIMARY KEY (account, hour_us)
) WITH (fillfactor = 70);
CREATE TABLE evidence_gaps (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  node BIGINT NOT NULL REFERENCES nodes(id),
  boot_id TEXT COLLATE "C" NOT NULL,
  seq BIGINT NOT NULL,
  start_us BIGINT NOT NULL,
  end_us BIGINT NOT NULL,
  claimed_interval_seconds BIGINT NOT NULL,
  gap_seconds DOUBLE PRECISION NOT NULL,
  accelerator_seconds DOUBLE PRECISION NOT NULL,
  flop_high DOUBLE PRECISION NOT NULL
);
CREATE INDEX evidence_gaps_node ON evidence_gaps(node, end_us);
CREATE TABLE node_hardware (
  node BIGINT PRIMARY KEY REFERENCES nodes(id),
  system_uuid TEXT COLLATE "C" NOT NULL,
  board_serial TEXT COLLATE "C" NOT NULL,
  hardware BYTEA NOT NULL,
  since_us BIGINT NOT NULL,
  since_boot_id TEXT COLLATE "C" NOT NULL
);
CREATE TABLE node_hardware_changes (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  node BIGINT NOT NULL REFERENCES nodes(id),
  field TEXT COLLATE "C" NOT NULL,
  old_value TEXT COLLATE "C" NOT NULL,
  new_value TEXT COLLATE "C" NOT NULL,
  changed_at_us BIGINT NOT NULL,
  boot_id TEXT COLLATE "C" NOT NULL,
  previous_seen_us BIGINT NOT NULL
);
CREATE INDEX node_hardware_changes_by_node ON node_hardware_changes(node, changed_at_us);
CREATE TABLE location_responders (
  node BIGINT PRIMARY KEY REFERENCES nodes(id),
  address TEXT COLLATE "C" NOT NULL,
  updated_us BIGINT NOT NULL
);
CREATE FUNCTION prov_merge_methods(a TEXT, b TEXT) RETURNS TEXT
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT CASE
    WHEN a = '' OR a = b THEN b
    WHEN b = '' THEN a
    ELSE (SELECT string_agg(DISTINCT p COLLATE "C", ' + ' ORDER BY p COLLATE "C")
          FROM unnest(string_to_array(a, ' + ') || string_to_array(b, ' + ')) AS p)
  END
$$;
)sql",
    // Version 6: the access domain (SQLite versions 1, 10, 11 and 13, same columns, order and
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
    // Version 7: every other domain's tables, same columns, order and meaning as SQLite's, so
    // that each domain's PostgreSQL repository has its tables and the exporter can read them all:
    // identity (SQLite version 2: kyc_imports, account_identities, accounts, screening_lists,
    // screening_hits, policies), analysis facts (version 2: analysis_nodes, analysis_workloads,
    // links, bundles, bundle_accounts, flags, flag_accounts), quarantined records (version 6),
    // the declared inventory (version 9) and location verification (version 14). Version numbers
    // an import assigns (kyc_imports, inventory_imports) are plain keys: the repository assigns
    // the next one under a lock, so versions stay gap-free and in commit order across replicas;
    // row ids SQLite's rowid gives are identities.
    R"sql(
CREATE TABLE kyc_imports (
  version BIGINT PRIMARY KEY,
  imported_at_us BIGINT NOT NULL,
  source TEXT COLLATE "C" NOT NULL,
  actor TEXT COLLATE "C" NOT NULL DEFAULT '',
  content_digest TEXT COLLATE "C" NOT NULL,
  accepted BIGINT NOT NULL,
  errors BIGINT NOT NULL
);
CREATE TABLE account_identities (
  account_id TEXT COLLATE "C" NOT NULL,
  version BIGINT NOT NULL REFERENCES kyc_imports(version),
  identity BYTEA NOT NULL,
  PRIMARY KEY (account_id, version)
);
CREATE TABLE accounts (
  account_id TEXT COLLATE "C" PRIMARY KEY,
  version BIGINT NOT NULL,
  legal_entity TEXT COLLATE "C" NOT NULL,
  country TEXT COLLATE "C" NOT NULL,
  parent_account TEXT COLLATE "C" NOT NULL,
  identity BYTEA NOT NULL
);
CREATE TABLE screening_lists (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  list_version TEXT COLLATE "C" NOT NULL,
  imported_at_us BIGINT NOT NULL,
  source TEXT COLLATE "C" NOT NULL,
  actor TEXT COLLATE "C" NOT NULL DEFAULT '',
  columns BIGINT NOT NULL,
  entries BIGINT NOT NULL,
  content BYTEA NOT NULL
);
CREATE TABLE screening_hits (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  account_id TEXT COLLATE "C" NOT NULL,
  list_version TEXT COLLATE "C" NOT NULL,
  kyc_version BIGINT NOT NULL,
  score DOUBLE PRECISION NOT NULL,
  found_at_us BIGINT NOT NULL,
  hit BYTEA NOT NULL
);
CREATE INDEX screening_hits_account ON screening_hits(account_id);
CREATE TABLE policies (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  policy_version TEXT COLLATE "C" NOT NULL,
  source TEXT COLLATE "C" NOT NULL,
  loaded_at_us BIGINT NOT NULL,
  yaml TEXT COLLATE "C" NOT NULL
);
CREATE TABLE analysis_nodes (
  node_id TEXT COLLATE "C" PRIMARY KEY,
  facts BYTEA NOT NULL
);
CREATE TABLE analysis_workloads (
  workload_key TEXT COLLATE "C" PRIMARY KEY,
  facts BYTEA NOT NULL
);
CREATE TABLE links (
  link_key TEXT COLLATE "C" PRIMARY KEY,
  kind TEXT COLLATE "C" NOT NULL,
  account_a TEXT COLLATE "C" NOT NULL,
  account_b TEXT COLLATE "C" NOT NULL,
  link BYTEA NOT NULL
);
CREATE INDEX links_account_a ON links(account_a);
CREATE INDEX links_account_b ON links(account_b);
CREATE TABLE bundles (
  bundle_id TEXT COLLATE "C" PRIMARY KEY,
  merged_into TEXT COLLATE "C" NOT NULL DEFAULT '',
  updated_us BIGINT NOT NULL,
  bundle BYTEA NOT NULL
);
CREATE TABLE bundle_accounts (
  account_id TEXT COLLATE "C" PRIMARY KEY,
  bundle_id TEXT COLLATE "C" NOT NULL
);
CREATE INDEX bundle_accounts_bundle ON bundle_accounts(bundle_id);
CREATE TABLE flags (
  flag_id TEXT COLLATE "C" PRIMARY KEY,
  rule TEXT COLLATE "C" NOT NULL,
  subject TEXT COLLATE "C" NOT NULL,
  severity BIGINT NOT NULL,
  status BIGINT NOT NULL,
  updated_us BIGINT NOT NULL,
  flag BYTEA NOT NULL,
  UNIQUE (rule, subject)
);
CREATE TABLE flag_accounts (
  account_id TEXT COLLATE "C" NOT NULL,
  flag_id TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (account_id, flag_id)
);
CREATE TABLE quarantined_records (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  table_name TEXT COLLATE "C" NOT NULL,
  row_key TEXT COLLATE "C" NOT NULL,
  reason TEXT COLLATE "C" NOT NULL,
  quarantined_at_us BIGINT NOT NULL,
  record BYTEA NOT NULL
);
CREATE TABLE inventory_imports (
  version BIGINT PRIMARY KEY,
  imported_at_us BIGINT NOT NULL,
  source TEXT COLLATE "C" NOT NULL,
  actor TEXT COLLATE "C" NOT NULL,
  content_digest TEXT COLLATE "C" NOT NULL,
  accepted BIGINT NOT NULL,
  errors BIGINT NOT NULL
);
CREATE TABLE inventory_history (
  serial TEXT COLLATE "C" NOT NULL,
  version BIGINT NOT NULL REFERENCES inventory_imports(version),
  declared BYTEA NOT NULL,
  PRIMARY KEY (serial, version)
);
CREATE TABLE inventory (
  serial TEXT COLLATE "C" PRIMARY KEY,
  version BIGINT NOT NULL,
  uuid TEXT COLLATE "C" NOT NULL,
  node_id TEXT COLLATE "C" NOT NULL,
  datacenter TEXT COLLATE "C" NOT NULL,
  rack TEXT COLLATE "C" NOT NULL,
  status BIGINT NOT NULL,
  declared BYTEA NOT NULL
);
CREATE INDEX inventory_node ON inventory(node_id);
CREATE INDEX inventory_place ON inventory(datacenter, rack);
CREATE INDEX inventory_uuid ON inventory(uuid) WHERE uuid != '';
CREATE INDEX inventory_page ON inventory(datacenter, rack, node_id, serial);
CREATE TABLE location_node_keys (
  node_id TEXT COLLATE "C" NOT NULL,
  spki BYTEA NOT NULL,
  first_seen_us BIGINT NOT NULL,
  last_seen_us BIGINT NOT NULL,
  source TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (node_id, spki)
);
CREATE TABLE location_measurements (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  received_us BIGINT NOT NULL,
  landmark_id TEXT COLLATE "C" NOT NULL,
  target_kind TEXT COLLATE "C" NOT NULL,
  target_id TEXT COLLATE "C" NOT NULL,
  measured_us BIGINT NOT NULL,
  landmark_seq BIGINT NOT NULL,
  rtt_min_ms DOUBLE PRECISION NOT NULL,
  answers BIGINT NOT NULL,
  measurement BYTEA NOT NULL,
  signature BYTEA NOT NULL
);
CREATE INDEX location_measurements_by_target
  ON location_measurements(target_kind, target_id, landmark_id, measured_us);
CREATE INDEX location_measurements_by_time ON location_measurements(measured_us);
CREATE TABLE location_landmarks (
  landmark_id TEXT COLLATE "C" PRIMARY KEY,
  last_seq BIGINT NOT NULL,
  last_measured_us BIGINT NOT NULL,
  last_record_us BIGINT NOT NULL,
  accepted BIGINT NOT NULL,
  refused BIGINT NOT NULL
);
CREATE TABLE location_verdicts (
  node_id TEXT COLLATE "C" PRIMARY KEY,
  verdict TEXT COLLATE "C" NOT NULL,
  evaluated_us BIGINT NOT NULL,
  location BYTEA NOT NULL,
  disk_ids TEXT COLLATE "C" NOT NULL,
  calibration TEXT COLLATE "C" NOT NULL,
  params TEXT COLLATE "C" NOT NULL
);
CREATE INDEX location_verdicts_by_verdict ON location_verdicts(verdict, node_id);
)sql",
    // Version 8: the ingest batch log (pg_ingest_batches.h): one row per committed ingest
    // transaction, written last in it, read by the elected leader's analysis engine; and the
    // leader's position in it, saved with the analysis facts. PostgreSQL only: on SQLite one
    // provd hands each batch to its engine in process.
    R"sql(
CREATE TABLE ingest_batches (
  batch_id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
  received_us BIGINT NOT NULL,
  reports BIGINT NOT NULL,
  record BYTEA NOT NULL
);
CREATE INDEX ingest_batches_xid ON ingest_batches(xid);
CREATE TABLE analysis_position (
  id BIGINT PRIMARY KEY CHECK (id = 1),
  horizon xid8 NOT NULL,
  seen_ids BIGINT[] NOT NULL,
  seen_xids xid8[] NOT NULL,
  updated_us BIGINT NOT NULL
);
)sql",
    // Version 9: the replicas' heartbeats (pg_replicas.h; provctl status). PostgreSQL only: a
    // SQLite store has one provd.
    R"sql(
CREATE TABLE replicas (
  name TEXT COLLATE "C" PRIMARY KEY,
  address TEXT COLLATE "C" NOT NULL,
  version TEXT COLLATE "C" NOT NULL,
  started_us BIGINT NOT NULL,
  seen_us BIGINT NOT NULL
);
)sql",
    // Version 10: reports and account_usage_hourly range-partitioned by UTC day
    // (server/store/README.md, "Day partitions"; pg_partitions.h): reports on collected_at_us,
    // the report's own timestamp, identical on every resend (the validator keeps it within 30
    // days before and 10 minutes after the receive time), account_usage_hourly on hour_us. A
    // partitioned table's keys must hold its partition key, so reports' primary key is (id,
    // collected_at_us) and its unique key (node, boot_id, seq, collected_at_us); exactly-once
    // stays node_streams' high-water mark (unpartitioned, under the node locks, pg_ingest.h).
    // PostgreSQL 15 takes no storage parameters on a partitioned table: fillfactor 70 is set on
    // account_usage_hourly's partitions (prov_day_partition copies the DEFAULT one's). The v9
    // rows move over with their ids, into a partition per day they cover; the identity goes on
    // from the old one's position.
    R"sql(
CREATE FUNCTION prov_day_partition(parent TEXT, key TEXT, day BIGINT) RETURNS BOOLEAN
LANGUAGE plpgsql SET search_path = provd AS $$
DECLARE
  part TEXT := parent || '_p'
                || to_char(to_timestamp(day * 86400) AT TIME ZONE 'UTC', 'YYYYMMDD');
  lo BIGINT := day * 86400000000;
  hi BIGINT := lo + 86400000000;
  opts TEXT;
  moved BIGINT;
BEGIN
  IF to_regclass(part) IS NOT NULL THEN RETURN false; END IF;
  -- kPgLockKey, kPgPartitionLock: replicas creating the same day take turns. Checked again
  -- with a query of pg_class (a fresh snapshot: sees the partition another replica committed
  -- while this one waited), not to_regclass, whose catalog cache an advisory lock does not
  -- refresh.
  PERFORM pg_advisory_xact_lock(1347571542, 8);
  IF EXISTS (SELECT 1 FROM pg_class WHERE relname = part AND relnamespace = 'provd'::regnamespace)
  THEN
    RETURN false;
  END IF;
  -- CREATE ... PARTITION OF takes this lock anyway; taken before the move, so no row of the day
  -- can reach the DEFAULT partition between the move and the creation (which would then fail).
  EXECUTE format('LOCK TABLE %I IN ACCESS EXCLUSIVE MODE', parent);
  EXECUTE format('CREATE TEMP TABLE prov_moved ON COMMIT DROP AS '
                 'SELECT * FROM %I WHERE %I >= %s AND %I < %s',
                 parent || '_default', key, lo, key, hi);
  GET DIAGNOSTICS moved = ROW_COUNT;
  IF moved > 0 THEN
    EXECUTE format('DELETE FROM %I WHERE %I >= %s AND %I < %s',
                   parent || '_default', key, lo, key, hi);
  END IF;
  SELECT array_to_string(reloptions, ', ') INTO opts FROM pg_class
    WHERE oid = to_regclass(parent || '_default');
  EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%s) TO (%s)%s',
                 part, parent, lo, hi,
                 CASE WHEN opts IS NULL THEN '' ELSE ' WITH (' || opts || ')' END);
  IF moved > 0 THEN
    EXECUTE format('INSERT INTO %I OVERRIDING SYSTEM VALUE SELECT * FROM prov_moved', parent);
  END IF;
  DROP TABLE prov_moved;
  RETURN true;
END
$$;
ALTER TABLE reports RENAME TO reports_v9;
ALTER INDEX reports_pkey RENAME TO reports_v9_pkey;
ALTER INDEX reports_node_boot_id_seq_key RENAME TO reports_v9_node_boot_id_seq_key;
ALTER SEQUENCE reports_id_seq RENAME TO reports_v9_id_seq;
CREATE TABLE reports (
  id BIGINT GENERATED ALWAYS AS IDENTITY,
  node BIGINT NOT NULL REFERENCES nodes(id),
  boot_id TEXT COLLATE "C" NOT NULL,
  seq BIGINT NOT NULL,
  collected_at_us BIGINT NOT NULL,
  received_at_us BIGINT NOT NULL,
  interval_seconds BIGINT NOT NULL,
  size_bytes BIGINT NOT NULL,
  accelerator_count BIGINT NOT NULL,
  sample_count BIGINT NOT NULL,
  workload_count BIGINT NOT NULL,
  credited_seconds DOUBLE PRECISION,
  PRIMARY KEY (id, collected_at_us),
  UNIQUE (node, boot_id, seq, collected_at_us)
) PARTITION BY RANGE (collected_at_us);
CREATE TABLE reports_default PARTITION OF reports DEFAULT;
SELECT prov_day_partition('reports', 'collected_at_us', d)
  FROM (SELECT DISTINCT floor(collected_at_us::numeric / 86400000000)::bigint AS d
        FROM reports_v9) AS days;
INSERT INTO reports OVERRIDING SYSTEM VALUE SELECT * FROM reports_v9;
SELECT setval(pg_get_serial_sequence('reports', 'id'), last_value, is_called)
  FROM reports_v9_id_seq;
DROP TABLE reports_v9;
ALTER TABLE account_usage_hourly RENAME TO account_usage_hourly_v9;
ALTER INDEX account_usage_hourly_pkey RENAME TO account_usage_hourly_v9_pkey;
CREATE TABLE account_usage_hourly (
  account TEXT COLLATE "C" NOT NULL,
  hour_us BIGINT NOT NULL,
  accelerator_seconds DOUBLE PRECISION NOT NULL,
  training_seconds DOUBLE PRECISION NOT NULL,
  inference_seconds DOUBLE PRECISION NOT NULL,
  flop_low DOUBLE PRECISION NOT NULL,
  flop_high DOUBLE PRECISION NOT NULL,
  method TEXT COLLATE "C" NOT NULL,
  gap_seconds DOUBLE PRECISION NOT NULL DEFAULT 0,
  PRIMARY KEY (account, hour_us)
) PARTITION BY RANGE (hour_us);
CREATE TABLE account_usage_hourly_default PARTITION OF account_usage_hourly DEFAULT
  WITH (fillfactor = 70);
SELECT prov_day_partition('account_usage_hourly', 'hour_us', d)
  FROM (SELECT DISTINCT floor(hour_us::numeric / 86400000000)::bigint AS d
        FROM account_usage_hourly_v9) AS days;
INSERT INTO account_usage_hourly SELECT * FROM account_usage_hourly_v9;
DROP TABLE account_usage_hourly_v9;
)sql",
    // Version 11: the leader's lease (pg_leader_election.h): the elected replica renews it at
    // each of its checks, on the database's clock; a standby that finds it older than the
    // takeover ends the leader's session, whose advisory lock a hung process (its kernel still
    // answering keepalives) would otherwise keep for good.
    R"sql(
CREATE TABLE leader_lease (
  id BIGINT PRIMARY KEY CHECK (id = 1),
  term BIGINT NOT NULL,
  holder TEXT COLLATE "C" NOT NULL,
  renewed_us BIGINT NOT NULL
);
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
  const int target =
      hooks.up_to > 0 ? std::min(hooks.up_to, LatestPgSchemaVersion()) : LatestPgSchemaVersion();
  for (int next = version + 1; next <= target; ++next) {
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
