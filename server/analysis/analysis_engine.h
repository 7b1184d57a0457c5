// AnalysisEngine: runs the Analyzer on its own thread, persists what it concludes, pushes flag
// changes to watchers. provd's ingest writer submits observations of committed reports; the
// identity service delivers identity snapshots and policies (IdentitySink).
//
//   AnalysisEngine::Options o{.db_path = dir + "/provd.db", .clock = &clock, .policy = policy};
//   PROV_ASSIGN_OR_RETURN(auto engine, AnalysisEngine::Start(o));   // loads persisted state
//   engine->Submit(std::move(observations));                        // writer thread
//   auto flags = engine->Read([](const Analyzer& a) { return a.ListFlags({}); });
//   auto watch = engine->Watch(provenance::v1::SEVERITY_HIGH);       // WatchFlags streams
//   engine->Shutdown();                                              // drains and persists
//
// Threads: Submit/OnNodeEvents/OnIdentityChanged/OnPolicyLoaded/OnInventoryChanged enqueue and
// return (Submit waits only when the queue holds max_pending reports: back-pressure on the writer
// rather than lost evidence). The engine thread takes everything queued, applies it under the
// mutex, evaluates the rules, saves the changes in one transaction and then notifies watchers.
// Queries take the mutex briefly. A failed save is logged and counted; the changes stay in memory
// and are saved with the next batch's (rows are idempotent upserts keyed by id).
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/accelerator_catalog.h"
#include "common/clock.h"
#include "server/analysis/analysis_store.h"
#include "server/analysis/analyzer.h"
#include "server/analysis/identity_sink.h"
#include "server/analysis/node_event.h"
#include "server/analysis/observation.h"

namespace prov::server {

// One WatchFlags stream's queue.
class FlagWatch {
 public:
  explicit FlagWatch(provenance::v1::Severity min_severity) : min_severity_(min_severity) {}
  // Waits up to `timeout` for flags; empty when none came or the watch was closed.
  std::vector<provenance::v1::Flag> Next(absl::Duration timeout);
  bool closed() const;

 private:
  friend class AnalysisEngine;
  void Push(const provenance::v1::Flag& flag);
  void Close();

  const provenance::v1::Severity min_severity_;
  mutable absl::Mutex mu_;
  std::deque<provenance::v1::Flag> queue_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

struct AnalysisCounters {
  uint64_t reports = 0;  // observations analysed
  uint64_t batches = 0;
  uint64_t save_failures = 0;
  double busy_seconds = 0;  // thread CPU-ish time spent analysing and saving (steady clock)
};

class AnalysisEngine final : public IdentitySink {
 public:
  struct Options {
    std::string db_path;
    const Clock* clock = nullptr;                  // required
    std::shared_ptr<const policy::Policy> policy;  // required
    size_t max_pending = 65536;                    // queued reports before Submit waits
    // With nothing queued the engine still evaluates this often, so silence (hardware_silent)
    // is judged while nothing arrives.
    absl::Duration tick = absl::Seconds(5);
    // Hardware silence on the fleet's report timeline (provd --ledger-clock report, replays).
    bool report_clock = false;
    const AcceleratorCatalog* catalog = nullptr;  // null: the builtin one
  };
  static absl::StatusOr<std::unique_ptr<AnalysisEngine>> Start(Options options);
  ~AnalysisEngine() override;

  void Submit(std::vector<ReportObservation> batch);
  // Node facts from outside the stored reports (rejection rounds); enqueued like Submit, never
  // waits.
  void OnNodeEvents(std::vector<NodeEvent> events);
  void OnIdentityChanged(IdentitySnapshot snapshot) override;
  absl::Status OnPolicyLoaded(std::shared_ptr<const policy::Policy> policy) override;

  // A case change (server/cases): applied to the in-memory flag at once (queries see it on
  // return), saved and pushed to watchers by the engine thread shortly after. NOT_FOUND when no
  // such flag.
  absl::StatusOr<provenance::v1::Flag> SetFlagCase(const std::string& flag_id,
                                                   provenance::v1::FlagStatus status,
                                                   provenance::v1::Disposition disposition,
                                                   const std::string& assignee,
                                                   absl::Time updated_at);

  // The declared inventory changed (an import committed): the engine reloads it from the store
  // and the hardware rules judge every node against it. Enqueued like Submit, never waits.
  void OnInventoryChanged();
  // An evaluation with nothing new (what the tick does): silence is judged on the clock's now.
  void Tick();

  // Waits until everything submitted before the call is analysed and saved (tests, shutdown).
  void Flush();
  void Shutdown();  // idempotent

  template <typename F>
  auto Read(F&& f) const {
    absl::MutexLock lock(&mu_);
    return f(*analyzer_);
  }
  std::shared_ptr<FlagWatch> Watch(provenance::v1::Severity min_severity);
  void Unwatch(const std::shared_ptr<FlagWatch>& watch);
  AnalysisCounters counters() const;
  size_t pending() const;
  size_t max_pending() const { return options_.max_pending; }

 private:
  // std::monostate: nothing to apply, only evaluate, save and push what changed (a case change,
  // a tick). InventoryReload: reload the declared inventory.
  struct InventoryReload {};
  using Item = std::variant<std::vector<ReportObservation>, IdentitySnapshot,
                            std::shared_ptr<const policy::Policy>, std::vector<NodeEvent>,
                            std::monostate, InventoryReload>;
  void LoadInventory() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  AnalysisEngine(Options options, std::unique_ptr<AnalysisStore> store);
  void Run();
  void Apply(std::vector<Item>& items);

  const Options options_;
  std::unique_ptr<AnalysisStore> store_;  // engine thread only

  mutable absl::Mutex mu_;  // the analyzer
  std::unique_ptr<Analyzer> analyzer_ ABSL_GUARDED_BY(mu_);

  mutable absl::Mutex queue_mu_;
  std::vector<Item> queue_ ABSL_GUARDED_BY(queue_mu_);
  size_t queued_reports_ ABSL_GUARDED_BY(queue_mu_) = 0;
  uint64_t submitted_ ABSL_GUARDED_BY(queue_mu_) = 0;  // items ever queued
  uint64_t done_ ABSL_GUARDED_BY(queue_mu_) = 0;       // items applied and saved
  bool stopping_ ABSL_GUARDED_BY(queue_mu_) = false;
  AnalysisCounters counters_ ABSL_GUARDED_BY(queue_mu_);

  absl::Mutex watch_mu_;
  std::vector<std::shared_ptr<FlagWatch>> watches_ ABSL_GUARDED_BY(watch_mu_);

  std::thread thread_;
};

}  // namespace prov::server
