// AnalysisEngine's roles (analysis_engine.h): Lead, Follow, Reload, WaitLeadPosition, and what
// the engine thread does for them.
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/log/log.h"
#include "server/analysis/analysis_engine.h"

namespace prov::server {

size_t AnalysisEngine::DropQueuedObservations() {
  size_t dropped = 0;
  std::vector<Item> kept;
  for (Item& item : queue_) {
    if (const auto* events = std::get_if<std::vector<NodeEvent>>(&item)) {
      dropped += events->size();
    } else if (std::holds_alternative<std::vector<ReportObservation>>(item) ||
               std::holds_alternative<LoggedBatch>(item)) {
      dropped += Reports(item) + LoggedEvents(item);
      queued_reports_ -= Reports(item);
    } else {
      kept.push_back(std::move(item));
      continue;
    }
    ++done_;  // Flush waits for it no longer
  }
  queue_ = std::move(kept);
  counters_.dropped_not_leader += dropped;
  return dropped;
}

void AnalysisEngine::Lead(int64_t term) {
  absl::MutexLock lock(&queue_mu_);
  // Batches read before this Lead's reload must not be applied after it: the reload loads the
  // saved position, and the feed reads on from there.
  std::vector<Item> kept;
  for (Item& item : queue_) {
    if (!std::holds_alternative<LoggedBatch>(item)) {
      kept.push_back(std::move(item));
      continue;
    }
    queued_reports_ -= Reports(item);
    counters_.dropped_not_leader += Reports(item) + LoggedEvents(item);
    ++done_;
  }
  queue_ = std::move(kept);
  ++role_epoch_;
  want_lead_ = true;
  lead_result_.reset();
  Enqueue(LeadCmd{.term = term, .epoch = role_epoch_});
}

void AnalysisEngine::Follow() {
  absl::MutexLock lock(&queue_mu_);
  leading_ = false;  // at once: the engine thread checks it before every Save
  DropQueuedObservations();
  ++role_epoch_;
  want_lead_ = false;
  lead_result_.reset();
  Enqueue(FollowCmd{.epoch = role_epoch_});
}

void AnalysisEngine::Reload() {
  absl::MutexLock lock(&queue_mu_);
  if (reload_queued_) return;  // the queued one reads the newest state
  reload_queued_ = true;
  Enqueue(ReloadCmd{});
}

absl::StatusOr<std::optional<IngestPosition>> AnalysisEngine::WaitLeadPosition(
    absl::Duration timeout) {
  absl::MutexLock lock(&queue_mu_);
  auto settled = [this]() ABSL_SHARED_LOCKS_REQUIRED(queue_mu_) {
    return stopping_ || !want_lead_ ||
           (lead_result_.has_value() && lead_result_epoch_ == role_epoch_);
  };
  if (!queue_mu_.AwaitWithTimeout(absl::Condition(&settled), timeout)) {
    return absl::DeadlineExceededError(
        absl::StrCat("analysis: the engine did not finish loading its lead state within ",
                     absl::FormatDuration(timeout)));
  }
  if (stopping_) return absl::CancelledError("analysis: the engine is shutting down");
  if (!want_lead_) return absl::CancelledError("analysis: the engine follows (no Lead pending)");
  return *lead_result_;
}

absl::StatusOr<AnalysisEngine::Loaded> AnalysisEngine::LoadFresh() {
  Loaded out;
  out.analyzer = std::make_unique<Analyzer>(policy_);
  absl::StatusOr<std::optional<IngestPosition>> position = store_->Load(*out.analyzer);
  if (!position.ok()) return position.status();
  out.position = *std::move(position);
  out.analyzer->SetHardwareClock(options_.report_clock, options_.catalog);
  LoadInventory(*out.analyzer);
  if (identity_.has_value()) out.analyzer->SetIdentity(*identity_, options_.clock->Now());
  return out;
}

std::vector<provenance::v1::Flag> AnalysisEngine::Swap(std::unique_ptr<Analyzer> fresh) {
  absl::flat_hash_map<std::string, std::string> fresh_bytes;
  std::vector<provenance::v1::Flag> fresh_flags = fresh->ListFlags({});
  for (const auto& f : fresh_flags) fresh_bytes[f.flag_id()] = f.SerializeAsString();
  std::vector<provenance::v1::Flag> changed;
  absl::MutexLock lock(&mu_);
  absl::flat_hash_map<std::string, std::string> before;
  for (const auto& f : analyzer_->ListFlags({})) before[f.flag_id()] = f.SerializeAsString();
  analyzer_ = std::move(fresh);
  for (auto& f : fresh_flags) {
    auto it = before.find(f.flag_id());
    if (it == before.end() || it->second != fresh_bytes[f.flag_id()]) {
      changed.push_back(std::move(f));
    }
  }
  return changed;
}

void AnalysisEngine::ApplyLead(const LeadCmd& cmd, std::vector<provenance::v1::Flag>& push) {
  {
    absl::MutexLock lock(&queue_mu_);
    if (cmd.epoch != role_epoch_) return;  // a later Lead or Follow supersedes it
  }
  lead_retry_.reset();
  reload_retry_ = false;
  absl::StatusOr<Loaded> loaded = LoadFresh();
  if (!loaded.ok()) {
    PROV_LOG_ERROR("analysis", "loading the analysis state to lead failed (retried on the tick)",
                   {"term", cmd.term}, {"error", loaded.status()});
    absl::MutexLock lock(&queue_mu_);
    ++counters_.reload_failures;
    if (cmd.epoch == role_epoch_) {
      lead_result_ = loaded.status();
      lead_result_epoch_ = cmd.epoch;
      lead_retry_ = cmd;
      retry_due_ = std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(options_.tick);
    }
    return;
  }
  // Its own recreated rows and identity-driven changes are saved by this round's Save, fenced.
  std::vector<provenance::v1::Flag> changed = Swap(std::move(loaded->analyzer));
  push.insert(push.end(), changed.begin(), changed.end());
  term_ = cmd.term;
  unsaved_position_.reset();  // the loaded position is the saved one
  PROV_LOG_INFO("analysis", "leading", {"term", cmd.term},
                {"position_saved", loaded->position.has_value()});
  absl::MutexLock lock(&queue_mu_);
  ++counters_.reloads;
  if (cmd.epoch != role_epoch_) return;  // Follow came during the reload: stays a follower
  leading_ = true;
  lead_result_ = std::move(loaded->position);
  lead_result_epoch_ = cmd.epoch;
}

void AnalysisEngine::ApplyFollow(const FollowCmd& cmd, std::vector<provenance::v1::Flag>& push) {
  {
    absl::MutexLock lock(&queue_mu_);
    if (cmd.epoch != role_epoch_) return;  // a later Lead or Follow supersedes it
  }
  lead_retry_.reset();
  term_.reset();
  unsaved_position_.reset();
  {
    absl::MutexLock lock(&queue_mu_);
    // Shutting down (provd steps down at exit): nothing will read the follower's state.
    if (stopping_) return;
  }
  PROV_LOG_INFO("analysis", "following: reloading from the store");
  ApplyReload(push);
}

void AnalysisEngine::ApplyReload(std::vector<provenance::v1::Flag>& push) {
  {
    absl::MutexLock lock(&queue_mu_);
    reload_queued_ = false;
  }
  if (leading_.load()) return;  // the leader's memory is the newest state
  absl::StatusOr<Loaded> loaded = LoadFresh();
  if (!loaded.ok()) {
    PROV_LOG_ERROR("analysis", "reloading the analysis state failed (retried on the tick)",
                   {"error", loaded.status()});
    reload_retry_ = true;
    retry_due_ = std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(options_.tick);
    absl::MutexLock lock(&queue_mu_);
    ++counters_.reload_failures;
    return;
  }
  loaded->analyzer->TakeChanges();  // a follower saves nothing
  std::vector<provenance::v1::Flag> changed = Swap(std::move(loaded->analyzer));
  push.insert(push.end(), changed.begin(), changed.end());
  absl::MutexLock lock(&queue_mu_);
  ++counters_.reloads;
}

void AnalysisEngine::OnDeposed(const absl::Status& refused) {
  PROV_LOG_WARN("analysis", "deposed: a newer leader term began; saving stopped",
                {"term", term_.value_or(0)}, {"error", refused});
  unsaved_position_.reset();
  absl::MutexLock lock(&queue_mu_);
  ++counters_.deposed;
  leading_ = false;
  DropQueuedObservations();
}

}  // namespace prov::server
