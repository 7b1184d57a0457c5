// AuditRecord and AuditAppender: the audit entry a write records (appended by the write's own
// repository in the write's transaction), and the writer of entries that record nothing else
// (a refused enrolment, a denied call: the refusal is the whole change). On either engine:
// SqliteAuditAppender (server/store/sqlite/) or PgAuditAppender (server/store/pg/).
//
//   AuditRecord audit{.actor = "token:alice", .action = "access.denied",
//                     .payload = AuditPayload({{"rpc", rpc}}), .at = clock.Now()};
//   PROV_RETURN_IF_ERROR(appender->Append(audit));        // its own transaction
//   PROV_RETURN_IF_ERROR(tokens->Insert(row, audit));     // or with a change, in its transaction
//
// Implementations are thread-safe (one write at a time on their own connection).
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace prov::server {

struct AuditRecord {
  std::string actor;
  std::string action;
  std::string payload;  // canonical JSON (AuditPayload, repo/audit_log.h)
  absl::Time at;
};

class AuditAppender {
 public:
  virtual ~AuditAppender() = default;
  // Appends the entry in a transaction of its own.
  virtual absl::Status Append(const AuditRecord& entry) = 0;
};

}  // namespace prov::server
