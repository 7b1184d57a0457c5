// AuditLogRepository: reading and verifying provd's hash-chained audit log (table `audit_log`,
// server/store/SCHEMA.md) on either engine: SqliteAuditLogRepository (server/store/sqlite/,
// also known as AuditLogReader) or PgAuditLogRepository (server/store/pg/).
// tests/store/audit_log_conformance_test.cc holds both to the same behaviour.
//
//   PROV_ASSIGN_OR_RETURN(auto log, PgAuditLogRepository::Open(url.pg_conninfo));
//   PROV_ASSIGN_OR_RETURN(auto entries, log->List(/*after_seq=*/0, /*limit=*/100, "case."));
//   PROV_ASSIGN_OR_RETURN(AuditVerification v, log->Verify(std::nullopt));  // newest export anchor
//   if (!v.intact()) for (const auto& p : v.problems) ... p.message ...
//
// Appending is not here: an entry is appended inside the transaction of the change it records,
// on the caller's own connection, with the engine's AppendAuditEntry (SqliteDb& in
// sqlite/sqlite_audit_log.h, PgConn& in pg/pg_audit_log.h). Both build the entry with
// NextAuditEntry and the repositories check what they read with VerifyAuditEntries, so the
// chain itself (common/integrity/hash_chain.h) has one implementation whatever the engine.
// Implementations are thread-safe (one query at a time on their own connection).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/integrity/hash_chain.h"

namespace prov::server {

struct AuditVerification {
  uint64_t entries = 0;
  integrity::ChainAnchor head;
  std::optional<integrity::ChainAnchor> anchor;  // what was checked against
  std::vector<integrity::ChainProblem> problems;
  bool intact() const { return problems.empty(); }
};

class AuditLogRepository {
 public:
  virtual ~AuditLogRepository() = default;
  // Entries with seq > after_seq whose action starts with action_prefix (bytes; "" for all), in
  // seq order, at most `limit`.
  virtual absl::StatusOr<std::vector<integrity::ChainEntry>> List(
      uint64_t after_seq, uint32_t limit, absl::string_view action_prefix) = 0;
  // Reads the whole log in seq order, in one snapshot with the anchor, and checks it. Without an
  // explicit anchor, the newest one recorded by an export (table `exports`, by created_us; rows
  // with audit_head_seq 0 are skipped) is used, so cutting entries off the end after an export is
  // found too.
  virtual absl::StatusOr<AuditVerification> Verify(
      std::optional<integrity::ChainAnchor> anchor) = 0;
  // The newest committed entry (seq 0 and the genesis hash when the log is empty).
  virtual absl::StatusOr<integrity::ChainAnchor> Head() = 0;
};

// The entry that follows `head` (seq 0: the first entry). Engine-free: both AppendAuditEntry
// implementations call it with the head they read under their engine's append lock.
integrity::ChainEntry NextAuditEntry(const integrity::ChainAnchor& head, absl::string_view actor,
                                     absl::string_view action, absl::string_view payload,
                                     absl::Time now);

// The verification of entries read in stored (seq) order against an optional anchor.
AuditVerification VerifyAuditEntries(const std::vector<integrity::ChainEntry>& entries,
                                     std::optional<integrity::ChainAnchor> anchor);

// Canonical JSON object from string key/value pairs (sorted keys), for audit payloads.
std::string AuditPayload(std::initializer_list<std::pair<absl::string_view, absl::string_view>> kv);
std::string AuditPayload(const std::vector<std::pair<std::string, std::string>>& kv);

}  // namespace prov::server
