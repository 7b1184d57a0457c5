#include "server/store/pg/pg_ingest.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/status_macros.h"
#include "server/store/pg/pg_ingest_batches.h"
#include "server/store/pg/pg_ingest_node_rows.h"
#include "server/store/pg/pg_schema.h"

namespace prov::server {
namespace {

constexpr size_t kMaxCached = 2'000'000;  // as the SQLite Store's bound

// Step 1 (pg_ingest.h): new nodes, then every node of the batch locked, both in node_id order.
constexpr char kCreateNodes[] = R"sql(
INSERT INTO nodes (node_id, first_seen_us, last_seen_us, last_received_us)
SELECT b.node_id, b.seen_us, 0, 0
FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS b(node_id, seen_us, i) ORDER BY b.i
ON CONFLICT (node_id) DO NOTHING)sql";

constexpr char kLockNodes[] = R"sql(
SELECT id, node_id, last_seen_us, reports_stored FROM nodes WHERE node_id = ANY($1::text[])
ORDER BY node_id FOR NO KEY UPDATE)sql";

constexpr char kReadStreams[] = R"sql(
SELECT s.node, s.boot_id, s.max_seq, s.credited_until_us, s.last_collected_us, s.first_credit_us
FROM node_streams s JOIN unnest($1::bigint[], $2::text[]) AS b(node, boot_id)
  ON s.node = b.node AND s.boot_id = b.boot_id)sql";

constexpr char kReadHorizons[] = R"sql(
SELECT node, MAX(credited_until_us), MAX(first_credit_us) FROM node_streams
WHERE node = ANY($1::bigint[]) GROUP BY node)sql";

constexpr char kInsertReports[] = R"sql(
INSERT INTO reports (node, boot_id, seq, collected_at_us, received_at_us, interval_seconds,
                     size_bytes, accelerator_count, sample_count, workload_count, credited_seconds)
SELECT r.node, r.boot_id, r.seq, r.collected_at_us, $11::bigint, r.interval_seconds, r.size_bytes,
       r.accelerator_count, r.sample_count, r.workload_count, r.credited_seconds
FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[],
            $7::bigint[], $8::bigint[], $9::bigint[], $10::float8[]) WITH ORDINALITY
  AS r(node, boot_id, seq, collected_at_us, interval_seconds, size_bytes, accelerator_count,
       sample_count, workload_count, credited_seconds, i)
ORDER BY r.i)sql";

constexpr char kInsertGaps[] = R"sql(
INSERT INTO evidence_gaps (node, boot_id, seq, start_us, end_us, claimed_interval_seconds,
                           gap_seconds, accelerator_seconds, flop_high)
SELECT g.node, g.boot_id, g.seq, g.start_us, g.end_us, g.claimed, g.gap_seconds,
       g.accelerator_seconds, g.flop_high
FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[],
            $7::float8[], $8::float8[], $9::float8[]) WITH ORDINALITY
  AS g(node, boot_id, seq, start_us, end_us, claimed, gap_seconds, accelerator_seconds,
       flop_high, i)
ORDER BY g.i)sql";

constexpr char kUpsertStreams[] = R"sql(
INSERT INTO node_streams AS s (node, boot_id, max_seq, credited_until_us, last_collected_us,
                               first_credit_us)
SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[],
                     $6::bigint[])
ON CONFLICT (node, boot_id) DO UPDATE SET
  max_seq = GREATEST(s.max_seq, excluded.max_seq),
  credited_until_us = GREATEST(s.credited_until_us, excluded.credited_until_us),
  last_collected_us = GREATEST(s.last_collected_us, excluded.last_collected_us),
  first_credit_us = CASE WHEN s.first_credit_us = 0 THEN excluded.first_credit_us
                         ELSE s.first_credit_us END)sql";

// store.cc's kUpdateNode for many nodes: the counts always, the descriptive columns only when the
// batch's newest report is at least as new as the row's (SET expressions see the old row).
constexpr char kUpdateNodes[] = R"sql(
UPDATE nodes AS n SET reports_stored = n.reports_stored + b.stored, last_received_us = $22::bigint,
  rejecting_since_us = 0,
  first_seen_us = LEAST(n.first_seen_us, b.first_seen_us),
  hostname = CASE WHEN n.last_seen_us <= b.seen_us THEN b.hostname ELSE n.hostname END,
  datacenter = CASE WHEN n.last_seen_us <= b.seen_us THEN b.datacenter ELSE n.datacenter END,
  region = CASE WHEN n.last_seen_us <= b.seen_us THEN b.region ELSE n.region END,
  agent_version = CASE WHEN n.last_seen_us <= b.seen_us THEN b.agent_version
                       ELSE n.agent_version END,
  boot_id = CASE WHEN n.last_seen_us <= b.seen_us THEN b.boot_id ELSE n.boot_id END,
  last_seq = CASE WHEN n.last_seen_us <= b.seen_us THEN b.seq ELSE n.last_seq END,
  accelerator_count = CASE WHEN n.last_seen_us <= b.seen_us THEN b.accelerator_count
                           ELSE n.accelerator_count END,
  workload_count = CASE WHEN n.last_seen_us <= b.seen_us THEN b.workload_count
                        ELSE n.workload_count END,
  agent_health_us = CASE WHEN n.last_seen_us <= b.seen_us AND b.has_health <> 0 THEN b.seen_us
                         ELSE n.agent_health_us END,
  agent_spool_depth = CASE WHEN n.last_seen_us <= b.seen_us AND b.has_health <> 0
                           THEN b.spool_depth ELSE n.agent_spool_depth END,
  agent_dropped_reports = CASE WHEN n.last_seen_us <= b.seen_us AND b.has_health <> 0
                               THEN b.dropped ELSE n.agent_dropped_reports END,
  agent_unreadable_reports = CASE WHEN n.last_seen_us <= b.seen_us AND b.has_health <> 0
                                  THEN b.unreadable ELSE n.agent_unreadable_reports END,
  agent_rejected_reports = CASE WHEN n.last_seen_us <= b.seen_us AND b.has_health <> 0
                                THEN b.rejected ELSE n.agent_rejected_reports END,
  agent_collector_errors = CASE WHEN n.last_seen_us <= b.seen_us AND b.has_health <> 0
                                THEN b.collector_errors ELSE n.agent_collector_errors END,
  agent_nvml_available = CASE WHEN n.last_seen_us <= b.seen_us AND b.has_health <> 0
                              THEN b.nvml ELSE n.agent_nvml_available END,
  agent_strings_repaired = n.agent_strings_repaired + b.repaired,
  agent_strings_truncated = n.agent_strings_truncated + b.truncated,
  last_seen_us = GREATEST(n.last_seen_us, b.seen_us)
FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
            $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[],
            $13::bigint[], $14::bigint[], $15::bigint[], $16::bigint[], $17::bigint[],
            $18::bigint[], $19::bigint[], $20::bigint[], $21::bigint[])
  AS b(id, hostname, datacenter, region, agent_version, boot_id, seen_us, seq,
       accelerator_count, workload_count, stored, first_seen_us, has_health, spool_depth, dropped,
       unreadable, rejected, collector_errors, nvml, repaired, truncated)
WHERE n.id = b.id)sql";

constexpr char kUpsertAccelerators[] = R"sql(
INSERT INTO accelerators AS a (node, pci_address, vendor_id, device_id, vendor, model,
                               model_known, uuid, serial, accelerator, first_seen_us, last_seen_us)
SELECT x.node, x.pci_address, x.vendor_id, x.device_id, x.vendor, x.model, x.model_known, x.uuid,
       x.serial, x.accelerator, x.seen_us, x.seen_us
FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::text[],
            $7::bigint[], $8::text[], $9::text[], $10::bytea[], $11::bigint[])
  AS x(node, pci_address, vendor_id, device_id, vendor, model, model_known, uuid, serial,
       accelerator, seen_us)
ON CONFLICT (node, pci_address) DO UPDATE SET
  vendor_id = excluded.vendor_id, device_id = excluded.device_id, vendor = excluded.vendor,
  model = excluded.model, model_known = excluded.model_known, uuid = excluded.uuid,
  serial = excluded.serial, accelerator = excluded.accelerator,
  first_seen_us = LEAST(a.first_seen_us, excluded.first_seen_us),
  last_seen_us = excluded.last_seen_us
WHERE excluded.last_seen_us >= a.last_seen_us)sql";

// store.cc's kUpsertWorkload: adds the batch's ledger; the descriptive columns follow the newest.
constexpr char kUpsertWorkloads[] = R"sql(
INSERT INTO workloads AS w (node, workload_id, kind, account, attribution_source, workload_class,
                            class_confidence, launcher, accelerator_count, accelerator_model,
                            first_seen_us, last_seen_us, accelerator_seconds, flop_low, flop_high,
                            method, gap_seconds)
SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::bigint[],
                     $6::bigint[], $7::float8[], $8::text[], $9::bigint[], $10::text[],
                     $11::bigint[], $12::bigint[], $13::float8[], $14::float8[], $15::float8[],
                     $16::text[], $17::float8[])
ON CONFLICT (node, workload_id) DO UPDATE SET
  accelerator_seconds = w.accelerator_seconds + excluded.accelerator_seconds,
  gap_seconds = w.gap_seconds + excluded.gap_seconds,
  flop_low = w.flop_low + excluded.flop_low,
  flop_high = w.flop_high + excluded.flop_high,
  method = CASE WHEN w.method = '' OR w.method = excluded.method THEN excluded.method
                WHEN excluded.method = '' THEN w.method
                ELSE prov_merge_methods(w.method, excluded.method) END,
  first_seen_us = LEAST(w.first_seen_us, excluded.first_seen_us),
  kind = CASE WHEN excluded.last_seen_us >= w.last_seen_us THEN excluded.kind ELSE w.kind END,
  account = CASE WHEN excluded.last_seen_us >= w.last_seen_us THEN excluded.account
                 ELSE w.account END,
  attribution_source = CASE WHEN excluded.last_seen_us >= w.last_seen_us
                            THEN excluded.attribution_source ELSE w.attribution_source END,
  workload_class = CASE WHEN excluded.last_seen_us >= w.last_seen_us THEN excluded.workload_class
                        ELSE w.workload_class END,
  class_confidence = CASE WHEN excluded.last_seen_us >= w.last_seen_us
                          THEN excluded.class_confidence ELSE w.class_confidence END,
  launcher = CASE WHEN excluded.last_seen_us >= w.last_seen_us THEN excluded.launcher
                  ELSE w.launcher END,
  accelerator_count = CASE WHEN excluded.last_seen_us >= w.last_seen_us
                           THEN excluded.accelerator_count ELSE w.accelerator_count END,
  accelerator_model = CASE WHEN excluded.last_seen_us >= w.last_seen_us
                           THEN excluded.accelerator_model ELSE w.accelerator_model END,
  last_seen_us = GREATEST(w.last_seen_us, excluded.last_seen_us)
RETURNING w.node, w.workload_id, w.id, w.last_seen_us)sql";

// A workloads row whose descriptive columns already hold the batch's (workload_rows_): only the
// ledger columns change (store.cc's kAddToWorkload), found by id; the node and workload id
// only confirm it. The rows not returned are upserted whole.
constexpr char kAddToWorkloads[] = R"sql(
UPDATE workloads AS w SET accelerator_seconds = w.accelerator_seconds + b.seconds,
  flop_low = w.flop_low + b.flop_low, flop_high = w.flop_high + b.flop_high,
  method = CASE WHEN w.method = '' OR w.method = b.method THEN b.method
                WHEN b.method = '' THEN w.method
                ELSE prov_merge_methods(w.method, b.method) END,
  first_seen_us = LEAST(w.first_seen_us, b.first_seen_us),
  last_seen_us = GREATEST(w.last_seen_us, b.last_seen_us),
  gap_seconds = w.gap_seconds + b.gap_seconds
FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::float8[], $5::float8[], $6::float8[],
            $7::text[], $8::bigint[], $9::bigint[], $10::float8[])
  AS b(id, node, workload_id, seconds, flop_low, flop_high, method, first_seen_us, last_seen_us,
       gap_seconds)
WHERE w.id = b.id AND w.node = b.node AND w.workload_id = b.workload_id
RETURNING w.id)sql";

constexpr char kUpsertWorkloadDetails[] = R"sql(
INSERT INTO workload_details AS d (node, workload_id, seen_us, workload)
SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bytea[])
ON CONFLICT (node, workload_id) DO UPDATE SET seen_us = excluded.seen_us,
  workload = excluded.workload
WHERE excluded.seen_us >= d.seen_us)sql";

constexpr char kUpsertAccountHours[] = R"sql(
INSERT INTO account_usage_hourly AS h (account, hour_us, accelerator_seconds, training_seconds,
                                       inference_seconds, flop_low, flop_high, method, gap_seconds)
SELECT x.account, x.hour_us, x.seconds, x.training, x.inference, x.flop_low, x.flop_high,
       x.method, x.gap_seconds
FROM unnest($1::text[], $2::bigint[], $3::float8[], $4::float8[], $5::float8[], $6::float8[],
            $7::float8[], $8::text[], $9::float8[]) WITH ORDINALITY
  AS x(account, hour_us, seconds, training, inference, flop_low, flop_high, method, gap_seconds,
       i)
ORDER BY x.i
ON CONFLICT (account, hour_us) DO UPDATE SET
  accelerator_seconds = h.accelerator_seconds + excluded.accelerator_seconds,
  gap_seconds = h.gap_seconds + excluded.gap_seconds,
  training_seconds = h.training_seconds + excluded.training_seconds,
  inference_seconds = h.inference_seconds + excluded.inference_seconds,
  flop_low = h.flop_low + excluded.flop_low,
  flop_high = h.flop_high + excluded.flop_high,
  method = CASE WHEN h.method = '' OR h.method = excluded.method THEN excluded.method
                WHEN excluded.method = '' THEN h.method
                ELSE prov_merge_methods(h.method, excluded.method) END)sql";

// store.cc's kRecordRejections, one node.
constexpr char kRecordRejections[] = R"sql(
UPDATE nodes SET reports_rejected = reports_rejected + $2::bigint,
  last_rejected_us = GREATEST(last_rejected_us, $3::bigint),
  last_rejection = CASE WHEN last_rejected_us <= $3::bigint THEN $4::text ELSE last_rejection END,
  rejecting_since_us = CASE WHEN rejecting_since_us = 0 AND $3::bigint > last_received_us
                            THEN GREATEST($5::bigint, last_received_us + 1)
                            ELSE rejecting_since_us END
WHERE node_id = $1
RETURNING reports_rejected, last_rejected_us, last_rejection, rejecting_since_us)sql";

// Runs `sql` with the first `n` arrays as $1..$n and `scalars` after them.
absl::StatusOr<PgResult> RunArrays(PgConn& conn, absl::string_view sql, PgArray* arrays, int n,
                                   std::initializer_list<PgParam> scalars = {}) {
  std::vector<PgParam> params;
  params.reserve(static_cast<size_t>(n) + scalars.size());
  for (int i = 0; i < n; ++i) params.emplace_back(arrays[i].Finish());
  for (const PgParam& p : scalars) params.push_back(p);
  return conn.Query(sql, params);
}

}  // namespace

absl::StatusOr<std::unique_ptr<PgIngestRepository>> PgIngestRepository::Open(
    const std::string& conninfo, const PgIngestOptions& options) {
  PgConnOptions conn_options{.connect_timeout = options.connect_timeout,
                             .application_name = options.application_name,
                             .search_path = kPgSchema};
  PROV_ASSIGN_OR_RETURN(auto conn, PgConn::Connect(conninfo, conn_options));
  PROV_RETURN_IF_ERROR(MigratePgSchema(*conn));
  return std::unique_ptr<PgIngestRepository>(new PgIngestRepository(std::move(conn), options));
}

absl::Status PgIngestRepository::InTransaction(absl::FunctionRef<absl::Status()> body) {
  for (int attempt = 0;; ++attempt) {
    PROV_RETURN_IF_ERROR(conn_->Reconnect());
    bool began = false;
    absl::Status status = conn_->Transaction(
        [&] {
          began = true;
          return body();
        },
        "BEGIN ISOLATION LEVEL READ COMMITTED");
    // BEGIN itself found the session gone (libpq notices only when it next uses it): nothing
    // was sent, so the work runs once more on a new session.
    if (!began && absl::IsUnavailable(status) && !conn_->ok() && attempt == 0) continue;
    return status;
  }
}

void PgIngestRepository::DropCaches() {
  write_caches_.clear();
  written_stored_.clear();
  workload_rows_.clear();
}

void PgIngestRepository::EnsurePartitions(absl::Time now) {
  const int64_t day = PgDayOf(absl::ToUnixMicros(now));
  if (day == partitions_day_ || now < partitions_retry_) return;
  PgPartitionsReport report;
  partitions_status_ = conn_->Reconnect();
  if (partitions_status_.ok()) {
    absl::StatusOr<int> created = EnsurePgDayPartitions(*conn_, now, options_.partitions);
    partitions_status_ = created.status();
    if (created.ok()) report.created = *created;
  }
  if (partitions_status_.ok()) {
    partitions_day_ = day;
  } else {
    partitions_retry_ = now + absl::Minutes(1);
  }
  if (options_.on_partitions == nullptr) return;
  report.status = partitions_status_;
  for (const PgDayPartitionedTable& t : kPgDayPartitionedTables) {
    absl::StatusOr<int64_t> rows =
        conn_->ok() ? CountPgDefaultRows(*conn_, t.table) : absl::StatusOr<int64_t>(-1);
    report.default_rows.emplace_back(t.table, rows.ok() ? *rows : -1);
  }
  options_.on_partitions(report);
}

absl::StatusOr<CommitResult> PgIngestRepository::Commit(std::vector<ReportToCommit>& batch,
                                                        absl::Time received_at) {
  if (batch.empty()) return CommitResult{};
  EnsurePartitions(received_at);
  if (write_caches_.size() + written_stored_.size() + workload_rows_.size() > kMaxCached) {
    DropCaches();
  }
  absl::StatusOr<CommitResult> result;
  absl::Status status = InTransaction([&]() -> absl::Status {
    PROV_RETURN_IF_ERROR(LockAndRead(batch));
    result = planner_.Plan(batch, received_at, *this, write_caches_, plan_);
    PROV_RETURN_IF_ERROR(result.status());
    PROV_RETURN_IF_ERROR(WritePlan());
    // Last, after every node lock of the batch is held: batch_id order is then each node's
    // commit order (pg_ingest_batches.h).
    if (options_.batch_record && result->stored > 0) {
      PROV_RETURN_IF_ERROR(AppendIngestBatch(*conn_, absl::ToUnixMicros(received_at),
                                             static_cast<int64_t>(result->stored),
                                             options_.batch_record(batch, *result)));
    }
    if (options_.before_commit) options_.before_commit();
    return absl::OkStatus();
  });
  if (!status.ok()) {
    DropCaches();
    return status;
  }
  for (const PlannedNode& n : plan_.nodes) {
    written_stored_[n.node] = node_rows_[n.node].reports_stored + n.stored;
  }
  return result;
}

absl::Status PgIngestRepository::LockAndRead(const std::vector<ReportToCommit>& batch) {
  node_ids_.clear();
  node_rows_.clear();
  streams_.clear();
  horizons_.clear();
  // The batch's nodes, each with the collected_at of its first report (the planner's Node()).
  std::vector<std::pair<absl::string_view, int64_t>> nodes;
  {
    absl::flat_hash_set<absl::string_view> seen;
    for (const ReportToCommit& item : batch) {
      const absl::string_view id = item.report->node().node_id();
      if (seen.insert(id).second) nodes.emplace_back(id, ToUnixMicros(item.report->collected_at()));
    }
  }
  std::sort(nodes.begin(), nodes.end());  // byte order, as COLLATE "C"
  for (PgArray& a : a_) a.Clear();
  for (const auto& [id, seen_us] : nodes) {
    a_[0].AddText(id);
    a_[1].Add(seen_us);
  }
  PROV_RETURN_IF_ERROR(RunArrays(*conn_, kCreateNodes, a_, 2).status());
  PROV_ASSIGN_OR_RETURN(PgResult locked, RunArrays(*conn_, kLockNodes, a_, 1));
  bool foreign = false;
  for (int i = 0; i < locked.rows(); ++i) {
    NodeRow row;
    PROV_ASSIGN_OR_RETURN(row.id, locked.Int64(i, 0));
    PROV_ASSIGN_OR_RETURN(row.last_seen_us, locked.Int64(i, 2));
    PROV_ASSIGN_OR_RETURN(row.reports_stored, locked.Int64(i, 3));
    node_ids_.emplace(locked.Text(i, 1), row.id);
    node_rows_.emplace(row.id, row);
    horizons_.emplace(row.id, NodeCredit{});
    auto written = written_stored_.find(row.id);
    if (written != written_stored_.end() && written->second != row.reports_stored) foreign = true;
  }
  if (node_ids_.size() != nodes.size()) {
    return absl::InternalError(
        absl::StrCat("locked ", node_ids_.size(), " of the batch's ", nodes.size(), " nodes rows"));
  }
  // Another writer stored reports of one of these nodes since our last commit: what the write
  // caches say was written may have been overwritten.
  if (foreign) DropCaches();

  a_[0].Clear();
  a_[1].Clear();
  for (const ReportToCommit& item : batch) {
    const int64_t node = node_ids_.find(item.report->node().node_id())->second;
    const absl::string_view boot = item.report->node().boot_id();
    if (streams_.contains(RowKeyView(node, boot))) continue;
    streams_.emplace(RowKey(node, std::string(boot)), StreamState{});
    a_[0].Add(node);
    a_[1].AddText(boot);
  }
  PROV_ASSIGN_OR_RETURN(PgResult streams, RunArrays(*conn_, kReadStreams, a_, 2));
  for (int i = 0; i < streams.rows(); ++i) {
    PROV_ASSIGN_OR_RETURN(int64_t node, streams.Int64(i, 0));
    const std::string boot = streams.Text(i, 1);
    auto it = streams_.find(RowKeyView(node, boot));
    if (it == streams_.end()) {
      return absl::InternalError(
          absl::StrCat("read stream (", node, ", ", boot, ") not asked for"));
    }
    StreamState& s = it->second;
    PROV_ASSIGN_OR_RETURN(int64_t max_seq, streams.Int64(i, 2));
    s.max_seq = static_cast<uint64_t>(max_seq);
    PROV_ASSIGN_OR_RETURN(s.credit.credited_until_us, streams.Int64(i, 3));
    PROV_ASSIGN_OR_RETURN(s.credit.last_collected_us, streams.Int64(i, 4));
    PROV_ASSIGN_OR_RETURN(s.credit.first_credit_us, streams.Int64(i, 5));
  }

  a_[0].Clear();
  for (const auto& [id, row] : node_rows_) a_[0].Add(id);
  PROV_ASSIGN_OR_RETURN(PgResult horizons, RunArrays(*conn_, kReadHorizons, a_, 1));
  for (int i = 0; i < horizons.rows(); ++i) {
    PROV_ASSIGN_OR_RETURN(int64_t node, horizons.Int64(i, 0));
    NodeCredit& c = horizons_[node];
    PROV_ASSIGN_OR_RETURN(c.horizon_us, horizons.Int64(i, 1));
    PROV_ASSIGN_OR_RETURN(c.newest_boot_us, horizons.Int64(i, 2));
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> PgIngestRepository::Node(absl::string_view node_id, int64_t) {
  auto it = node_ids_.find(node_id);
  if (it == node_ids_.end()) {
    return absl::InternalError(absl::StrCat("node ", node_id, " was not locked for this batch"));
  }
  return it->second;
}

absl::StatusOr<StreamState*> PgIngestRepository::Stream(int64_t node, absl::string_view boot_id) {
  auto it = streams_.find(RowKeyView(node, boot_id));
  if (it == streams_.end()) {
    return absl::InternalError(
        absl::StrCat("stream (", node, ", ", boot_id, ") was not read for this batch"));
  }
  return &it->second;
}

absl::StatusOr<NodeCredit*> PgIngestRepository::Horizon(int64_t node) {
  auto it = horizons_.find(node);
  if (it == horizons_.end()) {
    return absl::InternalError(absl::StrCat("node ", node, "'s horizon was not read"));
  }
  return &it->second;
}

absl::StatusOr<int64_t> PgIngestRepository::NodeLastSeen(int64_t node) {
  auto it = node_rows_.find(node);
  if (it == node_rows_.end()) {
    return absl::InternalError(absl::StrCat("node ", node, " was not locked for this batch"));
  }
  return it->second.last_seen_us;
}

absl::StatusOr<bool> PgIngestRepository::WorkloadSeenSince(int64_t node,
                                                           absl::string_view workload_id,
                                                           int64_t since_us) {
  PROV_ASSIGN_OR_RETURN(PgResult r,
                        conn_->Query("SELECT last_seen_us FROM workloads WHERE node = $1 AND "
                                     "workload_id = $2",
                                     {node, workload_id}));
  if (r.rows() == 0) return false;
  PROV_ASSIGN_OR_RETURN(int64_t last_seen_us, r.Int64(0, 0));
  return last_seen_us >= since_us;
}

absl::Status PgIngestRepository::WritePlan() {
  PROV_RETURN_IF_ERROR(WriteReports());
  PROV_RETURN_IF_ERROR(WriteStreamsAndNodes());
  PROV_RETURN_IF_ERROR(WriteAccelerators());
  PROV_RETURN_IF_ERROR(WriteWorkloads());
  return WriteAccountHours();
}

absl::Status PgIngestRepository::WriteReports() {
  if (!plan_.reports.empty()) {
    for (PgArray& a : a_) a.Clear();
    for (const PlannedReport& p : plan_.reports) {
      a_[0].Add(p.node);
      a_[1].AddText(p.boot_id);
      a_[2].Add(static_cast<int64_t>(p.seq));
      a_[3].Add(p.collected_us);
      a_[4].Add(p.interval_seconds);
      a_[5].Add(p.size_bytes);
      a_[6].Add(p.accelerator_count);
      a_[7].Add(p.sample_count);
      a_[8].Add(p.workload_count);
      a_[9].AddDouble(p.credited_seconds);
    }
    PROV_RETURN_IF_ERROR(RunArrays(*conn_, kInsertReports, a_, 10, {plan_.received_us}).status());
  }
  if (plan_.evidence_gaps.empty()) return absl::OkStatus();
  for (PgArray& a : a_) a.Clear();
  for (const PlannedEvidenceGap& g : plan_.evidence_gaps) {
    a_[0].Add(g.node);
    a_[1].AddText(g.boot_id);
    a_[2].Add(static_cast<int64_t>(g.seq));
    a_[3].Add(g.start_us);
    a_[4].Add(g.end_us);
    a_[5].Add(g.claimed_interval_seconds);
    a_[6].AddDouble(g.gap_seconds);
    a_[7].AddDouble(g.accelerator_seconds);
    a_[8].AddDouble(g.flop_high);
  }
  return RunArrays(*conn_, kInsertGaps, a_, 9).status();
}

absl::Status PgIngestRepository::WriteStreamsAndNodes() {
  if (!plan_.streams.empty()) {
    for (PgArray& a : a_) a.Clear();
    for (const PlannedStream& s : plan_.streams) {
      a_[0].Add(s.node);
      a_[1].AddText(s.boot_id);
      a_[2].Add(static_cast<int64_t>(s.state.max_seq));
      a_[3].Add(s.state.credit.credited_until_us);
      a_[4].Add(s.state.credit.last_collected_us);
      a_[5].Add(s.state.credit.first_credit_us);
    }
    PROV_RETURN_IF_ERROR(RunArrays(*conn_, kUpsertStreams, a_, 6).status());
  }
  // Before the nodes rows are updated: a change records the node's previous last_seen_us.
  for (const PlannedNode& n : plan_.nodes) {
    if (n.check_hardware) {
      PROV_RETURN_IF_ERROR(PgRecordNodeHardware(*conn_, write_caches_.node_hardware, n.node,
                                                *n.latest, n.latest_seen_us));
    }
    if (n.check_location_responder) {
      PROV_RETURN_IF_ERROR(PgRecordLocationResponder(*conn_, write_caches_.location_responders,
                                                     n.node, n.latest->node().location_responder(),
                                                     n.latest_seen_us));
    }
  }
  if (plan_.nodes.empty()) return absl::OkStatus();
  for (PgArray& a : a_) a.Clear();
  for (const PlannedNode& n : plan_.nodes) {
    a_[0].Add(n.node);
    a_[1].AddText(n.hostname);
    a_[2].AddText(n.datacenter);
    a_[3].AddText(n.region);
    a_[4].AddText(n.agent_version);
    a_[5].AddText(n.boot_id);
    a_[6].Add(n.latest_seen_us);
    a_[7].Add(static_cast<int64_t>(n.seq));
    a_[8].Add(n.accelerator_count);
    a_[9].Add(n.workload_count);
    a_[10].Add(n.stored);
    a_[11].Add(n.first_seen_us);
    a_[12].Add(n.has_health ? 1 : 0);
    a_[13].Add(n.spool_depth);
    a_[14].Add(n.dropped_reports);
    a_[15].Add(n.unreadable_reports);
    a_[16].Add(n.rejected_reports);
    a_[17].Add(n.collector_errors);
    a_[18].Add(n.nvml_available ? 1 : 0);
    a_[19].Add(n.strings_repaired);
    a_[20].Add(n.strings_truncated);
  }
  return RunArrays(*conn_, kUpdateNodes, a_, 21, {plan_.received_us}).status();
}

absl::Status PgIngestRepository::WriteAccelerators() {
  if (plan_.accelerators.empty()) return absl::OkStatus();
  for (PgArray& a : a_) a.Clear();
  for (const PlannedAccelerator& x : plan_.accelerators) {
    a_[0].Add(x.node);
    a_[1].AddText(x.pci_address);
    a_[2].Add(x.vendor_id);
    a_[3].Add(x.device_id);
    a_[4].AddText(x.vendor);
    a_[5].AddText(x.model);
    a_[6].Add(x.model_known ? 1 : 0);
    a_[7].AddText(x.uuid);
    a_[8].AddText(x.serial);
    a_[9].AddBytes(x.accelerator);
    a_[10].Add(x.seen_us);
  }
  return RunArrays(*conn_, kUpsertAccelerators, a_, 11).status();
}

absl::Status PgIngestRepository::WriteWorkloads() {
  full_workloads_.clear();
  for (PgArray& a : a_) a.Clear();
  for (const PlannedWorkload& w : plan_.workloads) {
    auto cached = workload_rows_.find(RowKeyView(w.node, w.workload_id));
    if (cached == workload_rows_.end() || cached->second.hash != w.described) {
      full_workloads_.push_back(&w);
      continue;
    }
    a_[0].Add(cached->second.id);
    a_[1].Add(w.node);
    a_[2].AddText(w.workload_id);
    a_[3].AddDouble(w.seconds);
    a_[4].AddDouble(w.flop_low);
    a_[5].AddDouble(w.flop_high);
    a_[6].AddText(w.method);
    a_[7].Add(w.first_seen_us);
    a_[8].Add(w.last_seen_us);
    a_[9].AddDouble(w.gap_seconds);
  }
  if (a_[0].size() > 0) {
    PROV_ASSIGN_OR_RETURN(PgResult added, RunArrays(*conn_, kAddToWorkloads, a_, 10));
    if (added.rows() != static_cast<int>(a_[0].size())) {
      // A row is not there after all: write those whole (the others are done).
      absl::flat_hash_set<int64_t> done;
      for (int i = 0; i < added.rows(); ++i) {
        PROV_ASSIGN_OR_RETURN(int64_t id, added.Int64(i, 0));
        done.insert(id);
      }
      for (const PlannedWorkload& w : plan_.workloads) {
        auto cached = workload_rows_.find(RowKeyView(w.node, w.workload_id));
        if (cached == workload_rows_.end() || cached->second.hash != w.described) continue;
        if (done.contains(cached->second.id)) continue;
        workload_rows_.erase(cached);
        full_workloads_.push_back(&w);
      }
    }
  }
  if (!full_workloads_.empty()) {
    for (PgArray& a : a_) a.Clear();
    for (const PlannedWorkload* w : full_workloads_) {
      a_[0].Add(w->node);
      a_[1].AddText(w->workload_id);
      a_[2].Add(w->kind);
      a_[3].AddText(w->account);
      a_[4].Add(w->attribution_source);
      a_[5].Add(w->workload_class);
      a_[6].AddDouble(w->class_confidence);
      a_[7].AddText(w->launcher);
      a_[8].Add(w->accelerator_count);
      a_[9].AddText(w->accelerator_model);
      a_[10].Add(w->first_seen_us);
      a_[11].Add(w->last_seen_us);
      a_[12].AddDouble(w->seconds);
      a_[13].AddDouble(w->flop_low);
      a_[14].AddDouble(w->flop_high);
      a_[15].AddText(w->method);
      a_[16].AddDouble(w->gap_seconds);
    }
    PROV_ASSIGN_OR_RETURN(PgResult rows, RunArrays(*conn_, kUpsertWorkloads, a_, 17));
    // The descriptive columns are this batch's exactly when the row's last_seen_us is this
    // batch's (the upsert takes them when excluded.last_seen_us >= the stored one).
    absl::flat_hash_map<RowKeyView, const PlannedWorkload*, RowKeyHash, RowKeyEq> planned;
    for (const PlannedWorkload* w : full_workloads_) {
      planned.emplace(RowKeyView(w->node, w->workload_id), w);
    }
    for (int i = 0; i < rows.rows(); ++i) {
      PROV_ASSIGN_OR_RETURN(int64_t node, rows.Int64(i, 0));
      const std::string workload_id = rows.Text(i, 1);
      PROV_ASSIGN_OR_RETURN(int64_t id, rows.Int64(i, 2));
      PROV_ASSIGN_OR_RETURN(int64_t last_seen_us, rows.Int64(i, 3));
      auto w = planned.find(RowKeyView(node, workload_id));
      if (w == planned.end()) continue;
      if (last_seen_us == w->second->last_seen_us) {
        workload_rows_[RowKey(node, workload_id)] = {w->second->described, id};
      } else {
        workload_rows_.erase(RowKeyView(node, workload_id));  // a newer report's: unknown here
      }
    }
  }
  if (plan_.workload_details.empty()) return absl::OkStatus();
  for (PgArray& a : a_) a.Clear();
  for (const PlannedWorkloadDetails& d : plan_.workload_details) {
    a_[0].Add(d.node);
    a_[1].AddText(d.workload_id);
    a_[2].Add(d.seen_us);
    a_[3].AddBytes(d.workload);
  }
  return RunArrays(*conn_, kUpsertWorkloadDetails, a_, 4).status();
}

absl::Status PgIngestRepository::WriteAccountHours() {
  if (plan_.account_hours.empty()) return absl::OkStatus();
  // In (account, hour) order: these rows are shared by every node's batches, so replicas must
  // lock them in one order (no deadlock).
  std::vector<const PlannedAccountHour*> hours;
  hours.reserve(plan_.account_hours.size());
  for (const PlannedAccountHour& h : plan_.account_hours) hours.push_back(&h);
  std::sort(hours.begin(), hours.end(),
            [](const PlannedAccountHour* a, const PlannedAccountHour* b) {
              return std::tie(a->account, a->hour_us) < std::tie(b->account, b->hour_us);
            });
  for (PgArray& a : a_) a.Clear();
  for (const PlannedAccountHour* h : hours) {
    a_[0].AddText(h->account);
    a_[1].Add(h->hour_us);
    a_[2].AddDouble(h->seconds);
    a_[3].AddDouble(h->training);
    a_[4].AddDouble(h->inference);
    a_[5].AddDouble(h->flop_low);
    a_[6].AddDouble(h->flop_high);
    a_[7].AddText(h->method);
    a_[8].AddDouble(h->gap_seconds);
  }
  return RunArrays(*conn_, kUpsertAccountHours, a_, 9).status();
}

absl::StatusOr<std::vector<NodeRejectionState>> PgIngestRepository::RecordRejections(
    absl::Span<const NodeRejections> nodes) {
  std::vector<NodeRejectionState> states;
  if (nodes.empty()) return states;
  // A node id holding a NUL byte (from a refused report) has no row and cannot be a text
  // parameter: left out, so it cannot fail the other nodes' updates. NULs in a reason (agent
  // bytes quoted in a message) are written as "\0".
  std::vector<absl::string_view> ids;
  ids.reserve(nodes.size());
  for (const NodeRejections& n : nodes) {
    if (!absl::StrContains(n.node_id, '\0')) ids.push_back(n.node_id);
  }
  std::sort(ids.begin(), ids.end());
  PROV_RETURN_IF_ERROR(InTransaction([&]() -> absl::Status {
    states.clear();
    // Locked in node_id order first, as Commit locks them: no deadlock with a replica's batch.
    a_[0].Clear();
    for (absl::string_view id : ids) a_[0].AddText(id);
    PROV_RETURN_IF_ERROR(RunArrays(*conn_, kLockNodes, a_, 1).status());
    for (const NodeRejections& n : nodes) {
      if (absl::StrContains(n.node_id, '\0')) continue;
      const std::string reason =
          absl::StrReplaceAll(n.last_reason, {{absl::string_view("\0", 1), "\\0"}});
      PROV_ASSIGN_OR_RETURN(
          PgResult r,
          conn_->Query(kRecordRejections, {n.node_id, n.count, absl::ToUnixMicros(n.last_at),
                                           reason, absl::ToUnixMicros(n.first_at)}));
      if (r.rows() == 0) continue;  // a node id with no record
      NodeRejectionState& st = states.emplace_back();
      st.node_id = n.node_id;
      st.count = n.count;
      PROV_ASSIGN_OR_RETURN(st.reports_rejected, r.Int64(0, 0));
      PROV_ASSIGN_OR_RETURN(int64_t last_us, r.Int64(0, 1));
      st.last_rejected = absl::FromUnixMicros(last_us);
      st.last_rejection = r.Text(0, 2);
      PROV_ASSIGN_OR_RETURN(int64_t since, r.Int64(0, 3));
      st.rejecting_since = since > 0 ? absl::FromUnixMicros(since) : absl::InfinitePast();
    }
    return absl::OkStatus();
  }));
  return states;
}

}  // namespace prov::server
