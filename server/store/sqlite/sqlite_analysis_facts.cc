#include "server/store/sqlite/sqlite_analysis_facts.h"

#include <memory>
#include <utility>

#include "absl/functional/function_ref.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/store/connection.h"
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

// Reads (key, blob) rows of `sql` into `out` as parsed protos.
template <typename Proto, typename Add>
absl::Status ReadBlobs(SqliteDb& db, absl::string_view sql, absl::string_view table, Add add) {
  PROV_ASSIGN_OR_RETURN(auto st, db.Prepare(sql));
  while (true) {
    PROV_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    std::string key = st->ColumnText(0);
    PROV_ASSIGN_OR_RETURN(Proto p, ParseRow<Proto>(st->ColumnBlob(1), table, key));
    add(std::move(key), std::move(p));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteDb>> OpenSqliteAnalysisDb(const std::string& path) {
  PROV_ASSIGN_OR_RETURN(auto db, SqliteDb::Open(path, SqliteDb::kReadWrite));
  PROV_RETURN_IF_ERROR(db->Exec("PRAGMA busy_timeout=10000"));
  PROV_RETURN_IF_ERROR(ConfigureWriter(*db));
  PROV_RETURN_IF_ERROR(MigrateSchema(*db));
  return db;
}

absl::StatusOr<std::unique_ptr<SqliteAnalysisFactsRepository>> SqliteAnalysisFactsRepository::Open(
    const std::string& db_path) {
  PROV_ASSIGN_OR_RETURN(auto db, OpenSqliteAnalysisDb(db_path));
  return std::unique_ptr<SqliteAnalysisFactsRepository>(
      new SqliteAnalysisFactsRepository(std::move(db)));
}

absl::StatusOr<AnalysisFacts> SqliteAnalysisFactsRepository::Load() {
  SqliteDb& db = *db_;
  AnalysisFacts out;
  {
    PROV_ASSIGN_OR_RETURN(auto st, db.Prepare("SELECT n.node_id, w.workload_id, w.workload_class, "
                                              "w.flop_low, w.flop_high, w.accelerator_seconds "
                                              "FROM workloads w JOIN nodes n ON n.id = w.node "
                                              "ORDER BY n.node_id, w.workload_id"));
    while (true) {
      PROV_ASSIGN_OR_RETURN(bool row, st->Step());
      if (!row) break;
      AnalysisLedgerRow& r = out.ledger.emplace_back();
      r.node_id = st->ColumnText(0);
      r.workload_id = st->ColumnText(1);
      r.workload_class = st->ColumnInt64(2);
      r.flop_low = st->ColumnDouble(3);
      r.flop_high = st->ColumnDouble(4);
      r.accelerator_seconds = st->ColumnDouble(5);
    }
  }
  PROV_RETURN_IF_ERROR(ReadBlobs<provenance::v1::NodeFacts>(
      db, "SELECT node_id, facts FROM analysis_nodes ORDER BY node_id", "analysis_nodes",
      [&](std::string, provenance::v1::NodeFacts p) { out.nodes.push_back(std::move(p)); }));
  PROV_RETURN_IF_ERROR(ReadBlobs<provenance::v1::WorkloadFacts>(
      db, "SELECT workload_key, facts FROM analysis_workloads ORDER BY workload_key",
      "analysis_workloads", [&](std::string, provenance::v1::WorkloadFacts p) {
        out.workloads.push_back(std::move(p));
      }));
  PROV_RETURN_IF_ERROR(
      ReadBlobs<provenance::v1::Link>(db, "SELECT link_key, link FROM links ORDER BY link_key",
                                      "links", [&](std::string key, provenance::v1::Link p) {
                                        out.links.emplace_back(std::move(key), std::move(p));
                                      }));
  PROV_RETURN_IF_ERROR(ReadBlobs<provenance::v1::Bundle>(
      db, "SELECT bundle_id, bundle FROM bundles ORDER BY bundle_id", "bundles",
      [&](std::string, provenance::v1::Bundle p) { out.bundles.push_back(std::move(p)); }));
  PROV_RETURN_IF_ERROR(ReadBlobs<provenance::v1::Flag>(
      db, "SELECT flag_id, flag FROM flags ORDER BY flag_id", "flags",
      [&](std::string, provenance::v1::Flag p) { out.flags.push_back(std::move(p)); }));
  return out;
}

absl::Status SqliteAnalysisFactsRepository::Save(const AnalysisFactsChanges& changes,
                                                 std::optional<int64_t> /*leader_term*/) {
  PROV_RETURN_IF_ERROR(ValidateAnalysisFactsChanges(changes));
  if (changes.ingest_position.has_value()) {
    return absl::InvalidArgumentError(
        "analysis facts: an ingest position on SQLite, which has no ingest batch log (one provd "
        "feeds its engine in process)");
  }
  if (changes.empty()) return absl::OkStatus();
  PROV_RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
  absl::Status status = SaveRows(changes);
  if (!status.ok()) {
    (void)db_->Exec("ROLLBACK");
    return status;
  }
  return db_->Exec("COMMIT");
}

absl::Status SqliteAnalysisFactsRepository::SaveRows(const AnalysisFactsChanges& changes) {
  SqliteDb& db = *db_;
  std::string blob;
  for (const auto& entry : changes.nodes) {
    // Named references (clang 14 cannot capture structured bindings in lambdas).
    const auto& id = entry.first;
    const auto& n = entry.second;
    n->SerializeToString(&blob);
    PROV_RETURN_IF_ERROR(
        RunCached(db, "INSERT OR REPLACE INTO analysis_nodes VALUES (?, ?)", [&](Statement& st) {
          st.BindText(1, id);
          st.BindBlob(2, blob);
        }));
  }
  for (const auto& entry : changes.workloads) {
    // Named references (clang 14 cannot capture structured bindings in lambdas).
    const auto& key = entry.first;
    const auto& w = entry.second;
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
  for (const auto& entry : changes.links) {
    // Named references (clang 14 cannot capture structured bindings in lambdas).
    const auto& key = entry.first;
    const auto& l = entry.second;
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
  for (const auto& entry : changes.bundles) {
    // Named references (clang 14 cannot capture structured bindings in lambdas).
    const auto& id = entry.first;
    const auto& b = entry.second;
    b.SerializeToString(&blob);
    PROV_RETURN_IF_ERROR(
        RunCached(db, "INSERT OR REPLACE INTO bundles VALUES (?, ?, ?, ?)", [&](Statement& st) {
          st.BindText(1, id);
          st.BindText(2, b.merged_into());
          st.BindInt64(3, b.last_time().seconds() * 1000000);
          st.BindBlob(4, blob);
        }));
    PROV_RETURN_IF_ERROR(ReplaceMembers(db, "bundle_accounts", "bundle_id", id, b.accounts()));
  }
  for (const auto& entry : changes.flags) {
    // Named references (clang 14 cannot capture structured bindings in lambdas).
    const auto& id = entry.first;
    const auto& f = entry.second;
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
