#include "server/store/ingest_planner.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/store/node_hardware_key.h"

namespace prov::server {
namespace {

using provenance::v1::NodeReport;

constexpr int64_t kMicrosPerHour = int64_t{3600} * 1000 * 1000;
constexpr int64_t kAcceleratorRefreshUs = 60'000'000;  // last_seen granularity of accelerators

// An agent's uint64 counter as a signed 64-bit column (the validator bounds them; belt and braces).
int64_t SaturatedInt64(uint64_t v) {
  return v > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(v);
}

// The write caches' hash of serialized bytes.
size_t BytesHash(absl::string_view bytes) { return absl::HashOf(bytes); }

}  // namespace

int64_t ToUnixMicros(const google::protobuf::Timestamp& ts) {
  return ts.seconds() * 1000000 + ts.nanos() / 1000;
}

// What one batch adds, folded per row so each row is written once per batch.
struct IngestPlanner::Batch {
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
  // One workloads row's part of a batch.
  struct Workload {
    const provenance::v1::Workload* latest = nullptr;
    const WorkloadUsage* latest_usage = nullptr;
    int64_t first_seen_us = 0;
    int64_t last_seen_us = 0;
    double seconds = 0, flop_low = 0, flop_high = 0, gap_seconds = 0;
    std::string method;
  };
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
};

absl::StatusOr<CommitResult> IngestPlanner::Plan(std::vector<ReportToCommit>& batch_items,
                                                 absl::Time received_at, IngestStateSource& state,
                                                 IngestWriteCaches& caches, IngestPlan& plan) {
  plan.Clear();
  CommitResult result;
  result.duplicate.assign(batch_items.size(), false);
  batch_received_us_ = absl::ToUnixMicros(received_at);
  plan.received_us = batch_received_us_;
  if (batch_items.empty()) return result;
  Batch batch;
  batch.nodes.reserve(last_nodes_);
  batch.accelerators.reserve(last_accelerators_);
  batch.workloads.reserve(last_workloads_);
  plan.reports.reserve(batch_items.size());
  absl::Status status;
  for (size_t i = 0; i < batch_items.size() && status.ok(); ++i) {
    status = AddReport(batch_items[i], i, state, batch, result, plan);
  }
  last_nodes_ = batch.nodes.size();
  last_accelerators_ = batch.accelerators.size();
  last_workloads_ = batch.workloads.size();
  PROV_RETURN_IF_ERROR(status);
  PlanAggregates(batch, caches, plan);
  return result;
}

absl::StatusOr<bool> IngestPlanner::SeenSince(int64_t node, absl::string_view workload_id,
                                              int64_t since_us, IngestStateSource& state,
                                              const Batch& batch) {
  auto in_batch = batch.workloads.find(RowKeyView(node, workload_id));
  if (in_batch != batch.workloads.end() && in_batch->second.last_seen_us >= since_us) {
    return true;
  }
  return state.WorkloadSeenSince(node, workload_id, since_us);
}

absl::Status IngestPlanner::CreditUsage(ReportToCommit& item, int64_t node, StreamState& stream,
                                        IngestStateSource& state, Batch& batch,
                                        CommitResult& result, IngestPlan& plan) {
  const NodeReport& r = *item.report;
  PROV_ASSIGN_OR_RETURN(NodeCredit * node_credit, state.Horizon(node));
  CreditInput in;
  in.collected_us = ToUnixMicros(r.collected_at());
  in.received_us = batch_received_us_;
  in.interval_seconds = r.interval_seconds();
  in.node_credited_until_us = node_credit->horizon_us;
  in.node_newest_boot_us = node_credit->newest_boot_us;
  const Credit credit = CreditReport(stream.credit, in, options_.credit);
  // A workload continued through a gap when it was in the previous report of this boot or, for
  // a boot's first report, in the node's newest report before it.
  int64_t since_us = stream.credit.last_collected_us;
  if (credit.gap_seconds > 0 && since_us == 0) {
    PROV_ASSIGN_OR_RETURN(since_us, state.NodeLastSeen(node));
    auto in_batch = batch.nodes.find(node);
    if (in_batch != batch.nodes.end())
      since_us = std::max(since_us, in_batch->second.latest_seen_us);
  }
  double gap_accelerator_seconds = 0, gap_flop_high = 0;
  for (WorkloadUsage& u : item.usage) {
    bool continued = false;
    if (credit.gap_seconds > 0 && since_us > 0) {
      PROV_ASSIGN_OR_RETURN(continued, SeenSince(node, u.workload_id, since_us, state, batch));
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
  PlannedEvidenceGap& gap = plan.evidence_gaps.emplace_back();
  gap.node = node;
  gap.boot_id = r.node().boot_id();
  gap.seq = r.seq();
  gap.start_us = credit.start_us;
  gap.end_us = credit.end_us;
  gap.claimed_interval_seconds = r.interval_seconds();
  gap.gap_seconds = credit.gap_seconds;
  gap.accelerator_seconds = gap_accelerator_seconds;
  gap.flop_high = gap_flop_high;
  return absl::OkStatus();
}

absl::Status IngestPlanner::AddReport(ReportToCommit& item, size_t index, IngestStateSource& state,
                                      Batch& batch, CommitResult& result, IngestPlan& plan) {
  const NodeReport& r = *item.report;
  const int64_t seen_us = ToUnixMicros(r.collected_at());
  PROV_ASSIGN_OR_RETURN(int64_t node, state.Node(r.node().node_id(), seen_us));

  // Dedup by the (node, boot) high-water mark: agents send in seq order, so seq <= max_seq has
  // been stored before (or skipped past) and is acknowledged without being stored again.
  PROV_ASSIGN_OR_RETURN(StreamState * stream, state.Stream(node, r.node().boot_id()));
  const uint64_t max_seq = stream->max_seq;
  auto found = result.high_water.find(StreamKeyView(r.node().node_id(), r.node().boot_id()));
  if (found == result.high_water.end()) {  // copies the strings once per stream and batch
    found = result.high_water.emplace(StreamKey(r.node().node_id(), r.node().boot_id()), 0).first;
  }
  uint64_t& mark = found->second;
  if (r.seq() > max_seq && r.seq() - max_seq > options_.max_seq_jump) {
    // Storing it would move the high-water mark there, and the node's next genuine reports
    // (lower seqs) would then be acked as duplicates without being stored.
    result.duplicate[index] = true;  // not stored
    result.rejected.emplace_back(
        index,
        absl::StrCat("seq: ", r.seq(), " is ", r.seq() - max_seq,
                     " ahead of the highest stored seq ", max_seq, " of this boot_id (at most ",
                     options_.max_seq_jump, " ahead is plausible; --max-seq-jump)"));
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
  stream->max_seq = r.seq();  // Stream() has not been called since: the pointer is still valid
  PROV_RETURN_IF_ERROR(CreditUsage(item, node, *stream, state, batch, result, plan));
  batch.streams[RowKeyView(node, r.node().boot_id())] = *stream;
  ++result.stored;

  PlannedReport& report = plan.reports.emplace_back();
  report.node = node;
  report.boot_id = r.node().boot_id();
  report.seq = r.seq();
  report.collected_us = seen_us;
  report.interval_seconds = r.interval_seconds();
  report.size_bytes = static_cast<int64_t>(item.size_bytes);
  report.accelerator_count = r.accelerators_size();
  report.sample_count = r.samples_size();
  report.workload_count = r.workloads_size();
  report.credited_seconds = item.credited_seconds;

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

void IngestPlanner::PlanAggregates(Batch& batch, IngestWriteCaches& caches, IngestPlan& plan) {
  plan.streams.reserve(batch.streams.size());
  for (const auto& [key, stream] : batch.streams) {
    plan.streams.push_back({key.first, key.second, stream});
  }

  plan.nodes.reserve(batch.nodes.size());
  for (const auto& [node, n] : batch.nodes) {
    const NodeReport& r = *n.latest;
    PlannedNode& p = plan.nodes.emplace_back();
    p.node = node;
    p.latest = &r;
    p.latest_seen_us = n.latest_seen_us;
    p.first_seen_us = n.first_seen_us;
    p.stored = n.stored;
    p.hostname = r.node().hostname();
    p.datacenter = r.node().datacenter();
    p.region = r.node().region();
    p.agent_version = r.node().agent_version();
    p.boot_id = r.node().boot_id();
    p.seq = r.seq();
    p.accelerator_count = r.accelerators_size();
    p.workload_count = r.workloads_size();
    // The agent's health as its newest report says (cumulative spool counters), and the strings
    // it had to repair or cut, summed over the stored reports.
    const provenance::v1::AgentHealth& h = r.health();
    for (const auto& e : h.collector_errors()) {
      p.collector_errors += std::max<int64_t>(1, SaturatedInt64(e.count()));
    }
    p.has_health = r.has_health();
    p.spool_depth = SaturatedInt64(h.spool_depth());
    p.dropped_reports = SaturatedInt64(h.dropped_reports());
    p.unreadable_reports = SaturatedInt64(h.unreadable_reports());
    p.rejected_reports = SaturatedInt64(h.rejected_reports());
    p.nvml_available = h.nvml_available();
    p.strings_repaired = n.strings_repaired;
    p.strings_truncated = n.strings_truncated;
    // The hot path: the stored identity and responder are the cached ones, nothing to check.
    if (r.node().has_hardware()) {
      auto cached = caches.node_hardware.find(node);
      p.check_hardware = cached == caches.node_hardware.end() ||
                         cached->second != NodeHardwareKey(r.node().hardware());
    }
    auto responder = caches.location_responders.find(node);
    p.check_location_responder = responder == caches.location_responders.end() ||
                                 responder->second != r.node().location_responder();
  }

  for (auto& [key, acc] : batch.accelerators) {
    const auto& a = *acc.latest;
    std::string& blob = plan.NextBlob();
    a.SerializeToString(&blob);
    const size_t hash = BytesHash(blob);
    auto cached = caches.accelerators.find(key);
    if (cached != caches.accelerators.end() &&
        (acc.seen_us < cached->second.seen_us ||
         (cached->second.hash == hash &&
          acc.seen_us - cached->second.seen_us < kAcceleratorRefreshUs))) {
      plan.DropLastBlob();
      continue;  // unchanged and recently written (or older than what is stored)
    }
    PlannedAccelerator& p = plan.accelerators.emplace_back();
    p.node = key.first;
    p.pci_address = a.pci_address();
    p.vendor_id = a.vendor_id();
    p.device_id = a.device_id();
    p.vendor = a.vendor().empty() ? absl::string_view("unknown") : absl::string_view(a.vendor());
    p.model = a.model().empty() ? absl::string_view("unknown") : absl::string_view(a.model());
    p.model_known = a.model_known();
    p.uuid = a.uuid();
    p.serial = a.serial();
    p.accelerator = blob;
    p.seen_us = acc.seen_us;
    if (cached != caches.accelerators.end()) {
      cached->second = {hash, acc.seen_us};
    } else {
      caches.accelerators.emplace(RowKey(key.first, key.second), CachedRow{hash, acc.seen_us});
    }
  }

  plan.workloads.reserve(batch.workloads.size());
  for (auto& [key, w] : batch.workloads) {
    const provenance::v1::Workload& latest_w = *w.latest;
    const WorkloadUsage& u = *w.latest_usage;
    PlannedWorkload& p = plan.workloads.emplace_back();
    p.node = key.first;
    p.workload_id = key.second;
    p.kind = latest_w.kind();
    p.account = u.account;
    p.attribution_source = latest_w.attribution().source();
    p.workload_class = latest_w.workload_class();
    p.class_confidence = latest_w.class_confidence();
    p.launcher = latest_w.launcher();
    p.accelerator_count = u.accelerator_count;
    p.accelerator_model = u.accelerator_model;
    p.described = absl::HashOf(static_cast<int>(latest_w.kind()), absl::string_view(u.account),
                               static_cast<int>(latest_w.attribution().source()),
                               static_cast<int>(latest_w.workload_class()),
                               latest_w.class_confidence(), absl::string_view(latest_w.launcher()),
                               u.accelerator_count, absl::string_view(u.accelerator_model));
    p.first_seen_us = w.first_seen_us;
    p.last_seen_us = w.last_seen_us;
    p.seconds = w.seconds;
    p.flop_low = w.flop_low;
    p.flop_high = w.flop_high;
    p.gap_seconds = w.gap_seconds;
    p.method = std::move(w.method);

    std::string& blob = plan.NextBlob();
    latest_w.SerializeToString(&blob);
    const size_t hash = BytesHash(blob);
    auto cached = caches.workload_details.find(key);
    if (cached != caches.workload_details.end() &&
        (cached->second.hash == hash || w.last_seen_us < cached->second.seen_us)) {
      plan.DropLastBlob();
      continue;  // the stored Workload proto is this one (or newer)
    }
    plan.workload_details.push_back({key.first, key.second, w.last_seen_us, blob});
    if (cached != caches.workload_details.end()) {
      cached->second = {hash, w.last_seen_us};
    } else {
      caches.workload_details.emplace(RowKey(key.first, key.second),
                                      CachedRow{hash, w.last_seen_us});
    }
  }

  plan.account_hours.reserve(batch.hours.size());
  for (auto& [key, h] : batch.hours) {
    PlannedAccountHour& p = plan.account_hours.emplace_back();
    p.account = key.first;
    p.hour_us = key.second;
    p.seconds = h.seconds;
    p.training = h.training;
    p.inference = h.inference;
    p.flop_low = h.flop_low;
    p.flop_high = h.flop_high;
    p.gap_seconds = h.gap_seconds;
    p.method = std::move(h.method);
  }
}

}  // namespace prov::server
