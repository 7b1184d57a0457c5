#include "server/ingest/report_queue.h"

#include <algorithm>

namespace prov::server {

ReportQueue::ReportQueue(size_t capacity) : capacity_(std::max<size_t>(capacity, 1)) {}

bool ReportQueue::PushOrPark(IngestItem item) {
  absl::MutexLock lock(&mu_);
  if (items_.size() < capacity_ && parked_.empty()) {
    items_.push_back(std::move(item));
    return true;
  }
  parked_.push_back(std::move(item));
  return false;
}

std::vector<IngestItem> ReportQueue::PopBatch(size_t max_batch, absl::Duration max_delay,
                                              std::vector<std::shared_ptr<ReportStream>>* resumed) {
  max_batch = std::max<size_t>(max_batch, 1);
  absl::MutexLock lock(&mu_);
  auto has_work = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !items_.empty() || !parked_.empty() || closed_;
  };
  mu_.Await(absl::Condition(&has_work));
  if (!closed_ && items_.size() < max_batch && max_delay > absl::ZeroDuration()) {
    auto full = [this, max_batch]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return items_.size() >= max_batch || !parked_.empty() || closed_;
    };
    mu_.AwaitWithTimeout(absl::Condition(&full), max_delay);
  }
  std::vector<IngestItem> batch;
  const size_t n = std::min(max_batch, items_.size());
  batch.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    batch.push_back(std::move(items_.front()));
    items_.pop_front();
  }
  while (!parked_.empty() && items_.size() < capacity_) {
    if (resumed != nullptr && parked_.front().stream != nullptr) {
      resumed->push_back(parked_.front().stream);
    }
    items_.push_back(std::move(parked_.front()));
    parked_.pop_front();
  }
  // A batch taken only to make room may be empty while parked items moved in: take them now so
  // an empty batch keeps meaning "closed and drained".
  while (batch.empty() && !items_.empty()) {
    batch.push_back(std::move(items_.front()));
    items_.pop_front();
  }
  return batch;
}

void ReportQueue::Recycle(std::vector<IngestItem>& items) {
  absl::MutexLock lock(&pool_mu_);
  for (IngestItem& item : items) {
    if (pool_.size() >= kMaxRecycled) return;  // the rest are freed with the batch
    if (item.size_bytes > kMaxRecycledBytes) continue;
    Recycled& r = pool_.emplace_back();
    r.report.Swap(&item.report);  // no allocation, no copy
    if (item.usage) r.usage.swap(*item.usage);
    r.hints.workloads.swap(item.hints.workloads);
  }
}

bool ReportQueue::TakeRecycled(provenance::v1::NodeReport* into,
                               std::vector<WorkloadUsage>* usage_into,
                               ObservationHints* hints_into) {
  absl::MutexLock lock(&pool_mu_);
  if (pool_.empty()) return false;
  into->Swap(&pool_.back().report);
  usage_into->swap(pool_.back().usage);
  hints_into->workloads.swap(pool_.back().hints.workloads);
  pool_.pop_back();
  return true;
}

size_t ReportQueue::recycled() const {
  absl::MutexLock lock(&pool_mu_);
  return pool_.size();
}

void ReportQueue::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
}

size_t ReportQueue::depth() const {
  absl::MutexLock lock(&mu_);
  return items_.size();
}

size_t ReportQueue::parked() const {
  absl::MutexLock lock(&mu_);
  return parked_.size();
}

}  // namespace prov::server
