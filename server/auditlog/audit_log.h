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
//   PROV_ASSIGN_OR_RETURN(auto reader, AuditLogReader::Open(db_path));  // own read-only connection
//   auto entries = reader->List(/*after_seq=*/0, /*limit=*/100, "case.");
//   auto report = reader->Verify(anchor);         // every edited / removed / reordered entry
//
// Since issue 12 slice 3 the audit log lives in the store layer, on both engines:
//  - server/store/repo/audit_log.h: AuditLogRepository (List / Verify / Head), AuditVerification,
//    AuditPayload, and the engine-free chain steps (NextAuditEntry, VerifyAuditEntries);
//  - server/store/sqlite/sqlite_audit_log.h: AppendAuditEntry(SqliteDb&, ...), AuditHead and
//    SqliteAuditLogRepository, which is AuditLogReader (this header keeps the name);
//  - server/store/pg/pg_audit_log.h: AppendAuditEntry(PgConn&, ...) and PgAuditLogRepository.
// This header is what provd's SQLite-only callers include; nothing else lives here.
//
// Appends are serialised by SQLite's write lock: BEGIN IMMEDIATE makes the head read inside the
// transaction the head, whichever connection appends (on PostgreSQL, by a transaction-level
// advisory lock: pg_audit_log.h). AppendAuditEntry refuses to run outside a transaction
// (FAILED_PRECONDITION), so an entry can never be committed apart from its change.
// AuditLogReader is thread-safe (one query at a time under its mutex).
#pragma once

#include "server/store/repo/audit_log.h"
#include "server/store/sqlite/sqlite_audit_log.h"

namespace prov::server {

using AuditLogReader = SqliteAuditLogRepository;

}  // namespace prov::server
