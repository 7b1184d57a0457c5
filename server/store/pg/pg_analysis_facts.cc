#include "server/store/pg/pg_analysis_facts.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/store/pg/pg_array.h"
#include "server/store/pg/pg_ingest_batches.h"
#include "server/store/pg/pg_leader_election.h"
#include "server/store/pg/pg_schema.h"

namespace prov::server {
namespace {

// Reads (key, bytea) rows of `sql` as parsed protos, handing each to `add`.
template <typename Proto, typename Add>
absl::Status ReadBlobs(PgConn& conn, absl::string_view sql, absl::string_view table, Add add) {
  PROV_ASSIGN_OR_RETURN(PgResult r, conn.Query(sql));
  for (int i = 0; i < r.rows(); ++i) {
    std::string key = r.Text(i, 0);
    PROV_ASSIGN_OR_RETURN(std::string blob, r.Bytes(i, 1));
    Proto p;
    if (!p.ParseFromString(blob)) {
      return absl::DataLossError(
          absl::StrCat(table, " row ", key, ": stored proto does not parse"));
    }
    add(std::move(key), std::move(p));
  }
  return absl::OkStatus();
}

// SQLite's ReplaceMembers: the owner's rows of `table` become `accounts`.
absl::Status ReplaceMembers(PgConn& conn, absl::string_view delete_sql,
                            absl::string_view insert_sql, const std::string& owner,
                            const google::protobuf::RepeatedPtrField<std::string>& accounts) {
  PROV_RETURN_IF_ERROR(conn.Query(delete_sql, {owner}).status());
  for (const std::string& a : accounts) {
    PROV_RETURN_IF_ERROR(conn.Query(insert_sql, {a, owner}).status());
  }
  return absl::OkStatus();
}

// Rows per multi-row statement (bounds one parameter's size: protos of a few KB each).
constexpr size_t kRowsPerStatement = 500;

// The last entry of each key, in order: what upserting the entries one by one leaves (one
// INSERT ... ON CONFLICT DO UPDATE cannot touch a row twice).
template <typename V>
std::vector<std::pair<std::string, V>> LastPerKey(
    const std::vector<std::pair<std::string, V>>& entries) {
  absl::flat_hash_map<absl::string_view, size_t> last;
  for (size_t i = 0; i < entries.size(); ++i) last[entries[i].first] = i;
  std::vector<std::pair<std::string, V>> out;
  out.reserve(last.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    if (last[entries[i].first] == i) out.push_back(entries[i]);
  }
  return out;
}

// (key, serialised proto) rows through `sql` ($1 text[] keys, $2 bytea[] protos), in chunks.
template <typename Proto>
absl::Status UpsertBlobs(PgConn& conn, const std::vector<std::pair<std::string, Proto*>>& rows,
                         absl::string_view sql) {
  std::string blob;
  for (size_t i = 0; i < rows.size(); i += kRowsPerStatement) {
    PgArray keys, blobs;
    for (size_t j = i; j < std::min(i + kRowsPerStatement, rows.size()); ++j) {
      keys.AddText(rows[j].first);
      rows[j].second->SerializeToString(&blob);
      blobs.AddBytes(blob);
    }
    PROV_RETURN_IF_ERROR(conn.Query(sql, {keys.Finish(), blobs.Finish()}).status());
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<PgAnalysisFactsRepository>> PgAnalysisFactsRepository::Open(
    const std::string& conninfo, absl::Duration connect_timeout) {
  PgConnOptions options{.connect_timeout = connect_timeout,
                        .application_name = "provd/analysis",
                        .search_path = kPgSchema};
  PROV_ASSIGN_OR_RETURN(auto conn, PgConn::Connect(conninfo, options));
  PROV_RETURN_IF_ERROR(MigratePgSchema(*conn));
  return std::make_unique<PgAnalysisFactsRepository>(std::move(conn));
}

absl::StatusOr<AnalysisFacts> PgAnalysisFactsRepository::Load() {
  return RunWithReconnect(*conn_, [&] { return LoadOnce(); });
}

absl::StatusOr<AnalysisFacts> PgAnalysisFactsRepository::LoadOnce() {
  AnalysisFacts out;
  PgConn& conn = *conn_;
  PROV_RETURN_IF_ERROR(conn.Transaction(
      [&]() -> absl::Status {
        PROV_ASSIGN_OR_RETURN(PgResult r,
                              conn.Query("SELECT n.node_id, w.workload_id, w.workload_class, "
                                         "w.flop_low, w.flop_high, w.accelerator_seconds "
                                         "FROM workloads w JOIN nodes n ON n.id = w.node "
                                         "ORDER BY n.node_id, w.workload_id"));
        out.ledger.reserve(static_cast<size_t>(r.rows()));
        for (int i = 0; i < r.rows(); ++i) {
          AnalysisLedgerRow& row = out.ledger.emplace_back();
          row.node_id = r.Text(i, 0);
          row.workload_id = r.Text(i, 1);
          PROV_ASSIGN_OR_RETURN(row.workload_class, r.Int64(i, 2));
          PROV_ASSIGN_OR_RETURN(row.flop_low, r.Double(i, 3));
          PROV_ASSIGN_OR_RETURN(row.flop_high, r.Double(i, 4));
          PROV_ASSIGN_OR_RETURN(row.accelerator_seconds, r.Double(i, 5));
        }
        PROV_RETURN_IF_ERROR(ReadBlobs<provenance::v1::NodeFacts>(
            conn, "SELECT node_id, facts FROM analysis_nodes ORDER BY node_id", "analysis_nodes",
            [&](std::string, provenance::v1::NodeFacts p) { out.nodes.push_back(std::move(p)); }));
        PROV_RETURN_IF_ERROR(ReadBlobs<provenance::v1::WorkloadFacts>(
            conn, "SELECT workload_key, facts FROM analysis_workloads ORDER BY workload_key",
            "analysis_workloads", [&](std::string, provenance::v1::WorkloadFacts p) {
              out.workloads.push_back(std::move(p));
            }));
        PROV_RETURN_IF_ERROR(ReadBlobs<provenance::v1::Link>(
            conn, "SELECT link_key, link FROM links ORDER BY link_key", "links",
            [&](std::string key, provenance::v1::Link p) {
              out.links.emplace_back(std::move(key), std::move(p));
            }));
        PROV_RETURN_IF_ERROR(ReadBlobs<provenance::v1::Bundle>(
            conn, "SELECT bundle_id, bundle FROM bundles ORDER BY bundle_id", "bundles",
            [&](std::string, provenance::v1::Bundle p) { out.bundles.push_back(std::move(p)); }));
        PROV_RETURN_IF_ERROR(ReadBlobs<provenance::v1::Flag>(
            conn, "SELECT flag_id, flag FROM flags ORDER BY flag_id", "flags",
            [&](std::string, provenance::v1::Flag p) { out.flags.push_back(std::move(p)); }));
        // Same snapshot: the position these facts were saved with.
        PROV_ASSIGN_OR_RETURN(out.ingest_position, PgLoadSavedIngestPosition(conn));
        return absl::OkStatus();
      },
      "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
  return out;
}

absl::Status PgAnalysisFactsRepository::Save(const AnalysisFactsChanges& changes,
                                             std::optional<int64_t> leader_term) {
  PROV_RETURN_IF_ERROR(ValidateAnalysisFactsChanges(changes));
  if (changes.empty()) return absl::OkStatus();
  return RunWithReconnect(*conn_, [&] { return SaveOnce(changes, leader_term); });
}

absl::Status PgAnalysisFactsRepository::SaveOnce(const AnalysisFactsChanges& changes,
                                                 std::optional<int64_t> leader_term) {
  return conn_->Transaction(
      [&]() -> absl::Status {
        if (leader_term.has_value()) PROV_RETURN_IF_ERROR(CheckLeaderTerm(*conn_, *leader_term));
        PROV_RETURN_IF_ERROR(SaveRows(changes));
        // With the facts, after the term check: a successor resumes after exactly these batches.
        if (changes.ingest_position.has_value()) {
          PROV_RETURN_IF_ERROR(PgSaveIngestPosition(*conn_, *changes.ingest_position));
        }
        return absl::OkStatus();
      },
      "BEGIN ISOLATION LEVEL READ COMMITTED");
}

absl::Status PgAnalysisFactsRepository::SaveRows(const AnalysisFactsChanges& changes) {
  PgConn& conn = *conn_;
  std::string blob;
  // Nodes, workloads and links (most of a batch's rows) go in multi-row statements.
  PROV_RETURN_IF_ERROR(UpsertBlobs(conn, LastPerKey(changes.nodes),
                                   "INSERT INTO analysis_nodes(node_id, facts) SELECT * FROM "
                                   "unnest($1::text[], $2::bytea[]) ON CONFLICT (node_id) DO "
                                   "UPDATE SET facts = EXCLUDED.facts"));
  PROV_RETURN_IF_ERROR(UpsertBlobs(conn, LastPerKey(changes.workloads),
                                   "INSERT INTO analysis_workloads(workload_key, facts) SELECT * "
                                   "FROM unnest($1::text[], $2::bytea[]) ON CONFLICT "
                                   "(workload_key) DO UPDATE SET facts = EXCLUDED.facts"));
  for (size_t i = 0; i < changes.removed_links.size(); i += kRowsPerStatement) {
    PgArray keys;
    for (size_t j = i; j < std::min(i + kRowsPerStatement, changes.removed_links.size()); ++j) {
      keys.AddText(changes.removed_links[j]);
    }
    PROV_RETURN_IF_ERROR(
        conn.Query("DELETE FROM links WHERE link_key = ANY($1::text[])", {keys.Finish()}).status());
  }
  const auto links = LastPerKey(changes.links);
  for (size_t i = 0; i < links.size(); i += kRowsPerStatement) {
    PgArray keys, kinds, as, bs, blobs;
    for (size_t j = i; j < std::min(i + kRowsPerStatement, links.size()); ++j) {
      const provenance::v1::Link& l = *links[j].second;
      keys.AddText(links[j].first);
      kinds.AddText(l.kind());
      as.AddText(l.account_a());
      bs.AddText(l.account_b());
      l.SerializeToString(&blob);
      blobs.AddBytes(blob);
    }
    PROV_RETURN_IF_ERROR(
        conn.Query("INSERT INTO links(link_key, kind, account_a, account_b, link) SELECT * FROM "
                   "unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[]) "
                   "ON CONFLICT (link_key) DO UPDATE SET kind = EXCLUDED.kind, "
                   "account_a = EXCLUDED.account_a, account_b = EXCLUDED.account_b, "
                   "link = EXCLUDED.link",
                   {keys.Finish(), kinds.Finish(), as.Finish(), bs.Finish(), blobs.Finish()})
            .status());
  }
  for (const auto& [id, b] : changes.bundles) {
    b.SerializeToString(&blob);
    PROV_RETURN_IF_ERROR(
        conn.Query("INSERT INTO bundles(bundle_id, merged_into, updated_us, bundle) "
                   "VALUES ($1, $2, $3, $4) ON CONFLICT (bundle_id) DO UPDATE SET "
                   "merged_into = EXCLUDED.merged_into, updated_us = EXCLUDED.updated_us, "
                   "bundle = EXCLUDED.bundle",
                   {id, b.merged_into(), static_cast<int64_t>(b.last_time().seconds() * 1000000),
                    PgParam::Bytes(blob)})
            .status());
    PROV_RETURN_IF_ERROR(
        ReplaceMembers(conn, "DELETE FROM bundle_accounts WHERE bundle_id = $1",
                       "INSERT INTO bundle_accounts(account_id, bundle_id) VALUES ($1, $2) "
                       "ON CONFLICT (account_id) DO UPDATE SET bundle_id = EXCLUDED.bundle_id",
                       id, b.accounts()));
  }
  for (const auto& [id, f] : changes.flags) {
    f->SerializeToString(&blob);
    // SQLite's INSERT OR REPLACE also drops the row of another id holding (rule, subject).
    PROV_RETURN_IF_ERROR(
        conn.Query("DELETE FROM flags WHERE rule = $1 AND subject = $2 AND flag_id <> $3",
                   {f->rule(), f->subject(), id})
            .status());
    PROV_RETURN_IF_ERROR(
        conn.Query("INSERT INTO flags(flag_id, rule, subject, severity, status, updated_us, flag) "
                   "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (flag_id) DO UPDATE SET "
                   "rule = EXCLUDED.rule, subject = EXCLUDED.subject, "
                   "severity = EXCLUDED.severity, status = EXCLUDED.status, "
                   "updated_us = EXCLUDED.updated_us, flag = EXCLUDED.flag",
                   {id, f->rule(), f->subject(), static_cast<int64_t>(f->severity()),
                    static_cast<int64_t>(f->status()),
                    static_cast<int64_t>(f->updated_at().seconds() * 1000000 +
                                         f->updated_at().nanos() / 1000),
                    PgParam::Bytes(blob)})
            .status());
    PROV_RETURN_IF_ERROR(ReplaceMembers(conn, "DELETE FROM flag_accounts WHERE flag_id = $1",
                                        "INSERT INTO flag_accounts(account_id, flag_id) "
                                        "VALUES ($1, $2) ON CONFLICT DO NOTHING",
                                        id, f->accounts()));
  }
  return absl::OkStatus();
}

}  // namespace prov::server
