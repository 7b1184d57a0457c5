#include "server/ingest/ingest_writer.h"

#include <chrono>
#include <cstdio>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "server/ingest/report_stream.h"

namespace prov::server {

IngestWriter::IngestWriter(ReportQueue& queue, Store& store, const AcceleratorCatalog& catalog,
                           ProvdMetrics& metrics, const Clock& clock, WriterOptions options)
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
    std::vector<std::shared_ptr<ReportStream>> resumed;
    std::vector<IngestItem> batch =
        queue_.PopBatch(options_.max_batch, options_.max_batch_delay, &resumed);
    for (auto& stream : resumed) stream->OnQueueSpace();
    metrics_.queue_depth.Set(static_cast<double>(queue_.depth()));
    if (batch.empty()) return;  // closed and drained
    CommitBatch(batch);
    queue_.Recycle(batch);  // the reactors parse into these messages again
  }
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

  // Group per stream: how many of its reports, and the highest committed seq per boot.
  struct StreamAcks {
    std::shared_ptr<ReportStream> stream;
    int reports = 0;
    absl::flat_hash_map<std::string, uint64_t> seq_by_boot;
  };
  absl::flat_hash_map<ReportStream*, StreamAcks> per_stream;
  for (IngestItem& item : batch) {
    if (item.stream == nullptr) continue;
    StreamAcks& acks = per_stream[item.stream.get()];
    if (acks.stream == nullptr) acks.stream = item.stream;
    ++acks.reports;
    if (result.ok()) {
      const absl::string_view boot_id = item.report.node().boot_id();
      auto hw = result->high_water.find(StreamKeyView(item.report.node().node_id(), boot_id));
      if (hw != result->high_water.end()) {
        auto seq = acks.seq_by_boot.find(boot_id);  // heterogeneous: no copy per report
        if (seq == acks.seq_by_boot.end()) {
          seq = acks.seq_by_boot.emplace(std::string(boot_id), 0).first;
        }
        seq->second = std::max(seq->second, hw->second);
      }
    }
  }

  if (!result.ok()) {
    metrics_.commit_failures.Increment();
    std::fprintf(stderr, "provd: commit of %zu reports failed, nothing acked: %s\n", batch.size(),
                 std::string(result.status().message()).c_str());
    for (auto& [raw, acks] : per_stream) acks.stream->OnCommitFailed(acks.reports);
    return;
  }
  metrics_.commit_latency_seconds.Observe(seconds);
  metrics_.commit_batch_reports.Observe(static_cast<double>(batch.size()));
  metrics_.reports_ingested.Increment(static_cast<double>(result->stored));
  metrics_.reports_duplicate.Increment(static_cast<double>(result->duplicates));
  for (auto& [raw, acks] : per_stream) {
    std::vector<std::pair<std::string, uint64_t>> list(acks.seq_by_boot.begin(),
                                                       acks.seq_by_boot.end());
    acks.stream->OnCommitted(list, acks.reports);
  }
}

}  // namespace prov::server
