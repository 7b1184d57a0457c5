#include "server/ingest/ingest_writer.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/log/log.h"
#include "server/ingest/ingest_stream.h"

namespace prov::server {

namespace {
constexpr absl::Duration kFailureLogEvery = absl::Seconds(10);
}  // namespace

std::vector<ReportObservation> TakeObservations(const std::vector<IngestItem>& batch,
                                                const CommitResult& result,
                                                ObservationCache* cache) {
  std::vector<ReportObservation> observations;
  observations.reserve(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    const IngestItem& item = batch[i];
    if (i < result.duplicate.size() && result.duplicate[i]) continue;
    if (!item.usage.has_value()) continue;
    observations.push_back(ObserveReport(item.report, *item.usage, cache, &item.hints));
  }
  return observations;
}

IngestWriter::IngestWriter(ReportQueue& queue, IngestRepository& store,
                           const AcceleratorCatalog& catalog, ProvdMetrics& metrics,
                           const Clock& clock, WriterOptions options)
    : queue_(queue),
      store_(store),
      catalog_(catalog),
      metrics_(metrics),
      clock_(clock),
      options_(options) {}

IngestWriter::~IngestWriter() { Join(); }

void IngestWriter::Start() {
  thread_ = std::thread([this] { Run(); });
}

void IngestWriter::Join() {
  if (thread_.joinable()) thread_.join();
}

void IngestWriter::Run() {
  while (true) {
    std::vector<std::shared_ptr<IngestStream>> resumed;
    std::vector<IngestItem> batch =
        queue_.PopBatch(options_.max_batch, options_.max_batch_delay, &resumed);
    for (auto& stream : resumed) stream->OnQueueSpace();
    metrics_.queue_depth.Set(static_cast<double>(queue_.depth()));
    metrics_.queue_bytes.Set(static_cast<double>(queue_.bytes()));
    DropAfterFailedCommit(batch);
    if (!batch.empty()) {
      CommitBatch(batch);
      queue_.Recycle(batch);  // the reactors parse into these messages again
    }
    RecordRejections();
    HandNodeRefusals();
    if (batch.empty() && queue_.finished()) return;  // closed and drained
  }
}

void IngestWriter::RecordRejections() {
  absl::flat_hash_map<std::string, RejectionNote> notes = queue_.TakeRejections();
  if (notes.empty()) return;
  std::vector<NodeRejections> nodes;
  nodes.reserve(notes.size());
  for (auto& [node_id, note] : notes) {
    nodes.push_back(
        {node_id, note.count, note.first_at, note.last_at, std::move(note.last_reason)});
  }
  absl::StatusOr<std::vector<NodeRejectionState>> recorded = store_.RecordRejections(nodes);
  if (!recorded.ok()) {
    // The rejections were answered and counted already; only the node records miss them.
    LogCommitFailure(recorded.status(), metrics_.CommitFailed(recorded.status()),
                     absl::StrCat("recording rejections of ", nodes.size(), " nodes"));
    return;
  }
  if (!options_.on_node_events || recorded->empty()) return;
  std::vector<NodeEvent> events;
  events.reserve(recorded->size());
  for (NodeRejectionState& st : *recorded) {
    NodeEvent& e = events.emplace_back();
    e.kind = NodeEvent::Kind::kRejections;
    e.count = st.count;
    e.node_id = std::move(st.node_id);
    e.time = st.last_rejected;
    e.total = st.reports_rejected;
    e.since = st.rejecting_since;
    e.detail = std::move(st.last_rejection);
  }
  options_.on_node_events(std::move(events));
}

void IngestWriter::LogCommitFailure(const absl::Status& status, const char* reason,
                                    const std::string& what) {
  ++failing_;
  ++unlogged_;
  const absl::Time now = clock_.Now();
  if (now - last_failure_log_ < kFailureLogEvery) return;
  std::string folded;
  if (unlogged_ > 1) folded = absl::StrCat(" (", unlogged_, " failures since the last line)");
  const bool disk_full = absl::IsResourceExhausted(status);
  // Rate-limited here (one line per kFailureLogEvery, failures folded), so the log's own
  // per-statement limit never hides the first line of a new failure.
  PROV_LOG_ERROR("ingest",
                 absl::StrCat(what, " failed [", reason, "]", folded, ": ", status.message(),
                              disk_full ? "; the data dir's file system is full: agents keep their "
                                          "reports and resend them, ingest resumes by itself once "
                                          "space is freed"
                                        : ""));
  last_failure_log_ = now;
  unlogged_ = 0;
}

void IngestWriter::LogCommitRecovered() {
  if (failing_ == 0) return;
  PROV_LOG_INFO("ingest",
                absl::StrCat("commits succeed again after ", failing_, " failed store writes"));
  failing_ = 0;
  unlogged_ = 0;
  last_failure_log_ = absl::InfinitePast();
}

void IngestWriter::HandNodeRefusals() {
  std::vector<NodeRefusalNote> refusals = queue_.TakeNodeRefusals();
  if (refusals.empty() || !options_.on_node_refusals) return;
  options_.on_node_refusals(std::move(refusals));
}

void IngestWriter::DropAfterFailedCommit(std::vector<IngestItem>& batch) {
  auto failed = [](const IngestItem& item) {
    return item.stream != nullptr && item.stream->commit_failed();
  };
  // Almost every batch has none: only then partition (stable_partition allocates a buffer).
  if (std::none_of(batch.begin(), batch.end(), failed)) return;
  auto first = std::stable_partition(batch.begin(), batch.end(),
                                     [&](const IngestItem& item) { return !failed(item); });
  for (auto it = first; it != batch.end(); ++it) it->stream->OnCommitFailed(1);
  metrics_.reports_dropped_after_failure.Increment(static_cast<double>(batch.end() - first));
  batch.erase(first, batch.end());
}

void IngestWriter::CommitBatch(std::vector<IngestItem>& batch) {
  std::vector<ReportToCommit> items(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    items[i].report = &batch[i].report;
    items[i].size_bytes = batch[i].size_bytes;
    items[i].usage = batch[i].usage ? std::move(*batch[i].usage)
                                    : ComputeUsage(batch[i].report, catalog_, options_.ledger);
  }
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<CommitResult> result = store_.Commit(items, clock_.Now());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (size_t i = 0; i < batch.size(); ++i) batch[i].usage = std::move(items[i].usage);  // recycled
  if (result.ok() && options_.on_committed) options_.on_committed(batch, *result);

  // Reports the store refused (an implausible seq jump): counted, noted on the node's record and
  // answered with a Rejection on their stream; never acked (the high-water mark did not move).
  std::vector<const std::string*> refused;
  if (result.ok() && !result->rejected.empty()) {
    refused.assign(batch.size(), nullptr);
    const absl::Time now = clock_.Now();
    for (const auto& [index, message] : result->rejected) {
      refused[index] = &message;
      metrics_.Rejected("seq");
      queue_.NoteRejection(batch[index].report.node().node_id(), now, message);
    }
  }

  // Group per stream: how many of its reports, and the highest committed seq per boot. One flat
  // list sorted by (stream, boot), then folded: no per-stream maps or string copies; the boot ids
  // are views into the batch's reports, which outlive the OnCommitted calls.
  struct Entry {
    IngestStream* stream;
    absl::string_view boot_id;
    uint64_t seq;  // the (node, boot) high-water mark after the commit
    bool has_seq;  // false: the commit failed or reported no mark for it (nothing to ack)
    const IngestItem* item;
    const std::string* refused;  // set: the store refused this report with this message
  };
  std::vector<Entry> entries;
  entries.reserve(batch.size());
  for (const IngestItem& item : batch) {
    if (item.stream == nullptr) continue;
    const absl::string_view boot_id = item.report.node().boot_id();
    uint64_t seq = 0;
    bool has_seq = false;
    if (result.ok()) {
      auto hw = result->high_water.find(StreamKeyView(item.report.node().node_id(), boot_id));
      if (hw != result->high_water.end()) {
        seq = hw->second;
        has_seq = true;
      }
    }
    const std::string* why = refused.empty() ? nullptr : refused[&item - batch.data()];
    entries.push_back({item.stream.get(), boot_id, seq, has_seq, &item, why});
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    if (a.stream != b.stream) return std::less<const IngestStream*>()(a.stream, b.stream);
    return a.boot_id < b.boot_id;
  });

  if (!result.ok()) {
    LogCommitFailure(result.status(), metrics_.CommitFailed(result.status()),
                     absl::StrCat("commit of ", batch.size(), " reports (nothing acked)"));
    for (size_t i = 0; i < entries.size();) {
      size_t j = i;
      while (j < entries.size() && entries[j].stream == entries[i].stream) ++j;
      entries[i].item->stream->OnCommitFailed(static_cast<int>(j - i));
      i = j;
    }
    return;
  }
  LogCommitRecovered();
  metrics_.commit_latency_seconds.Observe(seconds);
  metrics_.commit_batch_reports.Observe(static_cast<double>(batch.size()));
  metrics_.reports_ingested.Increment(static_cast<double>(result->stored));
  metrics_.reports_duplicate.Increment(static_cast<double>(result->duplicates));
  metrics_.ledger_claimed_seconds.Increment(result->claimed_seconds);
  metrics_.ledger_credited_seconds.Increment(result->credited_seconds);
  metrics_.ledger_evidence_gaps.Increment(static_cast<double>(result->evidence_gaps));
  metrics_.ledger_evidence_gap_seconds.Increment(result->gap_seconds);
  metrics_.ledger_clock_bound.Increment(static_cast<double>(result->clock_bound));
  metrics_.ledger_lag_floor.Increment(static_cast<double>(result->lag_floor));
  std::vector<std::pair<absl::string_view, uint64_t>> acks;
  std::vector<std::pair<absl::string_view, provenance::v1::Rejection>> rejected;
  for (size_t i = 0; i < entries.size();) {
    size_t j = i;
    acks.clear();
    rejected.clear();
    for (; j < entries.size() && entries[j].stream == entries[i].stream; ++j) {
      if (entries[j].refused != nullptr) {
        provenance::v1::Rejection& r =
            rejected.emplace_back(entries[j].boot_id, provenance::v1::Rejection()).second;
        r.set_seq(entries[j].item->report.seq());
        r.set_code(3);  // INVALID_ARGUMENT
        r.set_message(*entries[j].refused);
      }
      if (!entries[j].has_seq) continue;
      if (acks.empty() || acks.back().first != entries[j].boot_id) {
        acks.emplace_back(entries[j].boot_id, entries[j].seq);
      } else {
        acks.back().second = std::max(acks.back().second, entries[j].seq);
      }
    }
    entries[i].item->stream->OnCommitted(acks, static_cast<int>(j - i), rejected);
    i = j;
  }
}

}  // namespace prov::server
