// CaseManager: a flag's case (compliance.proto): open -> acknowledged -> escalated -> resolved
// with a disposition, reopen, assignee, notes. The stored cases (CaseRepository,
// server/store/repo/cases.h: SQLite or PostgreSQL) are the truth; every action is committed
// together with its audit entry, then applied to the analysis engine's flag (so flag lists,
// watchers, alerts and metrics follow the case status).
//
//   PROV_ASSIGN_OR_RETURN(auto cases, CaseManager::Open(db_path, engine, clock));  // SQLite
//   auto cases = std::make_unique<CaseManager>(std::move(pg_case_repository), engine, clock);
//   PROV_RETURN_IF_ERROR(cases->ReconcileEngine());         // at start-up, after the engine loads
//   UpdateCaseRequest req;  req.set_flag_id("F-000003");  req.set_action("acknowledge");
//   PROV_ASSIGN_OR_RETURN(Case c, cases->Update(principal, req));
//   PROV_ASSIGN_OR_RETURN(Case c, cases->Get("F-000003"));  // with every action, oldest first
//
// Transitions: acknowledge (open), escalate (open, acknowledged), resolve (any but resolved;
// needs a disposition, and duplicate_of for DUPLICATE), reopen (resolved). assign and note are
// allowed in any status; a note is required for "note" and optional on the others.
// Errors: NOT_FOUND (flag), INVALID_ARGUMENT naming the field, FAILED_PRECONDITION for a
// transition the status does not allow or a stale expected_revision.
// Thread-safe: the repository serialises the stored updates on every connection and replica
// (cases are changed at human rates).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "provenance/v1/compliance.pb.h"
#include "server/analysis/analysis_engine.h"
#include "server/store/repo/cases.h"

namespace prov::server {

class CaseManager {
 public:
  // On provd's SQLite file (SqliteCaseRepository).
  static absl::StatusOr<std::unique_ptr<CaseManager>> Open(const std::string& db_path,
                                                           AnalysisEngine& engine,
                                                           const Clock& clock);
  CaseManager(std::unique_ptr<CaseRepository> cases, AnalysisEngine& engine, const Clock& clock)
      : cases_(std::move(cases)), engine_(engine), clock_(clock) {}

  absl::StatusOr<provenance::v1::Case> Update(const provenance::v1::Principal& who,
                                              const provenance::v1::UpdateCaseRequest& request);
  absl::StatusOr<provenance::v1::Case> Get(const std::string& flag_id);
  // From the engine's flags (which carry the case fields); without actions.
  std::vector<provenance::v1::Case> List(const provenance::v1::ListCasesRequest& request) const;
  // Applies stored case state the engine's saved flags missed (a crash between the two saves;
  // on PostgreSQL also a change another replica committed: provd calls it on kCasesChannel).
  absl::Status ReconcileEngine();
  // Called after each committed case change with its flag id (provd announces it to the other
  // replicas). Set before the first Update; null: nobody is told.
  void SetOnCommitted(std::function<void(const std::string& flag_id)> on_committed) {
    on_committed_ = std::move(on_committed);
  }

 private:
  absl::StatusOr<provenance::v1::Case> ReadCase(const std::string& flag_id,
                                                const provenance::v1::Flag& flag,
                                                bool with_actions);

  // Held across an update's commit and its engine write, so two updates of this replica reach
  // the engine's flag in the order they were committed, and across Get's two reads.
  absl::Mutex update_mu_;
  std::unique_ptr<CaseRepository> cases_;
  AnalysisEngine& engine_;
  const Clock& clock_;
  std::function<void(const std::string& flag_id)> on_committed_;
};

// The status an action leads to from `from`, or FAILED_PRECONDITION naming both (pure; tested).
absl::StatusOr<provenance::v1::FlagStatus> NextCaseStatus(provenance::v1::FlagStatus from,
                                                          const std::string& action);

}  // namespace prov::server
