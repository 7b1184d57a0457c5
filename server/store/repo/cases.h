// CaseRepository: the compliance cases on flags (tables `cases` and `case_actions`,
// server/store/SCHEMA.md) on either engine: SqliteCaseRepository (server/store/sqlite/) or
// PgCaseRepository (server/store/pg/). CaseManager (server/cases/) holds the workflow and calls
// this; tests/store/cases_conformance_test.cc holds both engines to the same behaviour.
//
//   PROV_ASSIGN_OR_RETURN(auto cases, SqliteCaseRepository::Open(data_dir + "/provd.db"));
//   PROV_ASSIGN_OR_RETURN(StoredCase after, cases->Apply("F-000003",
//       [&](const std::optional<StoredCase>& stored) -> absl::StatusOr<CaseChange> {
//         // decide from the stored case (nullopt: no action yet); an error writes nothing
//         CaseChange change;  change.after = ...;  change.action = action.SerializeAsString();
//         return change;
//       }));
//   PROV_ASSIGN_OR_RETURN(std::optional<StoredCase> c, cases->Get("F-000003"));
//   PROV_ASSIGN_OR_RETURN(std::vector<std::string> actions, cases->Actions("F-000003"));
//
// Apply is the only write. It reads the stored case and writes what `decide` returned (the
// case_actions row, the cases row, and the audit entry) in one transaction, serialised with every
// other Apply on the same database, whichever connection or provd replica runs it (SQLite: the
// write lock of BEGIN IMMEDIATE; PostgreSQL: a transaction-level advisory lock taken before the
// read). So `decide` always sees the newest committed case, and a stale expected revision or a
// transition the status no longer allows is refused there, never written. Cases change at human
// rates: one lock for all cases costs nothing. Implementations are thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace prov::server {

// A `cases` row: the case's current state (status and disposition are the proto enums' values).
struct StoredCase {
  std::string flag_id;
  int64_t status = 0;
  int64_t disposition = 0;
  std::string assignee;
  std::string duplicate_of;
  uint64_t revision = 0;  // the seq of its newest action
  int64_t updated_us = 0;

  bool operator==(const StoredCase&) const = default;
};

// What one action writes.
struct CaseChange {
  StoredCase after;           // the cases row; after.revision is the action's seq (stored + 1)
  int64_t time_us = 0;        // the action's time (case_actions.time_us)
  std::string actor;          // who acted (case_actions.actor, the audit entry's actor)
  std::string action;         // the serialized provenance.v1.CaseAction (case_actions.action)
  std::string audit_action;   // e.g. "case.resolve"
  std::string audit_payload;  // canonical JSON (AuditPayload, repo/audit_log.h)
};

class CaseRepository {
 public:
  using Decide =
      absl::FunctionRef<absl::StatusOr<CaseChange>(const std::optional<StoredCase>& stored)>;

  virtual ~CaseRepository() = default;

  // The stored case of the flag, nullopt when it never had an action.
  virtual absl::StatusOr<std::optional<StoredCase>> Get(absl::string_view flag_id) = 0;
  // The flag's actions (serialized CaseAction), oldest first.
  virtual absl::StatusOr<std::vector<std::string>> Actions(absl::string_view flag_id) = 0;
  // Every stored case, by flag_id.
  virtual absl::StatusOr<std::vector<StoredCase>> List() = 0;
  // Reads the flag's stored case, asks `decide`, writes its change with the audit entry; all in
  // one serialised transaction (header). decide's error is returned and nothing is written; so is
  // INVALID_ARGUMENT when the change is not the next revision of that flag's case. Returns
  // change.after as committed. `decide` may be asked more than once (a PostgreSQL session found
  // gone before COMMIT is replaced and the transaction rerun); a COMMIT whose answer was lost is
  // not rerun (UNAVAILABLE: it may have landed; the caller's expected_revision makes a retry safe).
  virtual absl::StatusOr<StoredCase> Apply(absl::string_view flag_id, Decide decide) = 0;
};

// Checks that `change` is the next action of `flag_id`'s case after `stored` (both engines call
// it before writing): INVALID_ARGUMENT naming the field otherwise.
absl::Status CheckCaseChange(absl::string_view flag_id, const std::optional<StoredCase>& stored,
                             const CaseChange& change);

}  // namespace prov::server
