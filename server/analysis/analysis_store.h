// AnalysisStore: the analysis engine's persisted state, over an AnalysisFactsRepository
// (server/store/repo/analysis_facts.h: tables analysis_nodes, analysis_workloads, links, bundles,
// bundle_accounts, flags, flag_accounts), and the declared inventory it loads (SQLite).
//
//   PROV_ASSIGN_OR_RETURN(auto store, AnalysisStore::Open(data_dir + "/provd.db"));
//   PROV_RETURN_IF_ERROR(store->Load(analyzer));          // at start-up, before any report
//   AnalyzerChanges changes = analyzer.TakeChanges();
//   PROV_RETURN_IF_ERROR(store->Save(analyzer, changes));  // ONE transaction per call
//
// Open gives it the SQLite repository on its own read-write connection (WAL lets it write beside
// the ingest writer; busy_timeout serialises the two), which LoadInventory reads too. Load()
// restores the analyzer from the repository's rows and reconciles each workload's training FLOP
// with the ingest ledger (`workloads` table), which is committed before the analysis sees a
// report: a crash between the two loses no compute, only evidence the next reports carry again.
// Save() hands the analyzer's changed rows to the repository (a leader term, when given, fences
// the write on PostgreSQL).
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
#include "server/store/sqlite.h"

namespace prov::server {

class AnalysisStore {
 public:
  static absl::StatusOr<std::unique_ptr<AnalysisStore>> Open(const std::string& path);
  // Facts from `facts` (either engine); the inventory from `inventory_db` (SQLite, migrated).
  static std::unique_ptr<AnalysisStore> Create(std::unique_ptr<AnalysisFactsRepository> facts,
                                               std::unique_ptr<SqliteDb> inventory_db);

  absl::Status Load(Analyzer& analyzer);
  absl::Status Save(const Analyzer& analyzer, const AnalyzerChanges& changes,
                    std::optional<int64_t> leader_term = std::nullopt);
  // The declared inventory as the store holds it now (server/store/inventory_store.h), indexed,
  // its version (0, with an empty index, when nothing was imported), and the cards an import
  // since `moved_since` declared on another node than the version before (serial, previous
  // node, import time): planned moves whose grace a restart must not forget.
  struct LoadedInventory {
    std::shared_ptr<const inventory::InventoryIndex> index;
    int64_t version = 0;
    std::vector<std::tuple<std::string, std::string, absl::Time>> redeclared;
  };
  absl::StatusOr<LoadedInventory> LoadInventory(absl::Time moved_since);

 private:
  AnalysisStore(std::unique_ptr<AnalysisFactsRepository> facts, std::unique_ptr<SqliteDb> db)
      : db_(std::move(db)), facts_(std::move(facts)) {}

  std::unique_ptr<SqliteDb> db_;                    // the inventory's (and, from Open, facts_')
  std::unique_ptr<AnalysisFactsRepository> facts_;  // destroyed before db_
};

}  // namespace prov::server
