// OpenPgAccessConn and the rules the access domain's PostgreSQL repositories share (pg_schema.cc,
// PostgreSQL version 6): PgApiTokenRepository (pg_api_tokens.h), PgNodeEnrollmentRepository
// (pg_node_enrollment.h), PgNodeRevocationRepository (pg_node_revocations.h), PgAuditAppender
// (pg_audit_appender.h).
//
//   PROV_ASSIGN_OR_RETURN(auto tokens, PgApiTokenRepository::Open(url.pg_conninfo));
//   PROV_ASSIGN_OR_RETURN(auto store, TokenStore::Create(std::move(tokens), clock));
//
// Each Open connects (application_name provd/access, search_path provd) and migrates the schema
// under the migration lock, as the other PostgreSQL repositories do, and keeps that connection.
// Every write is one READ COMMITTED transaction holding its change and its audit entry
// (AppendAuditEntry, pg_audit_log.h: the append lock (1347571542, 1) is taken last, after the
// change's row locks, by every write here). Conditional writes are decided by the row, not by an
// earlier read: a token or revocation UPDATE / INSERT ... ON CONFLICT waits for a concurrent
// transaction on the same row and then sees its result, so of two replicas using one enrolment
// token exactly one commits (the other gets FAILED_PRECONDITION), and a token revoked twice at
// once gets one revocation and one audit entry. Reconnection (server/store/README.md): every call
// reconnects a dropped or read-only session first; reads run once more on a new session when the
// session was lost during the call. Writes are never repeated (their COMMIT may have landed: a
// repeat would append a second audit entry); instead a write first makes sure its session is
// alive (UsablePgSession: one `SELECT 1` round trip, on a new session when the old one was
// dropped), so a session dropped while idle costs nothing, and a write whose session is lost
// in the middle fails UNAVAILABLE and the caller decides. Writes here are administrative and
// rare (tokens, enrolments: one renewal per node per certificate lifetime), so the extra round
// trip is cheap.
// Thread-safe (one call at a time under each repository's mutex).
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/store/pg/pg_conn.h"

namespace prov::server {

// Connects (application_name provd/access, search_path provd) and migrates the schema.
absl::StatusOr<std::unique_ptr<PgConn>> OpenPgAccessConn(const std::string& conninfo,
                                                         absl::Duration connect_timeout);

// Before a write: OK when `conn` answered a `SELECT 1`, on a new session if it had to.
absl::Status UsablePgSession(PgConn& conn);

}  // namespace prov::server
