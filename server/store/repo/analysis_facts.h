// AnalysisFactsRepository: the analysis engine's persisted state (tables analysis_nodes,
// analysis_workloads, links, bundles, bundle_accounts, flags, flag_accounts; SCHEMA.md) on either
// engine: SqliteAnalysisFactsRepository (server/store/sqlite/) or PgAnalysisFactsRepository
// (server/store/pg/). tests/store/analysis_conformance_test.cc holds both to the same behaviour.
//
//   PROV_ASSIGN_OR_RETURN(auto repo, PgAnalysisFactsRepository::Open(url.pg_conninfo));
//   PROV_ASSIGN_OR_RETURN(AnalysisFacts facts, repo->Load());     // at start-up
//   AnalysisFactsChanges changes;
//   changes.nodes.push_back({"node-a", analyzer.node("node-a")});
//   PROV_RETURN_IF_ERROR(repo->Save(changes, term));              // ONE transaction per call
//
// The rows are the analyzer's protos, stored whole (serialised) beside the columns the other
// readers query (link kind and accounts, bundle merged_into and members, flag rule / subject /
// severity / status / updated time and accounts). AnalysisStore (server/analysis/) turns them into
// the analyzer's state and back.
// Thread-compatible: one thread (the engine's) uses a repository, on its own connection.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "provenance/v1/analysis.pb.h"
#include "provenance/v1/analysis_state.pb.h"
#include "server/store/repo/ingest_position.h"

namespace prov::server {

// One row of the ingest ledger (`workloads` joined with `nodes`), authoritative for compute:
// Load() hands it over so that the engine can raise a workload's training FLOP to it.
struct AnalysisLedgerRow {
  std::string node_id;
  std::string workload_id;
  int64_t workload_class = 0;
  double flop_low = 0, flop_high = 0, accelerator_seconds = 0;
};

// Everything stored, each kind in its key's byte order.
struct AnalysisFacts {
  std::vector<provenance::v1::NodeFacts> nodes;                     // by node_id
  std::vector<provenance::v1::WorkloadFacts> workloads;             // by workload_key, as stored
  std::vector<std::pair<std::string, provenance::v1::Link>> links;  // (link_key, link)
  std::vector<provenance::v1::Bundle> bundles;                      // by bundle_id
  std::vector<provenance::v1::Flag> flags;                          // by flag_id
  std::vector<AnalysisLedgerRow> ledger;                            // by (node_id, workload_id)
  // PostgreSQL: the ingest position saved with these facts (AnalysisFactsChanges::ingest_position),
  // read in the same snapshot, so a new leader resumes the batch log exactly after the batches
  // the facts came from; nullopt when none was saved (start from the zero position). SQLite has
  // no batch log: always nullopt.
  std::optional<IngestPosition> ingest_position;
};

// What one Save writes: each entry upserts the row of its key with the proto it points at
// (pointers into the analyzer, which must outlive the call). removed_links are deleted before
// links are written. A bundle's accounts replace its bundle_accounts rows (an account belongs to
// one bundle: writing it under another moves it); a flag's accounts replace its flag_accounts
// rows. A flag is unique by (rule, subject): a flag written under a new id replaces the row that
// held its (rule, subject) (its flag_accounts rows stay, as on SQLite's INSERT OR REPLACE).
struct AnalysisFactsChanges {
  std::vector<std::pair<std::string, const provenance::v1::NodeFacts*>> nodes;
  std::vector<std::pair<std::string, const provenance::v1::WorkloadFacts*>> workloads;
  std::vector<std::string> removed_links;
  std::vector<std::pair<std::string, const provenance::v1::Link*>> links;
  std::vector<std::pair<std::string, provenance::v1::Bundle>> bundles;
  std::vector<std::pair<std::string, const provenance::v1::Flag*>> flags;
  // PostgreSQL: how far the leader's engine has read the ingest batch log once these changes are
  // made (repo/ingest_position.h), written in the same transaction, so a successor resumes
  // exactly after the batches these facts came from. SQLite has no batch log (one provd feeds
  // its engine in process): INVALID_ARGUMENT there.
  std::optional<IngestPosition> ingest_position;
  bool empty() const {
    return nodes.empty() && workloads.empty() && removed_links.empty() && links.empty() &&
           bundles.empty() && flags.empty() && !ingest_position.has_value();
  }
};

// INVALID_ARGUMENT naming the entry when a key is empty or a pointer is null (both engines check
// before they write anything).
absl::Status ValidateAnalysisFactsChanges(const AnalysisFactsChanges& changes);

class AnalysisFactsRepository {
 public:
  virtual ~AnalysisFactsRepository() = default;
  // Every stored row. DATA_LOSS naming the table and key when a stored proto does not parse.
  virtual absl::StatusOr<AnalysisFacts> Load() = 0;
  // Writes `changes` in one transaction (all or nothing); nothing to do when empty.
  // `leader_term`: the term this replica leads in. On PostgreSQL the transaction first checks it
  // (CheckLeaderTerm, pg_leader_election.h) and writes nothing, FAILED_PRECONDITION, once a newer
  // term began; on SQLite (one provd, SoleLeader) it is not checked.
  virtual absl::Status Save(const AnalysisFactsChanges& changes,
                            std::optional<int64_t> leader_term = std::nullopt) = 0;
};

}  // namespace prov::server
