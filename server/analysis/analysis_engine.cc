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
  std::unique_ptr<AnalysisStore> store;
  if (options.open_store != nullptr) {
    PROV_ASSIGN_OR_RETURN(store, options.open_store());
    if (store == nullptr) return absl::InvalidArgumentError("analysis: open_store gave no store");
  } else {
    PROV_ASSIGN_OR_RETURN(store, AnalysisStore::Open(options.db_path));
  }
  std::unique_ptr<AnalysisEngine> engine(new AnalysisEngine(std::move(options), std::move(store)));
  AnalysisEngine& e = *engine;
  {
    absl::MutexLock lock(&e.mu_);
    absl::StatusOr<std::optional<IngestPosition>> loaded = e.store_->Load(*e.analyzer_);
    if (!loaded.ok()) {
      return absl::Status(loaded.status().code(),
                          absl::StrCat("loading analysis state: ", loaded.status().message()));
    }
    e.analyzer_->SetHardwareClock(e.options_.report_clock, e.options_.catalog);
    e.LoadInventory(*e.analyzer_);
    if (e.options_.lead_at_start) {
      // Persist bundles FinishRestore had to recreate.
      PROV_RETURN_IF_ERROR(e.store_->Save(*e.analyzer_, e.analyzer_->TakeChanges()));
    } else {
      e.analyzer_->TakeChanges();  // a follower saves nothing
    }
    absl::MutexLock q(&e.queue_mu_);
    e.want_lead_ = e.options_.lead_at_start;
    if (e.options_.lead_at_start) e.lead_result_ = *std::move(loaded);
    e.leading_ = e.options_.lead_at_start;
  }
  engine->thread_ = std::thread([raw = engine.get()] { raw->Run(); });
  return engine;
}

AnalysisEngine::AnalysisEngine(Options options, std::unique_ptr<AnalysisStore> store)
    : options_(std::move(options)),
      store_(std::move(store)),
      policy_(options_.policy),
      analyzer_(std::make_unique<Analyzer>(options_.policy)) {}

AnalysisEngine::~AnalysisEngine() { Shutdown(); }

size_t AnalysisEngine::Reports(const Item& item) {
  if (const auto* batch = std::get_if<std::vector<ReportObservation>>(&item)) return batch->size();
  if (const auto* logged = std::get_if<LoggedBatch>(&item)) return logged->observations.size();
  return 0;
}

size_t AnalysisEngine::LoggedEvents(const Item& item) {
  const auto* logged = std::get_if<LoggedBatch>(&item);
  return logged == nullptr ? 0 : logged->events.size();
}

void AnalysisEngine::Enqueue(Item item) {
  queued_reports_ += Reports(item);
  queue_.push_back(std::move(item));
  ++submitted_;
}

void AnalysisEngine::Submit(std::vector<ReportObservation> batch) {
  if (batch.empty()) return;
  absl::MutexLock lock(&queue_mu_);
  auto room = [this]() ABSL_SHARED_LOCKS_REQUIRED(queue_mu_) {
    return stopping_ || queued_reports_ < options_.max_pending;
  };
  queue_mu_.Await(absl::Condition(&room));
  Enqueue(std::move(batch));
}

void AnalysisEngine::SubmitLogged(std::vector<ReportObservation> batch,
                                  std::vector<NodeEvent> events, IngestPosition position) {
  absl::MutexLock lock(&queue_mu_);
  auto room = [this]() ABSL_SHARED_LOCKS_REQUIRED(queue_mu_) {
    return stopping_ || queued_reports_ < options_.max_pending;
  };
  queue_mu_.Await(absl::Condition(&room));
  Enqueue(LoggedBatch{std::move(batch), std::move(events), std::move(position)});
}

void AnalysisEngine::OnNodeEvents(std::vector<NodeEvent> events) {
  if (events.empty()) return;
  absl::MutexLock lock(&queue_mu_);
  Enqueue(std::move(events));
}

void AnalysisEngine::OnIdentityChanged(IdentitySnapshot snapshot) {
  absl::MutexLock lock(&queue_mu_);
  Enqueue(std::move(snapshot));
}

absl::Status AnalysisEngine::OnPolicyLoaded(std::shared_ptr<const policy::Policy> policy) {
  if (policy == nullptr) return absl::InvalidArgumentError("no policy");
  absl::MutexLock lock(&queue_mu_);
  Enqueue(std::move(policy));
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
  Enqueue(std::monostate{});
  return copy;
}

void AnalysisEngine::OnInventoryChanged() {
  absl::MutexLock lock(&queue_mu_);
  Enqueue(InventoryReload{});
}

void AnalysisEngine::Tick() {
  absl::MutexLock lock(&queue_mu_);
  Enqueue(std::monostate{});
}

void AnalysisEngine::LoadInventory(Analyzer& analyzer) {
  auto loaded =
      store_->LoadInventory(options_.clock->Now() - analyzer.policy().hardware.move_grace);
  if (!loaded.ok()) {
    // The previous inventory stays in force; the next import tries again.
    PROV_LOG_ERROR("analysis", "loading the declared inventory failed", {"error", loaded.status()});
    return;
  }
  if (loaded->version == 0) return;  // nothing imported: the hardware rules wait for one
  for (const auto& [serial, previous_node, at] : loaded->redeclared) {
    analyzer.SetRedeclared(serial, previous_node, at);
  }
  analyzer.SetInventory(std::move(loaded->index), loaded->version);
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

void AnalysisEngine::PushToWatchers(const std::vector<provenance::v1::Flag>& flags) {
  if (flags.empty()) return;
  absl::MutexLock lock(&watch_mu_);
  for (auto& w : watches_) {
    for (const auto& f : flags) w->Push(f);
  }
}

void AnalysisEngine::Run() {
  while (true) {
    std::vector<Item> items;
    size_t own = 0;  // items of our own, not submitted: not counted in done_
    {
      absl::MutexLock lock(&queue_mu_);
      auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(queue_mu_) {
        return stopping_ || !queue_.empty();
      };
      const bool ticked = !queue_mu_.AwaitWithTimeout(absl::Condition(&ready), options_.tick);
      // A reload that failed is retried once a tick has passed, whether or not the queue was
      // idle meanwhile (a steady trickle of events must not starve a Lead's retry).
      if (std::chrono::steady_clock::now() >= retry_due_) {
        if (lead_retry_.has_value()) {
          items.emplace_back(*lead_retry_);
          lead_retry_.reset();
          ++own;
        } else if (reload_retry_) {
          items.emplace_back(ReloadCmd{});
          reload_retry_ = false;
          ++own;
        }
      }
      if (ticked) {  // the tick: evaluate with nothing new
        items.emplace_back(std::monostate{});
        ++own;
      }
      if (queue_.empty() && stopping_) return;
      for (Item& item : queue_) items.push_back(std::move(item));
      queue_.clear();
    }
    const auto start = std::chrono::steady_clock::now();
    const Applied applied = Apply(items);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    absl::MutexLock lock(&queue_mu_);
    for (const Item& item : items) queued_reports_ -= Reports(item);
    counters_.reports += applied.analysed;
    counters_.dropped_not_leader += applied.dropped;
    done_ += items.size() - own;
    if (items.size() > own) ++counters_.batches;
    counters_.busy_seconds += seconds;
  }
}

AnalysisEngine::Applied AnalysisEngine::Apply(std::vector<Item>& items) {
  Applied applied;
  std::vector<provenance::v1::Flag> push;  // reloads' changed flags, then this round's
  bool wrote_shared = false;               // a Save wrote flags, bundles or links
  // Role commands reload outside mu_ (ApplyLead/ApplyFollow/ApplyReload); everything else is
  // applied in order under it.
  auto is_role = [](const Item& item) {
    return std::holds_alternative<LeadCmd>(item) || std::holds_alternative<FollowCmd>(item) ||
           std::holds_alternative<ReloadCmd>(item);
  };
  size_t i = 0;
  while (i < items.size()) {
    if (is_role(items[i])) {
      if (const auto* lead = std::get_if<LeadCmd>(&items[i])) {
        ApplyLead(*lead, push);
      } else if (const auto* follow = std::get_if<FollowCmd>(&items[i])) {
        ApplyFollow(*follow, push);
      } else {
        ApplyReload(push);
      }
      ++i;
      continue;
    }
    absl::MutexLock lock(&mu_);
    for (; i < items.size() && !is_role(items[i]); ++i) {
      Item& item = items[i];
      const bool leading = leading_.load();
      if (auto* batch = std::get_if<std::vector<ReportObservation>>(&item)) {
        if (!leading) {
          applied.dropped += batch->size();
          continue;
        }
        for (const ReportObservation& obs : *batch) analyzer_->Observe(obs);
        applied.analysed += batch->size();
      } else if (auto* logged = std::get_if<LoggedBatch>(&item)) {
        if (!leading) {
          applied.dropped += logged->observations.size() + logged->events.size();
          continue;
        }
        for (const ReportObservation& obs : logged->observations) analyzer_->Observe(obs);
        for (const NodeEvent& e : logged->events) analyzer_->ObserveNodeEvent(e);
        applied.analysed += logged->observations.size();
        unsaved_position_ = std::move(logged->position);
      } else if (auto* snapshot = std::get_if<IdentitySnapshot>(&item)) {
        analyzer_->SetIdentity(*snapshot, options_.clock->Now());
        identity_ = std::move(*snapshot);
      } else if (auto* events = std::get_if<std::vector<NodeEvent>>(&item)) {
        if (!leading) {
          applied.dropped += events->size();
          continue;
        }
        for (const NodeEvent& e : *events) analyzer_->ObserveNodeEvent(e);
      } else if (auto* policy = std::get_if<std::shared_ptr<const policy::Policy>>(&item)) {
        analyzer_->SetPolicy(*policy);
        policy_ = *policy;
      } else if (std::holds_alternative<InventoryReload>(item)) {
        LoadInventory(*analyzer_);
      }  // std::monostate: a case change already applied under mu_, or a tick
    }
  }
  absl::Status deposed;
  {
    absl::MutexLock lock(&mu_);
    if (!leading_.load()) {
      // A follower saves nothing; its in-memory changes (a case change, an identity snapshot)
      // still reach the watchers.
      for (const std::string& id : analyzer_->TakeChanges().flags) {
        if (const auto* f = analyzer_->flag(id)) push.push_back(*f);
      }
    } else {
      analyzer_->Evaluate(options_.clock->Now());
      AnalyzerChanges changes = analyzer_->TakeChanges();
      absl::Status saved = store_->Save(*analyzer_, changes, term_, unsaved_position_);
      if (saved.ok()) {
        unsaved_position_.reset();
        wrote_shared = !changes.flags.empty() || !changes.bundles.empty() ||
                       !changes.links.empty() || !changes.removed_links.empty();
      } else if (term_.has_value() && absl::IsFailedPrecondition(saved)) {
        // A newer term: the successor's state is the truth; nothing requeued, nothing pushed.
        deposed = saved;
        changes.flags.clear();
      } else {
        PROV_LOG_ERROR("analysis", "saving analysis changes failed (requeued)", {"error", saved});
        analyzer_->Requeue(changes);
        absl::MutexLock q(&queue_mu_);
        ++counters_.save_failures;
      }
      for (const std::string& id : changes.flags) {
        if (const auto* f = analyzer_->flag(id)) push.push_back(*f);
      }
    }
  }
  if (!deposed.ok()) OnDeposed(deposed);
  PushToWatchers(push);
  if (wrote_shared && options_.on_saved != nullptr) options_.on_saved();
  return applied;
}

}  // namespace prov::server
