#include "server/analysis/ingest_feed.h"

#include <utility>
#include <vector>

#include "common/log/log.h"
#include "server/analysis/observation_record.h"

namespace prov::server {

IngestFeed::IngestFeed(AnalysisEngine& engine, std::unique_ptr<IngestBatchSource> source,
                       IngestFeedOptions options)
    : engine_(engine), source_(std::move(source)), options_(std::move(options)) {}

IngestFeed::~IngestFeed() { Stop(); }

void IngestFeed::Start() {
  if (thread_.joinable()) return;
  {
    absl::MutexLock lock(&mu_);
    stop_ = false;
    woken_ = false;
  }
  thread_ = std::thread([this] { Run(); });
}

void IngestFeed::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void IngestFeed::Wake() {
  absl::MutexLock lock(&mu_);
  woken_ = true;
}

IngestFeedCounters IngestFeed::counters() const {
  absl::MutexLock lock(&mu_);
  return counters_;
}

bool IngestFeed::running() const { return thread_.joinable(); }

bool IngestFeed::stopping() const {
  absl::MutexLock lock(&mu_);
  return stop_;
}

bool IngestFeed::Wait() {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stop_ || woken_; };
  mu_.AwaitWithTimeout(absl::Condition(&ready), options_.poll);
  woken_ = false;
  return !stop_;
}

void IngestFeed::Run() {
  const Clock& clock = options_.clock != nullptr ? *options_.clock : RealClock::Get();
  IngestPosition position;
  while (true) {  // the position the Lead loaded
    if (stopping()) return;
    absl::StatusOr<std::optional<IngestPosition>> lead = engine_.WaitLeadPosition(options_.poll);
    if (lead.ok()) {
      position = lead->value_or(IngestPosition{});
      break;
    }
    if (!absl::IsDeadlineExceeded(lead.status())) {
      // CANCELLED: not leading (yet, or any more); else the Lead's reload failed (the engine
      // retries it on its tick).
      PROV_LOG_WARN("analysis-feed", "waiting for the engine to lead", {"status", lead.status()});
      if (!Wait()) return;
    }
  }
  while (!stopping()) {
    absl::StatusOr<IngestBatchRead> read = source_->Read(position, options_.limit);
    if (!read.ok()) {
      PROV_LOG_WARN("analysis-feed", "reading the ingest batch log failed (retried)",
                    {"error", read.status()});
      {
        absl::MutexLock lock(&mu_);
        ++counters_.read_errors;
      }
      if (!Wait()) return;
      continue;
    }
    std::vector<ReportObservation> observations;
    std::vector<NodeEvent> events;
    uint64_t decode_errors = 0;
    for (const IngestBatch& b : read->batches) {
      absl::StatusOr<LoggedRecord> decoded = DecodeLoggedRecord(b.record);
      if (!decoded.ok()) {
        ++decode_errors;
        PROV_LOG_ERROR("analysis-feed", "an ingest batch's record does not decode (skipped)",
                       {"batch_id", b.batch_id}, {"error", decoded.status()});
        continue;
      }
      for (ReportObservation& o : decoded->observations) observations.push_back(std::move(o));
      for (NodeEvent& e : decoded->events) events.push_back(std::move(e));
    }
    const double lag =
        read->caught_up || read->batches.empty()
            ? 0
            : absl::ToDoubleSeconds(clock.Now() -
                                    absl::FromUnixMicros(read->batches.front().received_us));
    {
      absl::MutexLock lock(&mu_);
      counters_.batches += read->batches.size();
      counters_.reports += observations.size();
      counters_.node_events += events.size();
      counters_.decode_errors += decode_errors;
      counters_.seen = read->position.seen.size();
      counters_.lag_seconds = lag;
    }
    position = read->position;
    // Only a read that returned batches moves what a successor must not read again.
    if (!read->batches.empty()) {
      engine_.SubmitLogged(std::move(observations), std::move(events), position);
    }
    if (read->caught_up && !Wait()) return;
  }
}

}  // namespace prov::server
