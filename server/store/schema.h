// The provd SQLite schema and its migrations (documented in server/store/SCHEMA.md).
//
//   PROV_RETURN_IF_ERROR(MigrateSchema(db));   // at open, on the writer connection
//
// Migrations are applied in order, each in its own transaction, and recorded in schema_version.
// A database written by a newer provd (higher version) is refused rather than misread.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/store/sqlite.h"

namespace prov::server {

// The version a fully migrated database has.
int LatestSchemaVersion();

absl::Status MigrateSchema(SqliteDb& db);

// The version recorded in the database (0 for an empty database).
absl::StatusOr<int> ReadSchemaVersion(SqliteDb& db);

}  // namespace prov::server
