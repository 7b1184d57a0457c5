#include "server/export/export_scheduler.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/log/log.h"

namespace prov::server {
namespace {

void Log(const char* what, const absl::Status& s) {
  PROV_LOG_ERROR("export", absl::StrCat(what, " failed"), {"error", s});
}

}  // namespace

void ExportScheduler::Start() {
  if (thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stop_ = false;
  }
  thread_ = std::thread([this] { Loop(); });
}

void ExportScheduler::Stop() {
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ExportScheduler::Loop() {
  while (true) {
    (void)Tick();
    std::unique_lock<std::mutex> lock(stop_mu_);
    stop_cv_.wait_for(lock, absl::ToChronoMilliseconds(options_.poll), [this] { return stop_; });
    if (stop_) return;
  }
}

ExportScheduler::TickResult ExportScheduler::Tick() {
  absl::MutexLock tick(&tick_mu_);
  TickResult r;
  const absl::Time now = clock_.Now();
  if (exporter_ != nullptr && options_.export_interval > absl::ZeroDuration()) {
    absl::StatusOr<std::optional<absl::Time>> last = exporter_->LastExportTime("schedule");
    if (!last.ok()) {
      r.status = last.status();
    } else if (!last->has_value() || now - **last >= options_.export_interval) {
      absl::StatusOr<ExportResult> done = exporter_->Run("schedule", "provd");
      if (done.ok()) {
        r.exported = true;
      } else {
        r.status = done.status();
        Log("scheduled export", r.status);
      }
    }
  }
  if (pruner_ != nullptr && options_.prune_interval > absl::ZeroDuration()) {
    absl::StatusOr<std::optional<absl::Time>> last = pruner_->LastPruneTime();
    if (!last.ok()) {
      if (r.status.ok()) r.status = last.status();
    } else if (!last->has_value() || now - **last >= options_.prune_interval) {
      absl::StatusOr<PruneCounts> done = pruner_->Prune("provd");
      if (done.ok()) {
        r.pruned = true;
      } else {
        Log("retention pass", done.status());
        if (r.status.ok()) r.status = done.status();
      }
    }
  }
  return r;
}

}  // namespace prov::server
