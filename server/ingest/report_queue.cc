#include "server/ingest/report_queue.h"

#include <algorithm>

namespace prov::server {

ReportQueue::ReportQueue(size_t capacity, size_t capacity_bytes)
    : capacity_(std::max<size_t>(capacity, 1)), capacity_bytes_(capacity_bytes) {}

bool ReportQueue::HasRoomLocked(const IngestItem& item) const {
  if (items_.empty()) return true;
  return items_.size() < capacity_ &&
         item.size_bytes <= capacity_bytes_ - std::min(bytes_, capacity_bytes_);
}

bool ReportQueue::PushOrPark(IngestItem item) {
  absl::MutexLock lock(&mu_);
  if (parked_.empty() && HasRoomLocked(item)) {
    bytes_ += item.size_bytes;
    items_.push_back(std::move(item));
    return true;
  }
  parked_.push_back(std::move(item));
  return false;
}

std::vector<IngestItem> ReportQueue::PopBatch(size_t max_batch, absl::Duration max_delay,
                                              std::vector<std::shared_ptr<IngestStream>>* resumed) {
  max_batch = std::max<size_t>(max_batch, 1);
  absl::MutexLock lock(&mu_);
  auto has_work = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !items_.empty() || !parked_.empty() || closed_ || !rejections_.empty() ||
           !refusals_.empty();
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
  auto pop = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    bytes_ -= std::min(bytes_, items_.front().size_bytes);
    batch.push_back(std::move(items_.front()));
    items_.pop_front();
  };
  for (size_t i = 0; i < n; ++i) pop();
  while (!parked_.empty() && HasRoomLocked(parked_.front())) {
    if (resumed != nullptr && parked_.front().stream != nullptr) {
      resumed->push_back(parked_.front().stream);
    }
    bytes_ += parked_.front().size_bytes;
    items_.push_back(std::move(parked_.front()));
    parked_.pop_front();
  }
  // A batch taken only to make room may be empty while parked items moved in: take them now so
  // an empty batch means "closed and drained" or "woken for rejections" (finished()).
  while (batch.empty() && !items_.empty()) pop();
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

bool ReportQueue::finished() const {
  absl::MutexLock lock(&mu_);
  return closed_ && items_.empty() && parked_.empty();
}

void ReportQueue::NoteRejection(absl::string_view node_id, absl::Time at,
                                absl::string_view reason) {
  if (node_id.empty()) return;
  absl::MutexLock lock(&mu_);
  auto it = rejections_.find(node_id);
  if (it == rejections_.end()) {
    if (rejections_.size() >= kMaxRejectionNodes) {
      ++dropped_rejection_notes_;
      return;
    }
    it = rejections_.emplace(std::string(node_id), RejectionNote()).first;
    it->second.first_at = at;
  }
  RejectionNote& note = it->second;
  ++note.count;
  note.last_at = std::max(note.last_at, at);
  const absl::string_view shown = reason.substr(0, kMaxReasonBytes);
  note.last_reason.assign(shown.data(), shown.size());
}

absl::flat_hash_map<std::string, RejectionNote> ReportQueue::TakeRejections() {
  absl::MutexLock lock(&mu_);
  absl::flat_hash_map<std::string, RejectionNote> taken;
  taken.swap(rejections_);
  return taken;
}

void ReportQueue::NoteNodeRefusal(absl::string_view cert_node_id, absl::string_view claimed_node_id,
                                  absl::Time at) {
  cert_node_id = cert_node_id.substr(0, kMaxReasonBytes);
  absl::MutexLock lock(&mu_);
  auto it = refusals_.find(cert_node_id);
  if (it == refusals_.end()) {
    if (refusals_.size() >= kMaxRejectionNodes) {
      ++dropped_rejection_notes_;
      return;
    }
    it = refusals_.emplace(std::string(cert_node_id), NodeRefusalNote()).first;
    it->second.cert_node_id = std::string(cert_node_id);
    it->second.first_at = at;
  }
  NodeRefusalNote& note = it->second;
  ++note.count;
  note.last_at = std::max(note.last_at, at);
  const absl::string_view shown = claimed_node_id.substr(0, kMaxReasonBytes);
  note.claimed_node_id.assign(shown.data(), shown.size());
}

std::vector<NodeRefusalNote> ReportQueue::TakeNodeRefusals() {
  absl::MutexLock lock(&mu_);
  std::vector<NodeRefusalNote> taken;
  taken.reserve(refusals_.size());
  for (auto& [id, note] : refusals_) taken.push_back(std::move(note));
  refusals_.clear();
  return taken;
}

uint64_t ReportQueue::dropped_rejection_notes() const {
  absl::MutexLock lock(&mu_);
  return dropped_rejection_notes_;
}

size_t ReportQueue::bytes() const {
  absl::MutexLock lock(&mu_);
  return bytes_;
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
