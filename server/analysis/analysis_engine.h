// AnalysisEngine: runs the Analyzer on its own thread, persists what it concludes, pushes flag
// changes to watchers. provd's ingest writer submits observations of committed reports (SQLite),
// or the elected leader's IngestFeed reads them from the batch log (PostgreSQL, ingest_feed.h);
// the identity service delivers identity snapshots and policies (IdentitySink).
//
//   AnalysisEngine::Options o{.db_path = dir + "/provd.db", .clock = &clock, .policy = policy};
//   PROV_ASSIGN_OR_RETURN(auto engine, AnalysisEngine::Start(o));   // loads persisted state
//   engine->Submit(std::move(observations));                        // writer thread
//   auto flags = engine->Read([](const Analyzer& a) { return a.ListFlags({}); });
//   auto watch = engine->Watch(provenance::v1::SEVERITY_HIGH);       // WatchFlags streams
//   engine->Shutdown();                                              // drains and persists
//
// Roles (provd replicas on one PostgreSQL, docs/design/scale-out.md sections 3-4):
//
//   o.open_store = [&] { return AnalysisStore::Create(pg_facts(), pg_inventory()); };
//   o.lead_at_start = false;                       // a FOLLOWER: loads, never evaluates or saves
//   o.on_saved = [&] { NotifyChange("prov_flags", ""); };   // the leader saved flags/bundles/links
//   election.Start({.elected = [&](int64_t t) { engine->Lead(t); feed.Start(); },
//                   .deposed = [&] { feed.Stop(); engine->Follow(); }});
//   on a "prov_flags" notification: engine->Reload();   // followers refresh; the leader ignores it
//
// - lead_at_start (default; SQLite and every single-process use): the engine leads from Start,
//   saves unfenced, exactly as before roles existed.
// - A follower holds a read-only copy of the stored state for queries, WatchFlags and the
//   dashboard. Observations and node events given to it are dropped and counted
//   (dropped_not_leader); identity snapshots, policies and inventory reloads are applied (and
//   applied again after every reload); SetFlagCase changes the in-memory flag (not saved).
// - Lead(term): the engine thread reloads from the store (the previous leader's facts and saved
//   ingest position, the inventory, the last identity snapshot and policy), then evaluates and
//   saves, every Save fenced by `term`. WaitLeadPosition gives the feed the loaded position. A
//   Save refused with FAILED_PRECONDITION (a newer term began) means deposed: it stops saving,
//   logs, counts (deposed), drops queued observations, and waits for Follow.
// - Follow(): stops evaluating and saving at once, drops queued observations (a successor reads
//   them from the batch log), reloads from the store and pushes changed flags to watchers.
// - Reload(): a follower reloads (another replica saved): a fresh Analyzer is loaded off the lock
//   and swapped in; every flag that is new or whose serialized bytes differ is pushed to the
//   watchers. Queued Reloads coalesce into one; a leader ignores them. A failed reload keeps the
//   state it had and is retried on the next tick (Lead's too: WaitLeadPosition returns its error).
// - SubmitLogged(batch, events, position): Submit (and OnNodeEvents) for the feed; the Save
//   after it carries `position` (the newest applied) with the facts in one transaction, even when
//   the batch changed nothing.
//
// Threads: Submit/SubmitLogged/OnNodeEvents/OnIdentityChanged/OnPolicyLoaded/OnInventoryChanged/
// Lead/Follow/Reload enqueue and return (Submit and SubmitLogged wait only when the queue holds
// max_pending reports: back-pressure on the writer rather than lost evidence). The engine thread
// takes everything queued, applies it in order under the mutex, evaluates the rules, saves the
// changes in one transaction and then notifies watchers (and calls on_saved). Queries take the
// mutex briefly. A failed save is logged and counted; the changes (and position) stay in memory
// and are saved with the next batch's (rows are idempotent upserts keyed by id).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
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
#include "server/store/repo/ingest_position.h"

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
  uint64_t dropped_not_leader = 0;  // observations and node events dropped: not leading
  uint64_t deposed = 0;             // saves refused because a newer leader term began
  uint64_t reloads = 0;             // state reloaded from the store (Lead, Follow, Reload)
  uint64_t reload_failures = 0;
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
    // The store, opened once at Start (PostgreSQL: AnalysisStore::Create over the repositories).
    // Null: AnalysisStore::Open(db_path) (SQLite).
    std::function<absl::StatusOr<std::unique_ptr<AnalysisStore>>()> open_store = nullptr;
    // false: start as a follower (header). true: lead from Start, unfenced (SQLite).
    bool lead_at_start = true;
    // Called on the engine thread after a Save that wrote flags, bundles or links (provd tells
    // the other replicas to Reload). Must not call back into the engine's queue synchronously
    // with a wait (Flush, WaitLeadPosition).
    std::function<void()> on_saved = nullptr;
  };
  static absl::StatusOr<std::unique_ptr<AnalysisEngine>> Start(Options options);
  ~AnalysisEngine() override;

  void Submit(std::vector<ReportObservation> batch);
  // Observations and node events read from the ingest batch log up to `position` (IngestFeed):
  // as Submit and OnNodeEvents (the observations first), and the Save after they are applied
  // carries the position, even when both are empty.
  void SubmitLogged(std::vector<ReportObservation> batch, std::vector<NodeEvent> events,
                    IngestPosition position);
  void SubmitLogged(std::vector<ReportObservation> batch, IngestPosition position) {
    SubmitLogged(std::move(batch), {}, std::move(position));
  }

  // Roles (header). Each is enqueued and returns at once; the engine thread applies them in order.
  void Lead(int64_t term);
  void Follow();
  void Reload();
  // Whether the engine evaluates and saves now: true from a Lead's reload (or Start, with
  // lead_at_start) until Follow is called or a Save finds it deposed.
  bool leading() const { return leading_.load(); }
  // Waits until the last Lead has been applied: the ingest position it loaded (nullopt: none
  // was saved, read from the zero position), or its reload's error; DEADLINE_EXCEEDED after
  // `timeout`; CANCELLED when Follow or Shutdown came after it (or no Lead was ever asked for).
  // With lead_at_start, the position loaded at Start.
  absl::StatusOr<std::optional<IngestPosition>> WaitLeadPosition(absl::Duration timeout);
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
  // LoggedBatch: SubmitLogged's. LeadCmd/FollowCmd carry the role epoch of their call (a later
  // Lead or Follow supersedes them); ReloadCmd: Reload's.
  struct InventoryReload {};
  struct LoggedBatch {
    std::vector<ReportObservation> observations;
    std::vector<NodeEvent> events;
    IngestPosition position;
  };
  struct LeadCmd {
    int64_t term = 0;
    uint64_t epoch = 0;
  };
  struct FollowCmd {
    uint64_t epoch = 0;
  };
  struct ReloadCmd {};
  using Item =
      std::variant<std::vector<ReportObservation>, IdentitySnapshot,
                   std::shared_ptr<const policy::Policy>, std::vector<NodeEvent>, std::monostate,
                   InventoryReload, LoggedBatch, LeadCmd, FollowCmd, ReloadCmd>;
  struct Applied {
    size_t analysed = 0;  // observations analysed
    size_t dropped = 0;   // observations and node events dropped (not leading)
  };
  // A fresh analyzer loaded from the store with what the engine keeps (engine thread, no lock).
  struct Loaded {
    std::unique_ptr<Analyzer> analyzer;
    std::optional<IngestPosition> position;
  };

  void LoadInventory(Analyzer& analyzer);
  AnalysisEngine(Options options, std::unique_ptr<AnalysisStore> store);
  void Run();
  Applied Apply(std::vector<Item>& items);
  // Reports (and node events) queued, counted with the reports they hold.
  static size_t Reports(const Item& item);
  static size_t LoggedEvents(const Item& item);  // a LoggedBatch's node events
  // Removes the queued observations, node events and logged batches (as dropped); their count.
  size_t DropQueuedObservations() ABSL_EXCLUSIVE_LOCKS_REQUIRED(queue_mu_);
  void Enqueue(Item item) ABSL_EXCLUSIVE_LOCKS_REQUIRED(queue_mu_);
  // Role handling on the engine thread (analysis_engine_roles.cc).
  absl::StatusOr<Loaded> LoadFresh();
  // Swaps `fresh` in; the flags that are new or differ from the previous state.
  std::vector<provenance::v1::Flag> Swap(std::unique_ptr<Analyzer> fresh);
  void ApplyLead(const LeadCmd& cmd, std::vector<provenance::v1::Flag>& push);
  void ApplyFollow(const FollowCmd& cmd, std::vector<provenance::v1::Flag>& push);
  void ApplyReload(std::vector<provenance::v1::Flag>& push);
  // A Save refused because a newer term began.
  void OnDeposed(const absl::Status& refused);
  void PushToWatchers(const std::vector<provenance::v1::Flag>& flags);

  const Options options_;
  std::unique_ptr<AnalysisStore> store_;  // engine thread only

  // Engine thread only (and Start, before the thread).
  std::shared_ptr<const policy::Policy> policy_;    // the newest given
  std::optional<IdentitySnapshot> identity_;        // the newest given
  std::optional<int64_t> term_;                     // Lead's term: fences every Save
  std::optional<IngestPosition> unsaved_position_;  // applied, not saved yet
  std::optional<LeadCmd> lead_retry_;               // a Lead whose reload failed
  // When a failed reload (lead_retry_, reload_retry_) is tried again: a tick after it failed.
  std::chrono::steady_clock::time_point retry_due_{};
  bool reload_retry_ = false;  // a Follow/Reload whose reload failed

  std::atomic<bool> leading_{false};  // written under queue_mu_

  mutable absl::Mutex mu_;  // the analyzer
  std::unique_ptr<Analyzer> analyzer_ ABSL_GUARDED_BY(mu_);

  mutable absl::Mutex queue_mu_;
  std::vector<Item> queue_ ABSL_GUARDED_BY(queue_mu_);
  size_t queued_reports_ ABSL_GUARDED_BY(queue_mu_) = 0;
  uint64_t submitted_ ABSL_GUARDED_BY(queue_mu_) = 0;  // items ever queued
  uint64_t done_ ABSL_GUARDED_BY(queue_mu_) = 0;       // items applied and saved
  bool stopping_ ABSL_GUARDED_BY(queue_mu_) = false;
  AnalysisCounters counters_ ABSL_GUARDED_BY(queue_mu_);
  // Bumped by every Lead() and Follow(); want_lead_: the last of them was a Lead.
  uint64_t role_epoch_ ABSL_GUARDED_BY(queue_mu_) = 0;
  bool want_lead_ ABSL_GUARDED_BY(queue_mu_) = false;
  // The outcome of the Lead of epoch lead_result_epoch_ (WaitLeadPosition).
  uint64_t lead_result_epoch_ ABSL_GUARDED_BY(queue_mu_) = 0;
  std::optional<absl::StatusOr<std::optional<IngestPosition>>> lead_result_
      ABSL_GUARDED_BY(queue_mu_);
  bool reload_queued_ ABSL_GUARDED_BY(queue_mu_) = false;

  absl::Mutex watch_mu_;
  std::vector<std::shared_ptr<FlagWatch>> watches_ ABSL_GUARDED_BY(watch_mu_);

  std::thread thread_;
};

}  // namespace prov::server
