// AuditLog: provd's append-only, hash-chained record of every change a person (or provd itself)
// makes: case actions, policy loads, imports, tokens, exports. Rows live in `audit_log`
// (server/store/SCHEMA.md); the chain is common/integrity/hash_chain.h.
//
//   // inside the write transaction of the change being recorded, on any connection:
//   PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db, Transaction::kWrite));
//   ... the change ...
//   PROV_RETURN_IF_ERROR(AppendAuditEntry(db, "token:alice", "case.resolve",
//                                         R"({"flag_id":"F-000007"})", clock.Now()).status());
//   PROV_RETURN_IF_ERROR(txn.Commit());
//
//   AuditLogReader reader(db_path);                 // its own read-only connection
//   auto entries = reader.List(/*after_seq=*/0, /*limit=*/100, "case.");
//   auto report = reader.Verify(anchor);            // every edited / removed / reordered entry
//
// Appends are serialised by SQLite's write lock: BEGIN IMMEDIATE makes the head read inside the
// transaction the head, whichever connection appends. AppendAuditEntry refuses to run outside a
// transaction (FAILED_PRECONDITION), so an entry can never be committed apart from its change.
// AuditLogReader is thread-safe (one query at a time under its mutex).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/integrity/hash_chain.h"
#include "server/store/sqlite.h"

namespace prov::server {

absl::StatusOr<integrity::ChainEntry> AppendAuditEntry(SqliteDb& db, absl::string_view actor,
                                                       absl::string_view action,
                                                       absl::string_view payload, absl::Time now);

// The newest entry (seq 0, genesis hash when the log is empty).
absl::StatusOr<integrity::ChainAnchor> AuditHead(SqliteDb& db);

// Canonical JSON object from string key/value pairs (sorted keys), for audit payloads.
std::string AuditPayload(std::initializer_list<std::pair<absl::string_view, absl::string_view>> kv);
std::string AuditPayload(const std::vector<std::pair<std::string, std::string>>& kv);

struct AuditVerification {
  uint64_t entries = 0;
  integrity::ChainAnchor head;
  std::optional<integrity::ChainAnchor> anchor;  // what was checked against
  std::vector<integrity::ChainProblem> problems;
  bool intact() const { return problems.empty(); }
};

class AuditLogReader {
 public:
  static absl::StatusOr<std::unique_ptr<AuditLogReader>> Open(const std::string& db_path);

  absl::StatusOr<std::vector<integrity::ChainEntry>> List(uint64_t after_seq, uint32_t limit,
                                                          absl::string_view action_prefix);
  // Reads the whole log in stored (seq) order and checks it. Without an explicit anchor, the
  // newest one recorded by an export (table `exports`) is used, so cutting entries off the end
  // after an export is found too.
  absl::StatusOr<AuditVerification> Verify(std::optional<integrity::ChainAnchor> anchor);

 private:
  explicit AuditLogReader(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}
  absl::Mutex mu_;
  std::unique_ptr<SqliteDb> db_ ABSL_GUARDED_BY(mu_);
};

}  // namespace prov::server
