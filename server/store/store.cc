#include "server/store/store.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/store/connection.h"
#include "server/store/schema.h"

namespace prov::server {
namespace {

// SQL function prov_merge_methods(a, b): MergeMethods() for the ledger's method column.
void MergeMethodsSql(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
  // Usually both sides are the same method (or the row's is empty): MergeMethods returns one side
  // as it is, so hand that value back without copying it through std::strings.
  if (sqlite3_value_type(argv[0]) == SQLITE_TEXT && sqlite3_value_type(argv[1]) == SQLITE_TEXT) {
    const unsigned char* a = sqlite3_value_text(argv[0]);
    const int a_size = sqlite3_value_bytes(argv[0]);
    const unsigned char* b = sqlite3_value_text(argv[1]);
    const int b_size = sqlite3_value_bytes(argv[1]);
    if (a != nullptr && b != nullptr) {
      if (a_size == 0 || (a_size == b_size && std::memcmp(a, b, a_size) == 0)) {
        sqlite3_result_value(ctx, argv[1]);
        return;
      }
      if (b_size == 0) {
        sqlite3_result_value(ctx, argv[0]);
        return;
      }
    }
  }
  auto text = [](sqlite3_value* v) {
    const unsigned char* t = sqlite3_value_text(v);
    return t == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(t));
  };
  std::string merged = MergeMethods(text(argv[0]), text(argv[1]));
  sqlite3_result_text(ctx, merged.c_str(), static_cast<int>(merged.size()), SQLITE_TRANSIENT);
}

constexpr char kUpsertAccelerator[] = R"sql(
INSERT INTO accelerators (node, pci_address, vendor_id, device_id, vendor, model, model_known,
                          uuid, serial, accelerator, first_seen_us, last_seen_us)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)
ON CONFLICT (node, pci_address) DO UPDATE SET
  vendor_id = excluded.vendor_id, device_id = excluded.device_id, vendor = excluded.vendor,
  model = excluded.model, model_known = excluded.model_known, uuid = excluded.uuid,
  serial = excluded.serial, accelerator = excluded.accelerator,
  first_seen_us = MIN(first_seen_us, excluded.first_seen_us), last_seen_us = excluded.last_seen_us
WHERE excluded.last_seen_us >= accelerators.last_seen_us)sql";

// Adds the batch's ledger; the descriptive columns follow the newest report only.
constexpr char kUpsertWorkload[] = R"sql(
INSERT INTO workloads (node, workload_id, kind, account, attribution_source, workload_class,
                       class_confidence, launcher, accelerator_count, accelerator_model,
                       first_seen_us, last_seen_us, accelerator_seconds, flop_low, flop_high, method,
                       gap_seconds)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)
ON CONFLICT (node, workload_id) DO UPDATE SET
  accelerator_seconds = accelerator_seconds + excluded.accelerator_seconds,
  gap_seconds = gap_seconds + excluded.gap_seconds,
  flop_low = flop_low + excluded.flop_low,
  flop_high = flop_high + excluded.flop_high,
  method = prov_merge_methods(method, excluded.method),
  first_seen_us = MIN(first_seen_us, excluded.first_seen_us),
  kind = IIF(excluded.last_seen_us >= last_seen_us, excluded.kind, kind),
  account = IIF(excluded.last_seen_us >= last_seen_us, excluded.account, account),
  attribution_source = IIF(excluded.last_seen_us >= last_seen_us, excluded.attribution_source,
                           attribution_source),
  workload_class = IIF(excluded.last_seen_us >= last_seen_us, excluded.workload_class,
                       workload_class),
  class_confidence = IIF(excluded.last_seen_us >= last_seen_us, excluded.class_confidence,
                         class_confidence),
  launcher = IIF(excluded.last_seen_us >= last_seen_us, excluded.launcher, launcher),
  accelerator_count = IIF(excluded.last_seen_us >= last_seen_us, excluded.accelerator_count,
                          accelerator_count),
  accelerator_model = IIF(excluded.last_seen_us >= last_seen_us, excluded.accelerator_model,
                          accelerator_model),
  last_seen_us = MAX(last_seen_us, excluded.last_seen_us)
RETURNING id, last_seen_us)sql";

// kUpsertWorkload for a row whose descriptive columns already hold the batch's values (the
// workload_rows_ cache says so): only the ledger columns change, so the workloads_account index
// is not rewritten, and the row is found by its cached rowid rather than through the
// (node, workload_id) index.
constexpr char kAddToWorkload[] = R"sql(
UPDATE workloads SET accelerator_seconds = accelerator_seconds + ?2, flop_low = flop_low + ?3,
  flop_high = flop_high + ?4, method = prov_merge_methods(method, ?5),
  first_seen_us = MIN(first_seen_us, ?6), last_seen_us = MAX(last_seen_us, ?7),
  gap_seconds = gap_seconds + ?10
WHERE id = ?1 AND node = ?8 AND workload_id = ?9)sql";

constexpr char kUpsertWorkloadDetails[] = R"sql(
INSERT INTO workload_details (node, workload_id, seen_us, workload) VALUES (?1, ?2, ?3, ?4)
ON CONFLICT (node, workload_id) DO UPDATE SET seen_us = excluded.seen_us,
  workload = excluded.workload
WHERE excluded.seen_us >= workload_details.seen_us)sql";

constexpr char kUpsertAccountHour[] = R"sql(
INSERT INTO account_usage_hourly (account, hour_us, accelerator_seconds, training_seconds,
                                  inference_seconds, flop_low, flop_high, method, gap_seconds)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
ON CONFLICT (account, hour_us) DO UPDATE SET
  accelerator_seconds = accelerator_seconds + excluded.accelerator_seconds,
  gap_seconds = gap_seconds + excluded.gap_seconds,
  training_seconds = training_seconds + excluded.training_seconds,
  inference_seconds = inference_seconds + excluded.inference_seconds,
  flop_low = flop_low + excluded.flop_low,
  flop_high = flop_high + excluded.flop_high,
  method = prov_merge_methods(method, excluded.method))sql";

// One statement per node and batch: the counts always, the descriptive columns only when this
// batch's newest report is at least as new as the row's (SET expressions see the old row).
constexpr char kUpdateNode[] = R"sql(
UPDATE nodes SET reports_stored = reports_stored + ?11, last_received_us = ?12,
  rejecting_since_us = 0,
  first_seen_us = MIN(first_seen_us, ?13),
  hostname = IIF(last_seen_us <= ?7, ?2, hostname),
  datacenter = IIF(last_seen_us <= ?7, ?3, datacenter),
  region = IIF(last_seen_us <= ?7, ?4, region),
  agent_version = IIF(last_seen_us <= ?7, ?5, agent_version),
  boot_id = IIF(last_seen_us <= ?7, ?6, boot_id),
  last_seq = IIF(last_seen_us <= ?7, ?8, last_seq),
  accelerator_count = IIF(last_seen_us <= ?7, ?9, accelerator_count),
  workload_count = IIF(last_seen_us <= ?7, ?10, workload_count),
  agent_health_us = IIF(last_seen_us <= ?7 AND ?14, ?7, agent_health_us),
  agent_spool_depth = IIF(last_seen_us <= ?7 AND ?14, ?15, agent_spool_depth),
  agent_dropped_reports = IIF(last_seen_us <= ?7 AND ?14, ?16, agent_dropped_reports),
  agent_unreadable_reports = IIF(last_seen_us <= ?7 AND ?14, ?17, agent_unreadable_reports),
  agent_rejected_reports = IIF(last_seen_us <= ?7 AND ?14, ?18, agent_rejected_reports),
  agent_collector_errors = IIF(last_seen_us <= ?7 AND ?14, ?19, agent_collector_errors),
  agent_nvml_available = IIF(last_seen_us <= ?7 AND ?14, ?20, agent_nvml_available),
  agent_strings_repaired = agent_strings_repaired + ?21,
  agent_strings_truncated = agent_strings_truncated + ?22,
  last_seen_us = MAX(last_seen_us, ?7)
WHERE id = ?1)sql";

constexpr char kInsertReport[] =
    "INSERT INTO reports (node, boot_id, seq, collected_at_us, received_at_us, interval_seconds, "
    "size_bytes, accelerator_count, sample_count, workload_count, credited_seconds) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

constexpr char kInsertGap[] =
    "INSERT INTO evidence_gaps (node, boot_id, seq, start_us, end_us, claimed_interval_seconds, "
    "gap_seconds, accelerator_seconds, flop_high) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";

}  // namespace

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const std::string& path,
                                                   const StoreOptions& options) {
  PROV_ASSIGN_OR_RETURN(auto db, SqliteDb::Open(path, SqliteDb::kReadWrite));
  PROV_RETURN_IF_ERROR(db->Exec(
      absl::StrCat("PRAGMA busy_timeout=", absl::ToInt64Milliseconds(options.busy_timeout))));
  // Before anything writes (the journal mode is written to the file's header): a foreign or
  // non-SQLite file is refused, never converted.
  if (absl::Status ours = CheckProvdDatabase(*db); !ours.ok()) {
    return absl::Status(ours.code(), absl::StrCat(path, ": ", ours.message()));
  }
  // WAL, synchronous=NORMAL, and a checkpoint every kWalAutocheckpointPages (8192 = 32 MiB)
  // instead of SQLite's 1000: a busy writer rewrites the same workloads/nodes pages in every
  // batch, and a longer WAL copies each back once per checkpoint instead of once per batch or
  // two. Crash safety is the same (WAL, NORMAL). Every other writer of the file uses the same.
  PROV_RETURN_IF_ERROR(ConfigureWriter(*db));
  // The writer's page cache: SQLite's default (2 MiB) made every batch re-read index pages of the
  // reports/workloads tables from the OS (a pread each); 32 MiB keeps their hot pages here.
  PROV_RETURN_IF_ERROR(db->Exec("PRAGMA cache_size=-32768"));
  if (sqlite3_create_function(db->raw(), "prov_merge_methods", 2,
                              SQLITE_UTF8 | SQLITE_DETERMINISTIC, nullptr, &MergeMethodsSql,
                              nullptr, nullptr) != SQLITE_OK) {
    return absl::InternalError("sqlite: cannot register prov_merge_methods");
  }
  absl::Status migrated = MigrateSchema(*db);
  if (!migrated.ok()) {
    return absl::Status(migrated.code(), absl::StrCat(path, ": ", migrated.message()));
  }
  return std::unique_ptr<Store>(
      new Store(path, std::move(db), IngestPlannerOptions{options.credit, options.max_seq_jump}));
}

// Merges one round of rejection notes into the nodes' rows. rejecting_since_us starts a spell
// only when the newest rejection is later than the node's last stored batch (a rejection noted
// before a later good report does not count); storing a report ends it (kUpdateNode).
constexpr char kRecordRejections[] = R"sql(
UPDATE nodes SET reports_rejected = reports_rejected + ?2,
  last_rejected_us = MAX(last_rejected_us, ?3),
  last_rejection = IIF(last_rejected_us <= ?3, ?4, last_rejection),
  rejecting_since_us = IIF(rejecting_since_us = 0 AND ?3 > last_received_us,
                           MAX(?5, last_received_us + 1), rejecting_since_us)
WHERE node_id = ?1
RETURNING reports_rejected, last_rejected_us, last_rejection, rejecting_since_us)sql";

absl::StatusOr<std::vector<NodeRejectionState>> Store::RecordRejections(
    absl::Span<const NodeRejections> nodes) {
  std::vector<NodeRejectionState> states;
  if (nodes.empty()) return states;
  PROV_ASSIGN_OR_RETURN(Statement * update, db_->Cached(kRecordRejections));
  PROV_RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
  absl::Status status;
  for (const NodeRejections& n : nodes) {
    update->BindText(1, n.node_id);
    update->BindInt64(2, n.count);
    update->BindInt64(3, absl::ToUnixMicros(n.last_at));
    update->BindText(4, n.last_reason);
    update->BindInt64(5, absl::ToUnixMicros(n.first_at));
    absl::StatusOr<bool> row = update->Step();
    if (row.ok() && *row) {  // no row: a node id with no record
      NodeRejectionState& st = states.emplace_back();
      st.node_id = n.node_id;
      st.count = n.count;
      st.reports_rejected = update->ColumnInt64(0);
      st.last_rejected = absl::FromUnixMicros(update->ColumnInt64(1));
      st.last_rejection = update->ColumnText(2);
      const int64_t since = update->ColumnInt64(3);
      st.rejecting_since = since > 0 ? absl::FromUnixMicros(since) : absl::InfinitePast();
    }
    update->Reset();
    if (!row.ok()) {
      status = row.status();
      break;
    }
  }
  if (status.ok()) status = db_->Exec("COMMIT");
  if (!status.ok()) {
    (void)db_->Exec("ROLLBACK");
    return status;
  }
  return states;
}

namespace {
constexpr size_t kMaxCached = 2'000'000;
}  // namespace

void Store::DropCaches() {
  node_ids_.clear();
  high_water_.clear();
  node_horizon_.clear();
  workload_rows_.clear();
  write_caches_.clear();
}

absl::StatusOr<int64_t> Store::Node(absl::string_view node_id, int64_t seen_us) {
  auto it = node_ids_.find(node_id);
  if (it != node_ids_.end()) return it->second;
  PROV_ASSIGN_OR_RETURN(Statement * select, db_->Cached("SELECT id FROM nodes WHERE node_id = ?"));
  select->BindText(1, node_id);
  absl::StatusOr<bool> row = select->Step();
  int64_t id = row.ok() && *row ? select->ColumnInt64(0) : 0;
  select->Reset();
  PROV_RETURN_IF_ERROR(row.status());
  if (!*row) {
    PROV_ASSIGN_OR_RETURN(
        Statement * insert,
        db_->Cached("INSERT INTO nodes (node_id, first_seen_us, last_seen_us, last_received_us) "
                    "VALUES (?, ?, 0, 0)"));
    insert->BindText(1, node_id);
    insert->BindInt64(2, seen_us);
    PROV_RETURN_IF_ERROR(insert->Run());
    id = db_->LastInsertRowId();
  }
  node_ids_.emplace(std::string(node_id), id);
  return id;
}

// The cached (node, boot) high-water mark and credit state, read from node_streams on a miss. The
// pointer is valid until the next insertion into high_water_ (the next Stream call).
absl::StatusOr<StreamState*> Store::Stream(int64_t node, absl::string_view boot_id) {
  auto it = high_water_.find(RowKeyView(node, boot_id));
  if (it != high_water_.end()) return &it->second;
  PROV_ASSIGN_OR_RETURN(
      Statement * hw,
      db_->Cached("SELECT max_seq, credited_until_us, last_collected_us, "
                  "first_credit_us FROM node_streams WHERE node = ? AND boot_id = ?"));
  hw->BindInt64(1, node);
  hw->BindText(2, boot_id);
  absl::StatusOr<bool> row = hw->Step();
  StreamState state;
  if (row.ok() && *row) {
    state.max_seq = static_cast<uint64_t>(hw->ColumnInt64(0));
    state.credit.credited_until_us = hw->ColumnInt64(1);
    state.credit.last_collected_us = hw->ColumnInt64(2);
    state.credit.first_credit_us = hw->ColumnInt64(3);
  }
  hw->Reset();
  PROV_RETURN_IF_ERROR(row.status());
  return &high_water_.emplace(RowKey(node, std::string(boot_id)), state).first->second;
}

absl::StatusOr<NodeCredit*> Store::Horizon(int64_t node) {
  auto it = node_horizon_.find(node);
  if (it != node_horizon_.end()) return &it->second;
  PROV_ASSIGN_OR_RETURN(Statement * select,
                        db_->Cached("SELECT COALESCE(MAX(credited_until_us), 0), "
                                    "COALESCE(MAX(first_credit_us), 0) "
                                    "FROM node_streams WHERE node = ?"));
  select->BindInt64(1, node);
  absl::StatusOr<bool> row = select->Step();
  NodeCredit credit;
  if (row.ok() && *row) credit = {select->ColumnInt64(0), select->ColumnInt64(1)};
  select->Reset();
  PROV_RETURN_IF_ERROR(row.status());
  return &node_horizon_.emplace(node, credit).first->second;
}

absl::StatusOr<int64_t> Store::NodeLastSeen(int64_t node) {
  PROV_ASSIGN_OR_RETURN(Statement * last,
                        db_->Cached("SELECT last_seen_us FROM nodes WHERE id = ?"));
  last->BindInt64(1, node);
  absl::StatusOr<bool> row = last->Step();
  const int64_t last_seen_us = row.ok() && *row ? last->ColumnInt64(0) : 0;
  last->Reset();
  PROV_RETURN_IF_ERROR(row.status());
  return last_seen_us;
}

absl::StatusOr<bool> Store::WorkloadSeenSince(int64_t node, absl::string_view workload_id,
                                              int64_t since_us) {
  PROV_ASSIGN_OR_RETURN(
      Statement * select,
      db_->Cached("SELECT last_seen_us FROM workloads WHERE node = ? AND workload_id = ?"));
  select->BindInt64(1, node);
  select->BindText(2, workload_id);
  absl::StatusOr<bool> row = select->Step();
  const bool seen = row.ok() && *row && select->ColumnInt64(0) >= since_us;
  select->Reset();
  PROV_RETURN_IF_ERROR(row.status());
  return seen;
}

absl::Status Store::WriteWorkloadRow(const PlannedWorkload& w) {
  const RowKeyView key(w.node, w.workload_id);
  auto cached = workload_rows_.find(key);
  if (cached != workload_rows_.end() && cached->second.hash == w.described) {
    PROV_ASSIGN_OR_RETURN(Statement * add, db_->Cached(kAddToWorkload));
    add->BindInt64(1, cached->second.rowid);
    add->BindDouble(2, w.seconds);
    add->BindDouble(3, w.flop_low);
    add->BindDouble(4, w.flop_high);
    add->BindText(5, w.method);
    add->BindInt64(6, w.first_seen_us);
    add->BindInt64(7, w.last_seen_us);
    add->BindInt64(8, key.first);  // the rowid is looked up, these only confirm it
    add->BindText(9, key.second);
    add->BindDouble(10, w.gap_seconds);
    PROV_RETURN_IF_ERROR(add->Run());
    if (db_->Changes() == 1) {
      cached->second.seen_us = std::max(cached->second.seen_us, w.last_seen_us);
      return absl::OkStatus();
    }
    workload_rows_.erase(cached);  // the row is not there after all: write it whole
    cached = workload_rows_.end();
  }
  PROV_ASSIGN_OR_RETURN(Statement * workload, db_->Cached(kUpsertWorkload));
  workload->BindInt64(1, key.first);
  workload->BindText(2, key.second);
  workload->BindInt64(3, w.kind);
  workload->BindText(4, w.account);
  workload->BindInt64(5, w.attribution_source);
  workload->BindInt64(6, w.workload_class);
  workload->BindDouble(7, w.class_confidence);
  workload->BindText(8, w.launcher);
  workload->BindInt64(9, w.accelerator_count);
  workload->BindText(10, w.accelerator_model);
  workload->BindInt64(11, w.first_seen_us);
  workload->BindInt64(12, w.last_seen_us);
  workload->BindDouble(13, w.seconds);
  workload->BindDouble(14, w.flop_low);
  workload->BindDouble(15, w.flop_high);
  workload->BindText(16, w.method);
  workload->BindDouble(17, w.gap_seconds);
  absl::StatusOr<bool> row = workload->Step();
  const int64_t rowid = row.ok() && *row ? workload->ColumnInt64(0) : 0;
  const int64_t stored_last_seen_us = row.ok() && *row ? workload->ColumnInt64(1) : -1;
  workload->Reset();
  PROV_RETURN_IF_ERROR(row.status());
  // The descriptive columns are this batch's exactly when the row's last_seen_us is this
  // batch's (the upsert takes them when excluded.last_seen_us >= the stored one).
  if (stored_last_seen_us == w.last_seen_us) {
    if (cached != workload_rows_.end()) {
      cached->second = {w.described, w.last_seen_us, rowid};
    } else {
      workload_rows_.emplace(RowKey(key.first, key.second),
                             WorkloadRow{w.described, w.last_seen_us, rowid});
    }
  } else if (cached != workload_rows_.end()) {
    workload_rows_.erase(cached);  // a newer report's values are stored: unknown here
  }
  return absl::OkStatus();
}

absl::Status Store::WritePlan(Statement& reports) {
  for (const PlannedReport& p : plan_.reports) {
    reports.BindInt64(1, p.node);
    reports.BindText(2, p.boot_id);
    reports.BindInt64(3, static_cast<int64_t>(p.seq));
    reports.BindInt64(4, p.collected_us);
    reports.BindInt64(5, plan_.received_us);
    reports.BindInt64(6, p.interval_seconds);
    reports.BindInt64(7, p.size_bytes);
    reports.BindInt64(8, p.accelerator_count);
    reports.BindInt64(9, p.sample_count);
    reports.BindInt64(10, p.workload_count);
    reports.BindDouble(11, p.credited_seconds);
    PROV_RETURN_IF_ERROR(reports.Run());
  }
  if (!plan_.evidence_gaps.empty()) {
    PROV_ASSIGN_OR_RETURN(Statement * gap, db_->Cached(kInsertGap));
    for (const PlannedEvidenceGap& p : plan_.evidence_gaps) {
      gap->BindInt64(1, p.node);
      gap->BindText(2, p.boot_id);
      gap->BindInt64(3, static_cast<int64_t>(p.seq));
      gap->BindInt64(4, p.start_us);
      gap->BindInt64(5, p.end_us);
      gap->BindInt64(6, p.claimed_interval_seconds);
      gap->BindDouble(7, p.gap_seconds);
      gap->BindDouble(8, p.accelerator_seconds);
      gap->BindDouble(9, p.flop_high);
      PROV_RETURN_IF_ERROR(gap->Run());
    }
  }
  return WriteAggregates();
}

absl::Status Store::WriteAggregates() {
  PROV_ASSIGN_OR_RETURN(
      Statement * streams,
      db_->Cached("INSERT INTO node_streams (node, boot_id, max_seq, credited_until_us, "
                  "last_collected_us, first_credit_us) VALUES (?, ?, ?, ?, ?, ?) "
                  "ON CONFLICT (node, boot_id) DO UPDATE SET "
                  "max_seq = MAX(max_seq, excluded.max_seq), "
                  "credited_until_us = MAX(credited_until_us, excluded.credited_until_us), "
                  "last_collected_us = MAX(last_collected_us, excluded.last_collected_us), "
                  "first_credit_us = IIF(first_credit_us = 0, excluded.first_credit_us, "
                  "first_credit_us)"));
  for (const PlannedStream& p : plan_.streams) {
    streams->BindInt64(1, p.node);
    streams->BindText(2, p.boot_id);
    streams->BindInt64(3, static_cast<int64_t>(p.state.max_seq));
    streams->BindInt64(4, p.state.credit.credited_until_us);
    streams->BindInt64(5, p.state.credit.last_collected_us);
    streams->BindInt64(6, p.state.credit.first_credit_us);
    PROV_RETURN_IF_ERROR(streams->Run());
  }

  // Before the nodes rows are updated: a change records the node's previous last_seen_us.
  for (const PlannedNode& n : plan_.nodes) {
    if (n.check_hardware) {
      PROV_RETURN_IF_ERROR(RecordNodeHardware(*db_, write_caches_.node_hardware, n.node, *n.latest,
                                              n.latest_seen_us));
    }
    if (n.check_location_responder) {
      PROV_RETURN_IF_ERROR(RecordLocationResponder(*db_, write_caches_.location_responders, n.node,
                                                   n.latest->node().location_responder(),
                                                   n.latest_seen_us));
    }
  }

  PROV_ASSIGN_OR_RETURN(Statement * update_node, db_->Cached(kUpdateNode));
  for (const PlannedNode& n : plan_.nodes) {
    update_node->BindInt64(1, n.node);
    update_node->BindText(2, n.hostname);
    update_node->BindText(3, n.datacenter);
    update_node->BindText(4, n.region);
    update_node->BindText(5, n.agent_version);
    update_node->BindText(6, n.boot_id);
    update_node->BindInt64(7, n.latest_seen_us);
    update_node->BindInt64(8, static_cast<int64_t>(n.seq));
    update_node->BindInt64(9, n.accelerator_count);
    update_node->BindInt64(10, n.workload_count);
    update_node->BindInt64(11, n.stored);
    update_node->BindInt64(12, plan_.received_us);
    update_node->BindInt64(13, n.first_seen_us);
    update_node->BindInt64(14, n.has_health ? 1 : 0);
    update_node->BindInt64(15, n.spool_depth);
    update_node->BindInt64(16, n.dropped_reports);
    update_node->BindInt64(17, n.unreadable_reports);
    update_node->BindInt64(18, n.rejected_reports);
    update_node->BindInt64(19, n.collector_errors);
    update_node->BindInt64(20, n.nvml_available ? 1 : 0);
    update_node->BindInt64(21, n.strings_repaired);
    update_node->BindInt64(22, n.strings_truncated);
    PROV_RETURN_IF_ERROR(update_node->Run());
  }

  if (!plan_.accelerators.empty()) {
    PROV_ASSIGN_OR_RETURN(Statement * accel, db_->Cached(kUpsertAccelerator));
    for (const PlannedAccelerator& a : plan_.accelerators) {
      accel->BindInt64(1, a.node);
      accel->BindText(2, a.pci_address);
      accel->BindInt64(3, a.vendor_id);
      accel->BindInt64(4, a.device_id);
      accel->BindText(5, a.vendor);
      accel->BindText(6, a.model);
      accel->BindInt64(7, a.model_known ? 1 : 0);
      accel->BindText(8, a.uuid);
      accel->BindText(9, a.serial);
      accel->BindBlob(10, a.accelerator);
      accel->BindInt64(11, a.seen_us);
      PROV_RETURN_IF_ERROR(accel->Run());
    }
  }

  for (const PlannedWorkload& w : plan_.workloads) {
    PROV_RETURN_IF_ERROR(WriteWorkloadRow(w));
  }
  if (!plan_.workload_details.empty()) {
    PROV_ASSIGN_OR_RETURN(Statement * details, db_->Cached(kUpsertWorkloadDetails));
    for (const PlannedWorkloadDetails& d : plan_.workload_details) {
      details->BindInt64(1, d.node);
      details->BindText(2, d.workload_id);
      details->BindInt64(3, d.seen_us);
      details->BindBlob(4, d.workload);
      PROV_RETURN_IF_ERROR(details->Run());
    }
  }

  PROV_ASSIGN_OR_RETURN(Statement * hour, db_->Cached(kUpsertAccountHour));
  for (const PlannedAccountHour& h : plan_.account_hours) {
    hour->BindText(1, h.account);
    hour->BindInt64(2, h.hour_us);
    hour->BindDouble(3, h.seconds);
    hour->BindDouble(4, h.training);
    hour->BindDouble(5, h.inference);
    hour->BindDouble(6, h.flop_low);
    hour->BindDouble(7, h.flop_high);
    hour->BindText(8, h.method);
    hour->BindDouble(9, h.gap_seconds);
    PROV_RETURN_IF_ERROR(hour->Run());
  }
  return absl::OkStatus();
}

absl::StatusOr<CommitResult> Store::Commit(std::vector<ReportToCommit>& batch,
                                           absl::Time received_at) {
  if (batch.empty()) return CommitResult{};
  if (high_water_.size() + workload_rows_.size() + write_caches_.size() > kMaxCached) {
    DropCaches();  // bounded memory; the next batches re-read or rewrite what they need
  }
  PROV_ASSIGN_OR_RETURN(Statement * insert_report, db_->Cached(kInsertReport));
  PROV_RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
  absl::StatusOr<CommitResult> result =
      planner_.Plan(batch, received_at, *this, write_caches_, plan_);
  absl::Status status = result.status();
  if (status.ok()) status = WritePlan(*insert_report);
  if (status.ok()) status = db_->Exec("COMMIT");
  if (!status.ok()) {
    (void)db_->Exec("ROLLBACK");
    DropCaches();
    return status;
  }
  return result;
}

}  // namespace prov::server
