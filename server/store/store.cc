#include "server/store/store.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/store/schema.h"

namespace prov::server {
namespace {

using provenance::v1::NodeReport;

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

constexpr int64_t kMicrosPerHour = int64_t{3600} * 1000 * 1000;

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

// The write caches' hash of serialized bytes.
size_t BytesHash(absl::string_view bytes) { return absl::HashOf(bytes); }

}  // namespace

int64_t ToUnixMicros(const google::protobuf::Timestamp& ts) {
  return ts.seconds() * 1000000 + ts.nanos() / 1000;
}

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
  PROV_RETURN_IF_ERROR(db->Exec("PRAGMA journal_mode=WAL"));
  PROV_RETURN_IF_ERROR(db->Exec("PRAGMA synchronous=NORMAL"));
  // The writer's page cache: SQLite's default (2 MiB) made every batch re-read index pages of the
  // reports/workloads tables from the OS (a pread each); 32 MiB keeps their hot pages here.
  PROV_RETURN_IF_ERROR(db->Exec("PRAGMA cache_size=-32768"));
  // Checkpoint the WAL every 8192 pages (32 MiB) instead of SQLite's 1000: a busy writer rewrites
  // the same workloads/nodes pages in every batch, and a longer WAL copies each back once per
  // checkpoint instead of once per batch or two. Crash safety is the same (WAL, NORMAL).
  PROV_RETURN_IF_ERROR(db->Exec("PRAGMA wal_autocheckpoint=8192"));
  if (sqlite3_create_function(db->raw(), "prov_merge_methods", 2,
                              SQLITE_UTF8 | SQLITE_DETERMINISTIC, nullptr, &MergeMethodsSql,
                              nullptr, nullptr) != SQLITE_OK) {
    return absl::InternalError("sqlite: cannot register prov_merge_methods");
  }
  absl::Status migrated = MigrateSchema(*db);
  if (!migrated.ok()) {
    return absl::Status(migrated.code(), absl::StrCat(path, ": ", migrated.message()));
  }
  auto store = std::unique_ptr<Store>(new Store(path, std::move(db), options.credit));
  store->max_seq_jump_ = options.max_seq_jump;
  return store;
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

// One workloads row's part of a batch.
struct Store::BatchWorkload {
  const provenance::v1::Workload* latest = nullptr;
  const WorkloadUsage* latest_usage = nullptr;
  int64_t first_seen_us = 0;
  int64_t last_seen_us = 0;
  double seconds = 0, flop_low = 0, flop_high = 0, gap_seconds = 0;
  std::string method;
};

// What one batch adds, folded per row so each row is written once per batch.
struct Store::Batch {
  struct Node {
    const NodeReport* latest = nullptr;
    int64_t latest_seen_us = 0;
    int64_t first_seen_us = 0;
    int64_t stored = 0;
    int64_t strings_repaired = 0, strings_truncated = 0;  // summed over the batch's reports
  };
  struct Accelerator {
    const provenance::v1::Accelerator* latest = nullptr;
    int64_t seen_us = 0;
  };
  using Workload = BatchWorkload;
  struct Hour {
    double seconds = 0, training = 0, inference = 0, flop_low = 0, flop_high = 0, gap_seconds = 0;
    std::string method;
  };
  // Keys are views into the batch's reports, which outlive the batch: no string copies.
  absl::flat_hash_map<int64_t, Node> nodes;
  absl::flat_hash_map<RowKeyView, StreamState> streams;
  absl::flat_hash_map<RowKeyView, Accelerator> accelerators;
  absl::flat_hash_map<RowKeyView, Workload> workloads;
  absl::flat_hash_map<std::pair<absl::string_view, int64_t>, Hour> hours;
  Statement* insert_report = nullptr;
};

namespace {
constexpr size_t kMaxCached = 2'000'000;
// An agent's uint64 counter as an SQLite INTEGER (the validator bounds them; belt and braces).
int64_t SaturatedInt64(uint64_t v) {
  return v > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(v);
}
constexpr int64_t kAcceleratorRefreshUs = 60'000'000;  // last_seen granularity of accelerators
}  // namespace

void Store::DropCaches() {
  node_ids_.clear();
  high_water_.clear();
  node_horizon_.clear();
  accelerators_.clear();
  workload_details_.clear();
  workload_rows_.clear();
  node_hardware_.clear();
  location_responders_.clear();
}

absl::StatusOr<int64_t> Store::NodeRowId(const std::string& node_id, int64_t seen_us) {
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
  node_ids_.emplace(node_id, id);
  return id;
}

absl::StatusOr<Store::StreamState*> Store::HighWater(int64_t node, const std::string& boot_id) {
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
  return &high_water_.emplace(RowKey(node, boot_id), state).first->second;
}

absl::StatusOr<Store::NodeCredit*> Store::NodeHorizon(int64_t node) {
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

absl::StatusOr<bool> Store::SeenSince(int64_t node, absl::string_view workload_id, int64_t since_us,
                                      const Batch& batch) {
  auto in_batch = batch.workloads.find(RowKeyView(node, workload_id));
  if (in_batch != batch.workloads.end() && in_batch->second.last_seen_us >= since_us) {
    return true;
  }
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

absl::Status Store::CreditUsage(ReportToCommit& item, int64_t node, StreamState& stream,
                                Batch& batch, CommitResult& result) {
  const NodeReport& r = *item.report;
  PROV_ASSIGN_OR_RETURN(NodeCredit * node_credit, NodeHorizon(node));
  CreditInput in;
  in.collected_us = ToUnixMicros(r.collected_at());
  in.received_us = batch_received_us_;
  in.interval_seconds = r.interval_seconds();
  in.node_credited_until_us = node_credit->horizon_us;
  in.node_newest_boot_us = node_credit->newest_boot_us;
  const Credit credit = CreditReport(stream.credit, in, credit_options_);
  // A workload continued through a gap when it was in the previous report of this boot or, for
  // a boot's first report, in the node's newest report before it.
  int64_t since_us = stream.credit.last_collected_us;
  if (credit.gap_seconds > 0 && since_us == 0) {
    PROV_ASSIGN_OR_RETURN(Statement * last,
                          db_->Cached("SELECT last_seen_us FROM nodes WHERE id = ?"));
    last->BindInt64(1, node);
    absl::StatusOr<bool> row = last->Step();
    since_us = row.ok() && *row ? last->ColumnInt64(0) : 0;
    last->Reset();
    PROV_RETURN_IF_ERROR(row.status());
    auto in_batch = batch.nodes.find(node);
    if (in_batch != batch.nodes.end())
      since_us = std::max(since_us, in_batch->second.latest_seen_us);
  }
  double gap_accelerator_seconds = 0, gap_flop_high = 0;
  for (WorkloadUsage& u : item.usage) {
    bool continued = false;
    if (credit.gap_seconds > 0 && since_us > 0) {
      PROV_ASSIGN_OR_RETURN(continued, SeenSince(node, u.workload_id, since_us, batch));
    }
    ApplyCredit(credit, r.interval_seconds(), continued, &u);
    gap_accelerator_seconds += u.gap_seconds;
    if (credit.elapsed_seconds > 0) {
      gap_flop_high += u.flop_high * credit.gap_seconds / credit.elapsed_seconds;
    }
  }
  stream.credit = credit.next;
  node_credit->horizon_us = std::max(node_credit->horizon_us, credit.next.credited_until_us);
  node_credit->newest_boot_us = std::max(node_credit->newest_boot_us, credit.next.first_credit_us);
  item.credited_seconds = credit.elapsed_seconds;
  result.credited_seconds += credit.elapsed_seconds;
  result.claimed_seconds += r.interval_seconds();
  if (credit.clock_bound) ++result.clock_bound;
  if (credit.lag_floor) ++result.lag_floor;
  if (credit.gap_seconds <= 0) return absl::OkStatus();
  ++result.evidence_gaps;
  result.gap_seconds += credit.gap_seconds;
  PROV_ASSIGN_OR_RETURN(Statement * gap, db_->Cached(kInsertGap));
  gap->BindInt64(1, node);
  gap->BindText(2, r.node().boot_id());
  gap->BindInt64(3, static_cast<int64_t>(r.seq()));
  gap->BindInt64(4, credit.start_us);
  gap->BindInt64(5, credit.end_us);
  gap->BindInt64(6, r.interval_seconds());
  gap->BindDouble(7, credit.gap_seconds);
  gap->BindDouble(8, gap_accelerator_seconds);
  gap->BindDouble(9, gap_flop_high);
  return gap->Run();
}

absl::Status Store::AddReport(ReportToCommit& item, Batch& batch, CommitResult& result,
                              size_t index) {
  const NodeReport& r = *item.report;
  const int64_t seen_us = ToUnixMicros(r.collected_at());
  PROV_ASSIGN_OR_RETURN(int64_t node, NodeRowId(r.node().node_id(), seen_us));

  // Dedup by the (node, boot) high-water mark: agents send in seq order, so seq <= max_seq has
  // been stored before (or skipped past) and is acknowledged without being stored again.
  PROV_ASSIGN_OR_RETURN(StreamState * stream, HighWater(node, r.node().boot_id()));
  const uint64_t max_seq = stream->max_seq;
  auto found = result.high_water.find(StreamKeyView(r.node().node_id(), r.node().boot_id()));
  if (found == result.high_water.end()) {  // copies the strings once per stream and batch
    found = result.high_water.emplace(StreamKey(r.node().node_id(), r.node().boot_id()), 0).first;
  }
  uint64_t& mark = found->second;
  if (r.seq() > max_seq && r.seq() - max_seq > max_seq_jump_) {
    // Storing it would move the high-water mark there, and the node's next genuine reports
    // (lower seqs) would then be acked as duplicates without being stored.
    result.duplicate[index] = true;  // not stored
    result.rejected.emplace_back(index, absl::StrCat("seq: ", r.seq(), " is ", r.seq() - max_seq,
                                                     " ahead of the highest stored seq ", max_seq,
                                                     " of this boot_id (at most ", max_seq_jump_,
                                                     " ahead is plausible; --max-seq-jump)"));
    mark = std::max(mark, max_seq);
    return absl::OkStatus();
  }
  if (r.seq() <= max_seq) {
    result.duplicate[index] = true;
    ++result.duplicates;
    mark = std::max(mark, max_seq);
    return absl::OkStatus();
  }
  mark = r.seq();
  stream->max_seq = r.seq();  // high_water_ has had no insertion since HighWater: still valid
  PROV_RETURN_IF_ERROR(CreditUsage(item, node, *stream, batch, result));
  batch.streams[RowKeyView(node, r.node().boot_id())] = *stream;
  ++result.stored;

  Statement* reports = batch.insert_report;
  reports->BindInt64(1, node);
  reports->BindText(2, r.node().boot_id());
  reports->BindInt64(3, static_cast<int64_t>(r.seq()));
  reports->BindInt64(4, seen_us);
  reports->BindInt64(5, batch_received_us_);
  reports->BindInt64(6, r.interval_seconds());
  reports->BindInt64(7, static_cast<int64_t>(item.size_bytes));
  reports->BindInt64(8, r.accelerators_size());
  reports->BindInt64(9, r.samples_size());
  reports->BindInt64(10, r.workloads_size());
  reports->BindDouble(11, item.credited_seconds);
  PROV_RETURN_IF_ERROR(reports->Run());

  Batch::Node& n = batch.nodes[node];
  if (n.stored == 0 || seen_us < n.first_seen_us) n.first_seen_us = seen_us;
  if (n.latest == nullptr || seen_us >= n.latest_seen_us) {
    n.latest = &r;
    n.latest_seen_us = seen_us;
  }
  ++n.stored;
  n.strings_repaired += SaturatedInt64(r.health().strings_repaired());
  n.strings_truncated += SaturatedInt64(r.health().strings_truncated());

  for (const auto& a : r.accelerators()) {
    Batch::Accelerator& acc = batch.accelerators[RowKeyView(node, a.pci_address())];
    if (acc.latest == nullptr || seen_us >= acc.seen_us) acc = {&a, seen_us};
  }

  const int64_t hour_us = seen_us - ((seen_us % kMicrosPerHour) + kMicrosPerHour) % kMicrosPerHour;
  for (int i = 0; i < r.workloads_size() && i < static_cast<int>(item.usage.size()); ++i) {
    const WorkloadUsage& u = item.usage[i];
    // u.workload_id is the workload's id (ComputeUsage), in the compact usage vector rather than
    // in the parsed Workload, which is by now out of cache.
    Batch::Workload& w = batch.workloads[RowKeyView(node, u.workload_id)];
    if (w.latest == nullptr || seen_us < w.first_seen_us) w.first_seen_us = seen_us;
    if (w.latest == nullptr || seen_us >= w.last_seen_us) {
      w.latest = &r.workloads(i);
      w.latest_usage = &u;
      w.last_seen_us = seen_us;
    }
    w.seconds += u.accelerator_seconds;
    w.gap_seconds += u.gap_seconds;
    w.flop_low += u.flop_low;
    w.flop_high += u.flop_high;
    if (w.method != u.method) w.method = MergeMethods(w.method, u.method);

    Batch::Hour& h = batch.hours[{absl::string_view(u.account), hour_us}];
    h.seconds += u.accelerator_seconds;
    h.gap_seconds += u.gap_seconds;
    if (u.workload_class == provenance::v1::WORKLOAD_CLASS_TRAINING) {
      h.training += u.accelerator_seconds;
    }
    if (u.workload_class == provenance::v1::WORKLOAD_CLASS_INFERENCE) {
      h.inference += u.accelerator_seconds;
    }
    h.flop_low += u.flop_low;
    h.flop_high += u.flop_high;
    if (h.method != u.method) h.method = MergeMethods(h.method, u.method);
  }
  return absl::OkStatus();
}

absl::Status Store::WriteWorkloadRow(const RowKeyView& key, const BatchWorkload& w) {
  const provenance::v1::Workload& latest_w = *w.latest;
  const WorkloadUsage& u = *w.latest_usage;
  const size_t described =
      absl::HashOf(static_cast<int>(latest_w.kind()), absl::string_view(u.account),
                   static_cast<int>(latest_w.attribution().source()),
                   static_cast<int>(latest_w.workload_class()), latest_w.class_confidence(),
                   absl::string_view(latest_w.launcher()), u.accelerator_count,
                   absl::string_view(u.accelerator_model));
  auto cached = workload_rows_.find(key);
  if (cached != workload_rows_.end() && cached->second.hash == described) {
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
  workload->BindInt64(3, latest_w.kind());
  workload->BindText(4, u.account);
  workload->BindInt64(5, latest_w.attribution().source());
  workload->BindInt64(6, latest_w.workload_class());
  workload->BindDouble(7, latest_w.class_confidence());
  workload->BindText(8, latest_w.launcher());
  workload->BindInt64(9, u.accelerator_count);
  workload->BindText(10, u.accelerator_model);
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
      cached->second = {described, w.last_seen_us, rowid};
    } else {
      workload_rows_.emplace(RowKey(key.first, key.second),
                             WorkloadRow{described, w.last_seen_us, rowid});
    }
  } else if (cached != workload_rows_.end()) {
    workload_rows_.erase(cached);  // a newer report's values are stored: unknown here
  }
  return absl::OkStatus();
}

absl::Status Store::WriteAggregates(Batch& batch) {
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
  for (const auto& [key, state] : batch.streams) {
    streams->BindInt64(1, key.first);
    streams->BindText(2, key.second);
    streams->BindInt64(3, static_cast<int64_t>(state.max_seq));
    streams->BindInt64(4, state.credit.credited_until_us);
    streams->BindInt64(5, state.credit.last_collected_us);
    streams->BindInt64(6, state.credit.first_credit_us);
    PROV_RETURN_IF_ERROR(streams->Run());
  }

  // Before the nodes rows are updated: a change records the node's previous last_seen_us.
  for (const auto& [node, n] : batch.nodes) {
    PROV_RETURN_IF_ERROR(
        RecordNodeHardware(*db_, node_hardware_, node, *n.latest, n.latest_seen_us));
    PROV_RETURN_IF_ERROR(RecordLocationResponder(
        *db_, location_responders_, node, n.latest->node().location_responder(), n.latest_seen_us));
  }

  PROV_ASSIGN_OR_RETURN(Statement * update_node, db_->Cached(kUpdateNode));
  for (const auto& [node, n] : batch.nodes) {
    const NodeReport& r = *n.latest;
    update_node->BindInt64(1, node);
    update_node->BindText(2, r.node().hostname());
    update_node->BindText(3, r.node().datacenter());
    update_node->BindText(4, r.node().region());
    update_node->BindText(5, r.node().agent_version());
    update_node->BindText(6, r.node().boot_id());
    update_node->BindInt64(7, n.latest_seen_us);
    update_node->BindInt64(8, static_cast<int64_t>(r.seq()));
    update_node->BindInt64(9, r.accelerators_size());
    update_node->BindInt64(10, r.workloads_size());
    update_node->BindInt64(11, n.stored);
    update_node->BindInt64(12, batch_received_us_);
    update_node->BindInt64(13, n.first_seen_us);
    // The agent's health as its newest report says (cumulative spool counters), and the strings
    // it had to repair or cut, summed over the stored reports.
    const provenance::v1::AgentHealth& h = r.health();
    int64_t collector_errors = 0;
    for (const auto& e : h.collector_errors()) {
      collector_errors += std::max<int64_t>(1, SaturatedInt64(e.count()));
    }
    update_node->BindInt64(14, r.has_health() ? 1 : 0);
    update_node->BindInt64(15, SaturatedInt64(h.spool_depth()));
    update_node->BindInt64(16, SaturatedInt64(h.dropped_reports()));
    update_node->BindInt64(17, SaturatedInt64(h.unreadable_reports()));
    update_node->BindInt64(18, SaturatedInt64(h.rejected_reports()));
    update_node->BindInt64(19, collector_errors);
    update_node->BindInt64(20, h.nvml_available() ? 1 : 0);
    update_node->BindInt64(21, n.strings_repaired);
    update_node->BindInt64(22, n.strings_truncated);
    PROV_RETURN_IF_ERROR(update_node->Run());
  }

  PROV_ASSIGN_OR_RETURN(Statement * accel, db_->Cached(kUpsertAccelerator));
  std::string blob;
  for (auto& [key, acc] : batch.accelerators) {
    const auto& a = *acc.latest;
    a.SerializeToString(&blob);
    const size_t hash = BytesHash(blob);
    auto cached = accelerators_.find(key);
    if (cached != accelerators_.end() &&
        (acc.seen_us < cached->second.seen_us ||
         (cached->second.hash == hash &&
          acc.seen_us - cached->second.seen_us < kAcceleratorRefreshUs))) {
      continue;  // unchanged and recently written (or older than what is stored)
    }
    accel->BindInt64(1, key.first);
    accel->BindText(2, a.pci_address());
    accel->BindInt64(3, a.vendor_id());
    accel->BindInt64(4, a.device_id());
    accel->BindText(5, a.vendor().empty() ? "unknown" : a.vendor());
    accel->BindText(6, a.model().empty() ? "unknown" : a.model());
    accel->BindInt64(7, a.model_known() ? 1 : 0);
    accel->BindText(8, a.uuid());
    accel->BindText(9, a.serial());
    accel->BindBlob(10, blob);
    accel->BindInt64(11, acc.seen_us);
    PROV_RETURN_IF_ERROR(accel->Run());
    if (cached != accelerators_.end()) {
      cached->second = {hash, acc.seen_us};
    } else {
      accelerators_.emplace(RowKey(key.first, key.second), CachedRow{hash, acc.seen_us});
    }
  }

  PROV_ASSIGN_OR_RETURN(Statement * details, db_->Cached(kUpsertWorkloadDetails));
  for (auto& [key, w] : batch.workloads) {
    const provenance::v1::Workload& latest_w = *w.latest;
    PROV_RETURN_IF_ERROR(WriteWorkloadRow(key, w));

    latest_w.SerializeToString(&blob);
    const size_t hash = BytesHash(blob);
    auto cached = workload_details_.find(key);
    if (cached != workload_details_.end() &&
        (cached->second.hash == hash || w.last_seen_us < cached->second.seen_us)) {
      continue;  // the stored Workload proto is this one (or newer)
    }
    details->BindInt64(1, key.first);
    details->BindText(2, key.second);
    details->BindInt64(3, w.last_seen_us);
    details->BindBlob(4, blob);
    PROV_RETURN_IF_ERROR(details->Run());
    if (cached != workload_details_.end()) {
      cached->second = {hash, w.last_seen_us};
    } else {
      workload_details_.emplace(RowKey(key.first, key.second), CachedRow{hash, w.last_seen_us});
    }
  }

  PROV_ASSIGN_OR_RETURN(Statement * hour, db_->Cached(kUpsertAccountHour));
  for (const auto& [key, h] : batch.hours) {
    hour->BindText(1, key.first);
    hour->BindInt64(2, key.second);
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

absl::StatusOr<CommitResult> Store::Commit(std::vector<ReportToCommit>& batch_items,
                                           absl::Time received_at) {
  CommitResult result;
  result.duplicate.assign(batch_items.size(), false);
  if (batch_items.empty()) return result;
  if (accelerators_.size() + workload_details_.size() + workload_rows_.size() + high_water_.size() +
          node_hardware_.size() + location_responders_.size() >
      kMaxCached) {
    DropCaches();  // bounded memory; the next batches re-read or rewrite what they need
  }
  batch_received_us_ = absl::ToUnixMicros(received_at);
  Batch batch;
  batch.nodes.reserve(last_nodes_);
  batch.accelerators.reserve(last_accelerators_);
  batch.workloads.reserve(last_workloads_);
  PROV_ASSIGN_OR_RETURN(batch.insert_report, db_->Cached(kInsertReport));
  PROV_RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
  absl::Status status;
  for (size_t i = 0; i < batch_items.size() && status.ok(); ++i) {
    status = AddReport(batch_items[i], batch, result, i);
  }
  last_nodes_ = batch.nodes.size();
  last_accelerators_ = batch.accelerators.size();
  last_workloads_ = batch.workloads.size();
  if (status.ok()) status = WriteAggregates(batch);
  if (status.ok()) status = db_->Exec("COMMIT");
  if (!status.ok()) {
    (void)db_->Exec("ROLLBACK");
    DropCaches();
    return status;
  }
  return result;
}

}  // namespace prov::server
