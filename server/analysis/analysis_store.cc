#include "server/analysis/analysis_store.h"

#include <limits>
#include <memory>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/store/inventory_store.h"
#include "server/store/schema.h"

namespace prov::server {
namespace {

template <typename Proto>
absl::StatusOr<Proto> ParseRow(const std::string& blob, absl::string_view table,
                               const std::string& key) {
  Proto p;
  if (!p.ParseFromString(blob)) {
    return absl::DataLossError(absl::StrCat(table, " row ", key, ": stored proto does not parse"));
  }
  return p;
}

// Runs a cached statement once with the bindings `bind` sets, then resets it.
absl::Status RunCached(SqliteDb& db, absl::string_view sql,
                       absl::FunctionRef<void(Statement&)> bind) {
  PROV_ASSIGN_OR_RETURN(Statement * st, db.Cached(sql));
  bind(*st);
  absl::Status status = st->Run();
  st->Reset();
  return status;
}

// Replaces the (account_id, <owner_column>) rows of `table` for one owner with `accounts`.
absl::Status ReplaceMembers(SqliteDb& db, absl::string_view table, absl::string_view owner_column,
                            const std::string& owner,
                            const google::protobuf::RepeatedPtrField<std::string>& accounts) {
  PROV_RETURN_IF_ERROR(
      RunCached(db, absl::StrCat("DELETE FROM ", table, " WHERE ", owner_column, " = ?"),
                [&](Statement& st) { st.BindText(1, owner); }));
  const std::string insert = absl::StrCat("INSERT OR REPLACE INTO ", table, " (account_id, ",
                                          owner_column, ") VALUES (?, ?)");
  for (const std::string& a : accounts) {
    PROV_RETURN_IF_ERROR(RunCached(db, insert, [&](Statement& st) {
      st.BindText(1, a);
      st.BindText(2, owner);
    }));
  }
  return absl::OkStatus();
}

struct LedgerRow {
  int workload_class = 0;
  double flop_low = 0, flop_high = 0, seconds = 0;
};

}  // namespace

absl::StatusOr<std::unique_ptr<AnalysisStore>> AnalysisStore::Open(const std::string& path) {
  PROV_ASSIGN_OR_RETURN(auto db, SqliteDb::Open(path, SqliteDb::kReadWrite));
  PROV_RETURN_IF_ERROR(db->Exec("PRAGMA busy_timeout=10000"));
  PROV_RETURN_IF_ERROR(db->Exec("PRAGMA journal_mode=WAL"));
  PROV_RETURN_IF_ERROR(db->Exec("PRAGMA synchronous=NORMAL"));
  PROV_RETURN_IF_ERROR(MigrateSchema(*db));
  return std::unique_ptr<AnalysisStore>(new AnalysisStore(std::move(db)));
}

absl::StatusOr<AnalysisStore::LoadedInventory> AnalysisStore::LoadInventory(
    absl::Time moved_since) {
  LoadedInventory out;
  PROV_ASSIGN_OR_RETURN(out.version, LatestInventoryVersion(*db_));
  InventoryQuery all;
  all.limit = static_cast<size_t>(std::numeric_limits<int64_t>::max());
  PROV_ASSIGN_OR_RETURN(std::vector<provenance::v1::InventoryEntry> entries,
                        ListInventory(*db_, all));
  // Rows changed since moved_since (an identical re-import keeps a row's version and time, so
  // these are few): did that change move the card to another node?
  for (const auto& e : entries) {
    const absl::Time at = absl::FromUnixSeconds(e.imported_at().seconds());
    if (at < moved_since || e.version() <= 1) continue;
    PROV_ASSIGN_OR_RETURN(std::vector<provenance::v1::InventoryEntry> history,
                          InventoryHistory(*db_, e.declared().serial()));
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

absl::Status AnalysisStore::Load(Analyzer& analyzer) {
  // The ingest ledger is authoritative for compute.
  absl::flat_hash_map<std::string, LedgerRow> ledger;
  {
    PROV_ASSIGN_OR_RETURN(auto st,
                          db_->Prepare("SELECT n.node_id, w.workload_id, w.workload_class, "
                                       "w.flop_low, w.flop_high, w.accelerator_seconds "
                                       "FROM workloads w JOIN nodes n ON n.id = w.node"));
    while (true) {
      PROV_ASSIGN_OR_RETURN(bool row, st->Step());
      if (!row) break;
      LedgerRow& r = ledger[absl::StrCat(st->ColumnText(0), "/", st->ColumnText(1))];
      r.workload_class = static_cast<int>(st->ColumnInt64(2));
      r.flop_low = st->ColumnDouble(3);
      r.flop_high = st->ColumnDouble(4);
      r.seconds = st->ColumnDouble(5);
    }
  }
  PROV_ASSIGN_OR_RETURN(auto nodes, db_->Prepare("SELECT node_id, facts FROM analysis_nodes"));
  while (true) {
    PROV_ASSIGN_OR_RETURN(bool row, nodes->Step());
    if (!row) break;
    PROV_ASSIGN_OR_RETURN(
        auto n, ParseRow<provenance::v1::NodeFacts>(nodes->ColumnBlob(1), "analysis_nodes",
                                                    nodes->ColumnText(0)));
    analyzer.RestoreNode(std::move(n));
  }
  PROV_ASSIGN_OR_RETURN(auto wls,
                        db_->Prepare("SELECT workload_key, facts FROM analysis_workloads"));
  while (true) {
    PROV_ASSIGN_OR_RETURN(bool row, wls->Step());
    if (!row) break;
    PROV_ASSIGN_OR_RETURN(
        auto w, ParseRow<provenance::v1::WorkloadFacts>(wls->ColumnBlob(1), "analysis_workloads",
                                                        wls->ColumnText(0)));
    auto l = ledger.find(w.key());
    if (l != ledger.end() && l->second.workload_class == provenance::v1::WORKLOAD_CLASS_TRAINING &&
        l->second.flop_low > w.training_flop_low()) {
      w.set_training_flop_low(l->second.flop_low);
      w.set_training_flop_high(l->second.flop_high);
      w.set_training_accelerator_seconds(l->second.seconds);
    }
    analyzer.RestoreWorkload(std::move(w));
  }
  PROV_ASSIGN_OR_RETURN(auto links, db_->Prepare("SELECT link_key, link FROM links"));
  while (true) {
    PROV_ASSIGN_OR_RETURN(bool row, links->Step());
    if (!row) break;
    const std::string key = links->ColumnText(0);
    PROV_ASSIGN_OR_RETURN(auto l,
                          ParseRow<provenance::v1::Link>(links->ColumnBlob(1), "links", key));
    analyzer.RestoreLink(key, std::move(l));
  }
  PROV_ASSIGN_OR_RETURN(auto bundles, db_->Prepare("SELECT bundle_id, bundle FROM bundles"));
  while (true) {
    PROV_ASSIGN_OR_RETURN(bool row, bundles->Step());
    if (!row) break;
    PROV_ASSIGN_OR_RETURN(auto b, ParseRow<provenance::v1::Bundle>(
                                      bundles->ColumnBlob(1), "bundles", bundles->ColumnText(0)));
    analyzer.RestoreBundle(std::move(b));
  }
  PROV_ASSIGN_OR_RETURN(auto flags, db_->Prepare("SELECT flag_id, flag FROM flags"));
  while (true) {
    PROV_ASSIGN_OR_RETURN(bool row, flags->Step());
    if (!row) break;
    PROV_ASSIGN_OR_RETURN(auto f, ParseRow<provenance::v1::Flag>(flags->ColumnBlob(1), "flags",
                                                                 flags->ColumnText(0)));
    analyzer.RestoreFlag(std::move(f));
  }
  analyzer.FinishRestore();
  return absl::OkStatus();
}

absl::Status AnalysisStore::Save(const Analyzer& analyzer, const AnalyzerChanges& changes) {
  if (changes.empty()) return absl::OkStatus();
  PROV_RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
  absl::Status status = SaveRows(analyzer, changes);
  if (!status.ok()) {
    (void)db_->Exec("ROLLBACK");
    return status;
  }
  return db_->Exec("COMMIT");
}

absl::Status AnalysisStore::SaveRows(const Analyzer& analyzer, const AnalyzerChanges& changes) {
  SqliteDb& db = *db_;
  std::string blob;
  for (const std::string& id : changes.nodes) {
    const auto* n = analyzer.node(id);
    if (n == nullptr) continue;
    n->SerializeToString(&blob);
    PROV_RETURN_IF_ERROR(
        RunCached(db, "INSERT OR REPLACE INTO analysis_nodes VALUES (?, ?)", [&](Statement& st) {
          st.BindText(1, id);
          st.BindBlob(2, blob);
        }));
  }
  for (const std::string& key : changes.workloads) {
    const auto* w = analyzer.workload(key);
    if (w == nullptr) continue;
    w->SerializeToString(&blob);
    PROV_RETURN_IF_ERROR(RunCached(db, "INSERT OR REPLACE INTO analysis_workloads VALUES (?, ?)",
                                   [&](Statement& st) {
                                     st.BindText(1, key);
                                     st.BindBlob(2, blob);
                                   }));
  }
  for (const std::string& key : changes.removed_links) {
    PROV_RETURN_IF_ERROR(RunCached(db, "DELETE FROM links WHERE link_key = ?",
                                   [&](Statement& st) { st.BindText(1, key); }));
  }
  for (const std::string& key : changes.links) {
    const auto* l = analyzer.link(key);
    if (l == nullptr) continue;
    l->SerializeToString(&blob);
    PROV_RETURN_IF_ERROR(
        RunCached(db, "INSERT OR REPLACE INTO links VALUES (?, ?, ?, ?, ?)", [&](Statement& st) {
          st.BindText(1, key);
          st.BindText(2, l->kind());
          st.BindText(3, l->account_a());
          st.BindText(4, l->account_b());
          st.BindBlob(5, blob);
        }));
  }
  for (const std::string& id : changes.bundles) {
    const auto b = analyzer.bundle(id);
    if (!b) continue;
    b->SerializeToString(&blob);
    PROV_RETURN_IF_ERROR(
        RunCached(db, "INSERT OR REPLACE INTO bundles VALUES (?, ?, ?, ?)", [&](Statement& st) {
          st.BindText(1, id);
          st.BindText(2, b->merged_into());
          st.BindInt64(3, b->last_time().seconds() * 1000000);
          st.BindBlob(4, blob);
        }));
    PROV_RETURN_IF_ERROR(ReplaceMembers(db, "bundle_accounts", "bundle_id", id, b->accounts()));
  }
  for (const std::string& id : changes.flags) {
    const auto* f = analyzer.flag(id);
    if (f == nullptr) continue;
    f->SerializeToString(&blob);
    PROV_RETURN_IF_ERROR(RunCached(
        db, "INSERT OR REPLACE INTO flags VALUES (?, ?, ?, ?, ?, ?, ?)", [&](Statement& st) {
          st.BindText(1, id);
          st.BindText(2, f->rule());
          st.BindText(3, f->subject());
          st.BindInt64(4, f->severity());
          st.BindInt64(5, f->status());
          st.BindInt64(6, f->updated_at().seconds() * 1000000 + f->updated_at().nanos() / 1000);
          st.BindBlob(7, blob);
        }));
    PROV_RETURN_IF_ERROR(ReplaceMembers(db, "flag_accounts", "flag_id", id, f->accounts()));
  }
  return absl::OkStatus();
}

}  // namespace prov::server
