#include "server/store/store.h"

#include <sqlite3.h>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/store/schema.h"

namespace prov::server {
namespace {

using provenance::v1::NodeReport;

// SQL function prov_merge_methods(a, b): MergeMethods() for the ledger's method column.
void MergeMethodsSql(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
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

// Accumulates the ledger always; the descriptive columns follow the newest report only.
constexpr char kUpsertWorkload[] = R"sql(
INSERT INTO workloads (node, workload_id, kind, account, attribution_source, workload_class,
                       class_confidence, launcher, accelerator_count, accelerator_model, workload,
                       first_seen_us, last_seen_us, accelerator_seconds, flop_low, flop_high, method)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12, ?13, ?14, ?15, ?16)
ON CONFLICT (node, workload_id) DO UPDATE SET
  accelerator_seconds = accelerator_seconds + excluded.accelerator_seconds,
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
  workload = IIF(excluded.last_seen_us >= last_seen_us, excluded.workload, workload),
  last_seen_us = MAX(last_seen_us, excluded.last_seen_us))sql";

constexpr char kUpsertAccountHour[] = R"sql(
INSERT INTO account_usage_hourly (account, hour_us, accelerator_seconds, training_seconds,
                                  inference_seconds, flop_low, flop_high, method)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
ON CONFLICT (account, hour_us) DO UPDATE SET
  accelerator_seconds = accelerator_seconds + excluded.accelerator_seconds,
  training_seconds = training_seconds + excluded.training_seconds,
  inference_seconds = inference_seconds + excluded.inference_seconds,
  flop_low = flop_low + excluded.flop_low,
  flop_high = flop_high + excluded.flop_high,
  method = prov_merge_methods(method, excluded.method))sql";

constexpr char kUpdateNodeLatest[] = R"sql(
UPDATE nodes SET hostname = ?2, datacenter = ?3, region = ?4, agent_version = ?5, boot_id = ?6,
  last_seen_us = ?7, last_seq = ?8, accelerator_count = ?9, workload_count = ?10
WHERE id = ?1 AND last_seen_us <= ?7)sql";

}  // namespace

int64_t ToUnixMicros(const google::protobuf::Timestamp& ts) {
  return ts.seconds() * 1000000 + ts.nanos() / 1000;
}

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const std::string& path,
                                                   const StoreOptions& options) {
  PROV_ASSIGN_OR_RETURN(auto db, SqliteDb::Open(path, SqliteDb::kReadWrite));
  PROV_RETURN_IF_ERROR(db->Exec(
      absl::StrCat("PRAGMA busy_timeout=", absl::ToInt64Milliseconds(options.busy_timeout))));
  PROV_RETURN_IF_ERROR(db->Exec("PRAGMA journal_mode=WAL"));
  PROV_RETURN_IF_ERROR(db->Exec("PRAGMA synchronous=NORMAL"));
  if (sqlite3_create_function(db->raw(), "prov_merge_methods", 2,
                              SQLITE_UTF8 | SQLITE_DETERMINISTIC, nullptr, &MergeMethodsSql,
                              nullptr, nullptr) != SQLITE_OK) {
    return absl::InternalError("sqlite: cannot register prov_merge_methods");
  }
  absl::Status migrated = MigrateSchema(*db);
  if (!migrated.ok()) {
    return absl::Status(migrated.code(), absl::StrCat(path, ": ", migrated.message()));
  }
  return std::unique_ptr<Store>(new Store(path, std::move(db)));
}

absl::StatusOr<int64_t> Store::NodeRowId(const NodeReport& report, int64_t seen_us) {
  const std::string& node_id = report.node().node_id();
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
  node_ids_added_.push_back(node_id);
  return id;
}

absl::Status Store::CommitOne(const ReportToCommit& item, int64_t received_us, CommitResult& result,
                              size_t index) {
  const NodeReport& r = *item.report;
  const int64_t seen_us = ToUnixMicros(r.collected_at());
  PROV_ASSIGN_OR_RETURN(int64_t node, NodeRowId(r, seen_us));
  const StreamKey key{r.node().node_id(), r.node().boot_id()};

  // Dedup by the (node, boot) high-water mark: agents send in seq order, so seq <= max_seq has
  // been stored before (or skipped past) and is acknowledged without being stored again.
  PROV_ASSIGN_OR_RETURN(
      Statement * hw,
      db_->Cached("SELECT max_seq FROM node_streams WHERE node = ? AND boot_id = ?"));
  hw->BindInt64(1, node);
  hw->BindText(2, r.node().boot_id());
  absl::StatusOr<bool> row = hw->Step();
  uint64_t max_seq = row.ok() && *row ? static_cast<uint64_t>(hw->ColumnInt64(0)) : 0;
  hw->Reset();
  PROV_RETURN_IF_ERROR(row.status());
  uint64_t& mark = result.high_water[key];
  if (r.seq() <= max_seq) {
    result.duplicate[index] = true;
    ++result.duplicates;
    mark = std::max(mark, max_seq);
    return absl::OkStatus();
  }
  mark = std::max(mark, r.seq());
  ++result.stored;

  PROV_ASSIGN_OR_RETURN(
      Statement * streams,
      db_->Cached("INSERT INTO node_streams (node, boot_id, max_seq) VALUES (?, ?, ?) "
                  "ON CONFLICT (node, boot_id) DO UPDATE SET max_seq = excluded.max_seq"));
  streams->BindInt64(1, node);
  streams->BindText(2, r.node().boot_id());
  streams->BindInt64(3, static_cast<int64_t>(r.seq()));
  PROV_RETURN_IF_ERROR(streams->Run());

  PROV_ASSIGN_OR_RETURN(
      Statement * reports,
      db_->Cached("INSERT INTO reports (node, boot_id, seq, collected_at_us, received_at_us, "
                  "interval_seconds, size_bytes, accelerator_count, sample_count, workload_count) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  reports->BindInt64(1, node);
  reports->BindText(2, r.node().boot_id());
  reports->BindInt64(3, static_cast<int64_t>(r.seq()));
  reports->BindInt64(4, seen_us);
  reports->BindInt64(5, received_us);
  reports->BindInt64(6, r.interval_seconds());
  reports->BindInt64(7, static_cast<int64_t>(item.size_bytes));
  reports->BindInt64(8, r.accelerators_size());
  reports->BindInt64(9, r.samples_size());
  reports->BindInt64(10, r.workloads_size());
  PROV_RETURN_IF_ERROR(reports->Run());

  PROV_ASSIGN_OR_RETURN(
      Statement * counts,
      db_->Cached("UPDATE nodes SET reports_stored = reports_stored + 1, last_received_us = ?2, "
                  "first_seen_us = MIN(first_seen_us, ?3) WHERE id = ?1"));
  counts->BindInt64(1, node);
  counts->BindInt64(2, received_us);
  counts->BindInt64(3, seen_us);
  PROV_RETURN_IF_ERROR(counts->Run());
  PROV_ASSIGN_OR_RETURN(Statement * latest, db_->Cached(kUpdateNodeLatest));
  latest->BindInt64(1, node);
  latest->BindText(2, r.node().hostname());
  latest->BindText(3, r.node().datacenter());
  latest->BindText(4, r.node().region());
  latest->BindText(5, r.node().agent_version());
  latest->BindText(6, r.node().boot_id());
  latest->BindInt64(7, seen_us);
  latest->BindInt64(8, static_cast<int64_t>(r.seq()));
  latest->BindInt64(9, r.accelerators_size());
  latest->BindInt64(10, r.workloads_size());
  PROV_RETURN_IF_ERROR(latest->Run());

  PROV_ASSIGN_OR_RETURN(Statement * accel, db_->Cached(kUpsertAccelerator));
  for (const auto& a : r.accelerators()) {
    accel->BindInt64(1, node);
    accel->BindText(2, a.pci_address());
    accel->BindInt64(3, a.vendor_id());
    accel->BindInt64(4, a.device_id());
    accel->BindText(5, a.vendor().empty() ? "unknown" : a.vendor());
    accel->BindText(6, a.model().empty() ? "unknown" : a.model());
    accel->BindInt64(7, a.model_known() ? 1 : 0);
    accel->BindText(8, a.uuid());
    accel->BindText(9, a.serial());
    accel->BindBlob(10, a.SerializeAsString());
    accel->BindInt64(11, seen_us);
    PROV_RETURN_IF_ERROR(accel->Run());
  }

  PROV_ASSIGN_OR_RETURN(Statement * workload, db_->Cached(kUpsertWorkload));
  PROV_ASSIGN_OR_RETURN(Statement * hour, db_->Cached(kUpsertAccountHour));
  const int64_t hour_us = seen_us - ((seen_us % kMicrosPerHour) + kMicrosPerHour) % kMicrosPerHour;
  for (int i = 0; i < r.workloads_size() && i < static_cast<int>(item.usage.size()); ++i) {
    const auto& w = r.workloads(i);
    const WorkloadUsage& u = item.usage[i];
    workload->BindInt64(1, node);
    workload->BindText(2, w.workload_id());
    workload->BindInt64(3, w.kind());
    workload->BindText(4, u.account);
    workload->BindInt64(5, w.attribution().source());
    workload->BindInt64(6, w.workload_class());
    workload->BindDouble(7, w.class_confidence());
    workload->BindText(8, w.launcher());
    workload->BindInt64(9, u.accelerator_count);
    workload->BindText(10, u.accelerator_model);
    workload->BindBlob(11, w.SerializeAsString());
    workload->BindInt64(12, seen_us);
    workload->BindDouble(13, u.accelerator_seconds);
    workload->BindDouble(14, u.flop_low);
    workload->BindDouble(15, u.flop_high);
    workload->BindText(16, u.method);
    PROV_RETURN_IF_ERROR(workload->Run());

    hour->BindText(1, u.account);
    hour->BindInt64(2, hour_us);
    hour->BindDouble(3, u.accelerator_seconds);
    hour->BindDouble(
        4, u.workload_class == provenance::v1::WORKLOAD_CLASS_TRAINING ? u.accelerator_seconds : 0);
    hour->BindDouble(5, u.workload_class == provenance::v1::WORKLOAD_CLASS_INFERENCE
                            ? u.accelerator_seconds
                            : 0);
    hour->BindDouble(6, u.flop_low);
    hour->BindDouble(7, u.flop_high);
    hour->BindText(8, u.method);
    PROV_RETURN_IF_ERROR(hour->Run());
  }
  return absl::OkStatus();
}

absl::StatusOr<CommitResult> Store::Commit(absl::Span<const ReportToCommit> batch,
                                           absl::Time received_at) {
  CommitResult result;
  result.duplicate.assign(batch.size(), false);
  if (batch.empty()) return result;
  const int64_t received_us = absl::ToUnixMicros(received_at);
  node_ids_added_.clear();
  PROV_RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
  absl::Status status;
  for (size_t i = 0; i < batch.size() && status.ok(); ++i) {
    status = CommitOne(batch[i], received_us, result, i);
  }
  if (status.ok()) status = db_->Exec("COMMIT");
  if (!status.ok()) {
    (void)db_->Exec("ROLLBACK");
    for (const std::string& id : node_ids_added_) node_ids_.erase(id);
    return status;
  }
  return result;
}

}  // namespace prov::server
