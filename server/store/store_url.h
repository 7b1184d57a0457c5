// StoreUrl: which engine and where provd keeps its data, parsed from provd's --store value.
//
//   PROV_ASSIGN_OR_RETURN(StoreUrl url, ParseStoreUrl("sqlite:/var/lib/provd"));
//   PROV_ASSIGN_OR_RETURN(StoreUrl pg, ParseStoreUrl(
//       "postgresql://provd@db1:5432,db2:5432/provd?target_session_attrs=read-write"));
//   PROV_LOG_INFO("store", "store: {}", pg.Redacted());   // never the password
//
// Accepted forms:
//  - `sqlite:<dir>` or a plain directory (no scheme; today's --data-dir): SQLite, provd.db in
//  <dir>.
//  - `postgresql://...` or `postgres://...`: a libpq connection URI, multi-host included
//    (`host1:port1,host2:port2`), query parameters such as `target_session_attrs=read-write` or
//    `host=/var/run/postgresql` (a Unix socket directory).
//  - `postgresql:<keyword=value ...>`: a libpq keyword/value connection string after the scheme.
// Validation is libpq's own parser (PQconninfoParse) plus the checks libpq would only make when
// connecting: a known target_session_attrs, numeric ports, as many ports as hosts (or one).
// Errors are INVALID_ARGUMENT and name the part that is wrong. Nothing here connects.
// Thread-safe (pure functions).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace prov::server {

struct StoreUrl {
  enum class Engine { kSqlite, kPostgres };
  Engine engine = Engine::kSqlite;
  std::string sqlite_dir;   // kSqlite: the data directory
  std::string pg_conninfo;  // kPostgres: what libpq is given (a URI or keyword/value string)

  // For logs and status pages: the SQLite directory, or the PostgreSQL parameters that are set
  // (host, port, dbname, user, target_session_attrs, ...) without the password.
  std::string Redacted() const;
};

absl::StatusOr<StoreUrl> ParseStoreUrl(absl::string_view text);

}  // namespace prov::server
