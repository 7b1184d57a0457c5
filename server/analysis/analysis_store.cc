#include "server/analysis/analysis_store.h"

#include <memory>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/store/sqlite/sqlite_analysis_facts.h"
#include "server/store/sqlite/sqlite_inventory.h"

namespace prov::server {

absl::StatusOr<std::unique_ptr<AnalysisStore>> AnalysisStore::Open(const std::string& path) {
  PROV_ASSIGN_OR_RETURN(auto facts, SqliteAnalysisFactsRepository::Open(path));
  PROV_ASSIGN_OR_RETURN(auto inventory, SqliteInventoryRepository::Open(path));
  return Create(std::move(facts), std::move(inventory));
}

std::unique_ptr<AnalysisStore> AnalysisStore::Create(
    std::unique_ptr<AnalysisFactsRepository> facts,
    std::unique_ptr<InventoryRepository> inventory) {
  return std::unique_ptr<AnalysisStore>(new AnalysisStore(std::move(facts), std::move(inventory)));
}

absl::StatusOr<AnalysisStore::LoadedInventory> AnalysisStore::LoadInventory(
    absl::Time moved_since) {
  LoadedInventory out;
  PROV_ASSIGN_OR_RETURN(out.version, inventory_->LatestVersion());
  PROV_ASSIGN_OR_RETURN(std::vector<provenance::v1::InventoryEntry> entries, inventory_->LoadAll());
  // Rows changed since moved_since (an identical re-import keeps a row's version and time, so
  // these are few): did that change move the card to another node?
  for (const auto& e : entries) {
    const absl::Time at = absl::FromUnixSeconds(e.imported_at().seconds());
    if (at < moved_since || e.version() <= 1) continue;
    PROV_ASSIGN_OR_RETURN(std::vector<provenance::v1::InventoryEntry> history,
                          inventory_->History(e.declared().serial()));
    for (const auto& h : history) {  // newest first
      if (h.version() >= e.version()) continue;
      if (!h.declared().node_id().empty() && h.declared().node_id() != e.declared().node_id()) {
        out.redeclared.emplace_back(e.declared().serial(), h.declared().node_id(), at);
      }
      break;
    }
  }
  out.index = std::make_shared<const inventory::InventoryIndex>(std::move(entries));
  return out;
}

absl::StatusOr<std::optional<IngestPosition>> AnalysisStore::Load(Analyzer& analyzer) {
  PROV_ASSIGN_OR_RETURN(AnalysisFacts facts, facts_->Load());
  // SQLite (no saved position): the ingest ledger is authoritative for compute, since reports
  // committed but not yet analysed when provd stopped are never handed to the engine again.
  // With a saved batch-log position (PostgreSQL) the leader's feed replays every batch after
  // it: the ledger, written at each ingest commit, already counts those batches, and taking it
  // here would count their FLOP twice (a tier crossing dated too early after every takeover).
  absl::flat_hash_map<std::string, const AnalysisLedgerRow*> ledger;
  if (!facts.ingest_position.has_value()) {
    for (const AnalysisLedgerRow& r : facts.ledger) {
      ledger[absl::StrCat(r.node_id, "/", r.workload_id)] = &r;
    }
  }
  for (auto& n : facts.nodes) analyzer.RestoreNode(std::move(n));
  for (auto& w : facts.workloads) {
    auto l = ledger.find(w.key());
    if (l != ledger.end() && l->second->workload_class == provenance::v1::WORKLOAD_CLASS_TRAINING &&
        l->second->flop_low > w.training_flop_low()) {
      w.set_training_flop_low(l->second->flop_low);
      w.set_training_flop_high(l->second->flop_high);
      w.set_training_accelerator_seconds(l->second->accelerator_seconds);
    }
    analyzer.RestoreWorkload(std::move(w));
  }
  for (auto& [key, l] : facts.links) analyzer.RestoreLink(key, std::move(l));
  for (auto& b : facts.bundles) analyzer.RestoreBundle(std::move(b));
  for (auto& f : facts.flags) analyzer.RestoreFlag(std::move(f));
  analyzer.FinishRestore();
  return facts.ingest_position;
}

absl::Status AnalysisStore::Save(const Analyzer& analyzer, const AnalyzerChanges& changes,
                                 std::optional<int64_t> leader_term,
                                 std::optional<IngestPosition> ingest_position) {
  if (changes.empty() && !ingest_position.has_value()) return absl::OkStatus();
  // The rows the analyzer still holds (an id it no longer knows is skipped, as before).
  AnalysisFactsChanges rows;
  for (const std::string& id : changes.nodes) {
    if (const auto* n = analyzer.node(id)) rows.nodes.emplace_back(id, n);
  }
  for (const std::string& key : changes.workloads) {
    if (const auto* w = analyzer.workload(key)) rows.workloads.emplace_back(key, w);
  }
  rows.removed_links = changes.removed_links;
  for (const std::string& key : changes.links) {
    if (const auto* l = analyzer.link(key)) rows.links.emplace_back(key, l);
  }
  for (const std::string& id : changes.bundles) {
    if (auto b = analyzer.bundle(id)) rows.bundles.emplace_back(id, *std::move(b));
  }
  for (const std::string& id : changes.flags) {
    if (const auto* f = analyzer.flag(id)) rows.flags.emplace_back(id, f);
  }
  rows.ingest_position = std::move(ingest_position);
  return facts_->Save(rows, leader_term);
}

}  // namespace prov::server
