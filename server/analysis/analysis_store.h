// AnalysisStore: the analysis engine's persisted state, over an AnalysisFactsRepository
// (server/store/repo/analysis_facts.h: tables analysis_nodes, analysis_workloads, links, bundles,
// bundle_accounts, flags, flag_accounts), and the declared inventory it loads through an
// InventoryRepository (server/store/repo/inventory.h). Either engine: the repositories decide.
//
//   PROV_ASSIGN_OR_RETURN(auto store, AnalysisStore::Open(data_dir + "/provd.db"));  // SQLite
//   auto store = AnalysisStore::Create(std::move(facts), std::move(inventory));      // any engine
//   PROV_ASSIGN_OR_RETURN(std::optional<IngestPosition> pos, store->Load(analyzer));  // at start
//   AnalyzerChanges changes = analyzer.TakeChanges();
//   PROV_RETURN_IF_ERROR(store->Save(analyzer, changes, term, pos));  // ONE transaction per call
//
// Open gives it SQLite's repositories on `path`: the facts on a read-write connection of their own
// (WAL lets it write beside the ingest writer; busy_timeout serialises the two), the inventory on
// SqliteInventoryRepository's. Load() restores the analyzer from the repository's rows, reconciles
// each workload's training FLOP with the ingest ledger (`workloads` table), which is committed
// before the analysis sees a report (a crash between the two loses no compute, only evidence the
// next reports carry again), and returns the ingest position saved with the facts (PostgreSQL;
// nullopt when none, and always on SQLite). Save() hands the analyzer's changed rows, and the
// position when given, to the repository (a leader term, when given, fences the write on
// PostgreSQL: FAILED_PRECONDITION once a newer term began).
// Thread-compatible: one thread (the engine's) uses it.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/analysis/analyzer.h"
#include "server/inventory/inventory_index.h"
#include "server/store/repo/analysis_facts.h"
#include "server/store/repo/ingest_position.h"
#include "server/store/repo/inventory.h"

namespace prov::server {

class AnalysisStore {
 public:
  static absl::StatusOr<std::unique_ptr<AnalysisStore>> Open(const std::string& path);
  static std::unique_ptr<AnalysisStore> Create(std::unique_ptr<AnalysisFactsRepository> facts,
                                               std::unique_ptr<InventoryRepository> inventory);

  // Restores `analyzer` (fresh) from the stored facts; the ingest position saved with them.
  absl::StatusOr<std::optional<IngestPosition>> Load(Analyzer& analyzer);
  // Nothing to do when `changes` is empty and no position is given.
  absl::Status Save(const Analyzer& analyzer, const AnalyzerChanges& changes,
                    std::optional<int64_t> leader_term = std::nullopt,
                    std::optional<IngestPosition> ingest_position = std::nullopt);
  // The declared inventory as the store holds it now (InventoryRepository), indexed, its version
  // (0, with an empty index, when nothing was imported), and the cards an import since
  // `moved_since` declared on another node than the version before (serial, previous node,
  // import time): planned moves whose grace a restart must not forget.
  struct LoadedInventory {
    std::shared_ptr<const inventory::InventoryIndex> index;
    int64_t version = 0;
    std::vector<std::tuple<std::string, std::string, absl::Time>> redeclared;
  };
  absl::StatusOr<LoadedInventory> LoadInventory(absl::Time moved_since);

 private:
  AnalysisStore(std::unique_ptr<AnalysisFactsRepository> facts,
                std::unique_ptr<InventoryRepository> inventory)
      : facts_(std::move(facts)), inventory_(std::move(inventory)) {}

  std::unique_ptr<AnalysisFactsRepository> facts_;
  std::unique_ptr<InventoryRepository> inventory_;
};

}  // namespace prov::server
