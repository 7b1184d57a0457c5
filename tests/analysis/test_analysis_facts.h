// TestAnalysisFacts: an AnalysisFactsRepository for engine tests: SQLite's rows (a real
// repository underneath), plus what PostgreSQL's adds that SQLite refuses: the ingest position
// saved with the facts, handed back by Load (as analysis_position is). Loads can be made to fail
// or to wait at a gate, so a test can hold the engine thread inside a reload.
//
//   TestAnalysisFacts::Shared shared;                    // outlives the engine
//   o.open_store = [&] { return TestAnalysisStore(path, shared); };
//   shared.HoldLoads();  engine->Reload();  shared.WaitForHeldLoad();  ...;  shared.ReleaseLoads();
//
// Thread-safe (the engine thread loads and saves, the test steers).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/status_macros.h"
#include "server/analysis/analysis_store.h"
#include "server/store/sqlite/sqlite_analysis_facts.h"
#include "server/store/sqlite/sqlite_inventory.h"

namespace prov::server::testing {

class TestAnalysisFacts : public AnalysisFactsRepository {
 public:
  struct Shared {
    absl::Mutex mu;
    std::vector<IngestPosition> positions ABSL_GUARDED_BY(mu);   // saved, in order
    std::optional<absl::Status> fail_loads ABSL_GUARDED_BY(mu);  // every Load fails with it
    bool hold ABSL_GUARDED_BY(mu) = false;                       // Loads wait while set
    int held ABSL_GUARDED_BY(mu) = 0;                            // Loads waiting now
    int loads ABSL_GUARDED_BY(mu) = 0;                           // Loads started

    std::vector<IngestPosition> Positions() {
      absl::MutexLock lock(&mu);
      return positions;
    }
    void FailLoads(std::optional<absl::Status> s) {
      absl::MutexLock lock(&mu);
      fail_loads = std::move(s);
    }
    void HoldLoads() {
      absl::MutexLock lock(&mu);
      hold = true;
    }
    void ReleaseLoads() {
      absl::MutexLock lock(&mu);
      hold = false;
    }
    // Until a Load waits at the gate; false after 10 s.
    bool WaitForHeldLoad() {
      absl::MutexLock lock(&mu);
      auto waiting = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu) { return held > 0; };
      return mu.AwaitWithTimeout(absl::Condition(&waiting), absl::Seconds(10));
    }
    int Loads() {
      absl::MutexLock lock(&mu);
      return loads;
    }
  };

  TestAnalysisFacts(std::unique_ptr<AnalysisFactsRepository> rows, Shared& shared)
      : rows_(std::move(rows)), shared_(shared) {}

  absl::StatusOr<AnalysisFacts> Load() override {
    {
      absl::MutexLock lock(&shared_.mu);
      ++shared_.loads;
      ++shared_.held;
      auto open = [this]() ABSL_SHARED_LOCKS_REQUIRED(shared_.mu) { return !shared_.hold; };
      shared_.mu.Await(absl::Condition(&open));
      --shared_.held;
      if (shared_.fail_loads.has_value()) return *shared_.fail_loads;
    }
    absl::StatusOr<AnalysisFacts> facts = rows_->Load();
    if (!facts.ok()) return facts;
    absl::MutexLock lock(&shared_.mu);
    if (!shared_.positions.empty()) facts->ingest_position = shared_.positions.back();
    return facts;
  }
  absl::Status Save(const AnalysisFactsChanges& changes,
                    std::optional<int64_t> leader_term) override {
    AnalysisFactsChanges rows = changes;
    rows.ingest_position.reset();
    absl::Status s = rows_->Save(rows, leader_term);
    if (s.ok() && changes.ingest_position.has_value()) {
      absl::MutexLock lock(&shared_.mu);
      shared_.positions.push_back(*changes.ingest_position);
    }
    return s;
  }

 private:
  std::unique_ptr<AnalysisFactsRepository> rows_;
  Shared& shared_;
};

// An AnalysisStore over TestAnalysisFacts on the SQLite file `path` (inventory: SQLite's).
inline absl::StatusOr<std::unique_ptr<AnalysisStore>> TestAnalysisStore(
    const std::string& path, TestAnalysisFacts::Shared& shared) {
  PROV_ASSIGN_OR_RETURN(auto rows, SqliteAnalysisFactsRepository::Open(path));
  PROV_ASSIGN_OR_RETURN(auto inventory, SqliteInventoryRepository::Open(path));
  return AnalysisStore::Create(std::make_unique<TestAnalysisFacts>(std::move(rows), shared),
                               std::move(inventory));
}

}  // namespace prov::server::testing
