#include "server/analysis/analysis_engine.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log/log.h"
#include "common/status_macros.h"

namespace prov::server {

std::vector<provenance::v1::Flag> FlagWatch::Next(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return closed_ || !queue_.empty(); };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  std::vector<provenance::v1::Flag> out(std::make_move_iterator(queue_.begin()),
                                        std::make_move_iterator(queue_.end()));
  queue_.clear();
  return out;
}

bool FlagWatch::closed() const {
  absl::MutexLock lock(&mu_);
  return closed_;
}

void FlagWatch::Push(const provenance::v1::Flag& flag) {
  if (flag.severity() < min_severity_) return;
  absl::MutexLock lock(&mu_);
  if (queue_.size() >= 100000) queue_.pop_front();  // a stalled client loses the oldest
  queue_.push_back(flag);
}

void FlagWatch::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
}

absl::StatusOr<std::unique_ptr<AnalysisEngine>> AnalysisEngine::Start(Options options) {
  if (options.clock == nullptr) return absl::InvalidArgumentError("analysis: clock is required");
  if (options.policy == nullptr) return absl::InvalidArgumentError("analysis: policy is required");
  PROV_ASSIGN_OR_RETURN(auto store, AnalysisStore::Open(options.db_path));
  std::unique_ptr<AnalysisEngine> engine(new AnalysisEngine(std::move(options), std::move(store)));
  {
    absl::MutexLock lock(&engine->mu_);
    absl::Status loaded = engine->store_->Load(*engine->analyzer_);
    if (!loaded.ok()) {
      return absl::Status(loaded.code(),
                          absl::StrCat("loading analysis state: ", loaded.message()));
    }
    engine->analyzer_->SetHardwareClock(engine->options_.report_clock, engine->options_.catalog);
    engine->LoadInventory();
    // Persist bundles FinishRestore had to recreate.
    PROV_RETURN_IF_ERROR(
        engine->store_->Save(*engine->analyzer_, engine->analyzer_->TakeChanges()));
  }
  engine->thread_ = std::thread([e = engine.get()] { e->Run(); });
  return engine;
}

AnalysisEngine::AnalysisEngine(Options options, std::unique_ptr<AnalysisStore> store)
    : options_(std::move(options)),
      store_(std::move(store)),
      analyzer_(std::make_unique<Analyzer>(options_.policy)) {}

AnalysisEngine::~AnalysisEngine() { Shutdown(); }

void AnalysisEngine::Submit(std::vector<ReportObservation> batch) {
  if (batch.empty()) return;
  absl::MutexLock lock(&queue_mu_);
  auto room = [this]() ABSL_SHARED_LOCKS_REQUIRED(queue_mu_) {
    return stopping_ || queued_reports_ < options_.max_pending;
  };
  queue_mu_.Await(absl::Condition(&room));
  queued_reports_ += batch.size();
  queue_.emplace_back(std::move(batch));
  ++submitted_;
}

void AnalysisEngine::OnNodeEvents(std::vector<NodeEvent> events) {
  if (events.empty()) return;
  absl::MutexLock lock(&queue_mu_);
  queue_.emplace_back(std::move(events));
  ++submitted_;
}

void AnalysisEngine::OnIdentityChanged(IdentitySnapshot snapshot) {
  absl::MutexLock lock(&queue_mu_);
  queue_.emplace_back(std::move(snapshot));
  ++submitted_;
}

absl::Status AnalysisEngine::OnPolicyLoaded(std::shared_ptr<const policy::Policy> policy) {
  if (policy == nullptr) return absl::InvalidArgumentError("no policy");
  absl::MutexLock lock(&queue_mu_);
  queue_.emplace_back(std::move(policy));
  ++submitted_;
  return absl::OkStatus();
}

absl::StatusOr<provenance::v1::Flag> AnalysisEngine::SetFlagCase(
    const std::string& flag_id, provenance::v1::FlagStatus status,
    provenance::v1::Disposition disposition, const std::string& assignee, absl::Time updated_at) {
  provenance::v1::Flag copy;
  {
    absl::MutexLock lock(&mu_);
    const provenance::v1::Flag* f =
        analyzer_->SetFlagCase(flag_id, status, disposition, assignee, updated_at);
    if (f == nullptr) return absl::NotFoundError(absl::StrCat("flag_id: no flag ", flag_id));
    copy = *f;
  }
  absl::MutexLock lock(&queue_mu_);
  queue_.emplace_back(std::monostate{});
  ++submitted_;
  return copy;
}

void AnalysisEngine::OnInventoryChanged() {
  absl::MutexLock lock(&queue_mu_);
  queue_.emplace_back(InventoryReload{});
  ++submitted_;
}

void AnalysisEngine::Tick() {
  absl::MutexLock lock(&queue_mu_);
  queue_.emplace_back(std::monostate{});
  ++submitted_;
}

void AnalysisEngine::LoadInventory() {
  auto loaded =
      store_->LoadInventory(options_.clock->Now() - analyzer_->policy().hardware.move_grace);
  if (!loaded.ok()) {
    // The previous inventory stays in force; the next import tries again.
    PROV_LOG_ERROR("analysis", "loading the declared inventory failed", {"error", loaded.status()});
    return;
  }
  if (loaded->version == 0) return;  // nothing imported: the hardware rules wait for one
  for (const auto& [serial, previous_node, at] : loaded->redeclared) {
    analyzer_->SetRedeclared(serial, previous_node, at);
  }
  analyzer_->SetInventory(std::move(loaded->index), loaded->version);
}

void AnalysisEngine::Flush() {
  absl::MutexLock lock(&queue_mu_);
  const uint64_t target = submitted_;
  auto done = [this, target]() ABSL_SHARED_LOCKS_REQUIRED(queue_mu_) {
    return done_ >= target || (stopping_ && !thread_.joinable());
  };
  queue_mu_.Await(absl::Condition(&done));
}

void AnalysisEngine::Shutdown() {
  {
    absl::MutexLock lock(&queue_mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
  absl::MutexLock lock(&watch_mu_);
  for (auto& w : watches_) w->Close();
  watches_.clear();
}

std::shared_ptr<FlagWatch> AnalysisEngine::Watch(provenance::v1::Severity min_severity) {
  auto w = std::make_shared<FlagWatch>(min_severity);
  absl::MutexLock lock(&watch_mu_);
  watches_.push_back(w);
  return w;
}

void AnalysisEngine::Unwatch(const std::shared_ptr<FlagWatch>& watch) {
  absl::MutexLock lock(&watch_mu_);
  std::erase(watches_, watch);
}

AnalysisCounters AnalysisEngine::counters() const {
  absl::MutexLock lock(&queue_mu_);
  return counters_;
}

size_t AnalysisEngine::pending() const {
  absl::MutexLock lock(&queue_mu_);
  return queued_reports_;
}

void AnalysisEngine::Run() {
  while (true) {
    std::vector<Item> items;
    bool ticked = false;  // an item of our own, not submitted: not counted in done_
    {
      absl::MutexLock lock(&queue_mu_);
      auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(queue_mu_) {
        return stopping_ || !queue_.empty();
      };
      if (!queue_mu_.AwaitWithTimeout(absl::Condition(&ready), options_.tick)) {
        items.emplace_back(std::monostate{});  // the tick: evaluate with nothing new
        ticked = true;
      }
      if (queue_.empty() && stopping_) return;
      for (Item& item : queue_) items.push_back(std::move(item));
      queue_.clear();
    }
    const auto start = std::chrono::steady_clock::now();
    Apply(items);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    absl::MutexLock lock(&queue_mu_);
    for (const Item& item : items) {
      if (const auto* batch = std::get_if<std::vector<ReportObservation>>(&item)) {
        queued_reports_ -= batch->size();
        counters_.reports += batch->size();
      }
    }
    done_ += items.size() - (ticked ? 1 : 0);
    if (items.size() > (ticked ? 1u : 0u)) ++counters_.batches;
    counters_.busy_seconds += seconds;
  }
}

void AnalysisEngine::Apply(std::vector<Item>& items) {
  std::vector<provenance::v1::Flag> changed;
  {
    absl::MutexLock lock(&mu_);
    for (Item& item : items) {
      if (auto* batch = std::get_if<std::vector<ReportObservation>>(&item)) {
        for (const ReportObservation& obs : *batch) analyzer_->Observe(obs);
      } else if (auto* snapshot = std::get_if<IdentitySnapshot>(&item)) {
        analyzer_->SetIdentity(*snapshot, options_.clock->Now());
      } else if (auto* events = std::get_if<std::vector<NodeEvent>>(&item)) {
        for (const NodeEvent& e : *events) analyzer_->ObserveNodeEvent(e);
      } else if (auto* policy = std::get_if<std::shared_ptr<const policy::Policy>>(&item)) {
        analyzer_->SetPolicy(*policy);
      } else if (std::holds_alternative<InventoryReload>(item)) {
        LoadInventory();
      }  // std::monostate: a case change already applied under mu_
    }
    analyzer_->Evaluate(options_.clock->Now());
    AnalyzerChanges changes = analyzer_->TakeChanges();
    absl::Status saved = store_->Save(*analyzer_, changes);
    if (!saved.ok()) {
      PROV_LOG_ERROR("analysis", "saving analysis changes failed (requeued)", {"error", saved});
      analyzer_->Requeue(changes);
      absl::MutexLock q(&queue_mu_);
      ++counters_.save_failures;
    }
    for (const std::string& id : changes.flags) {
      if (const auto* f = analyzer_->flag(id)) changed.push_back(*f);
    }
  }
  if (changed.empty()) return;
  absl::MutexLock lock(&watch_mu_);
  for (auto& w : watches_) {
    for (const auto& f : changed) w->Push(f);
  }
}

}  // namespace prov::server
