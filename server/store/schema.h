// The provd SQLite schema and its migrations (documented in server/store/SCHEMA.md).
//
//   PROV_RETURN_IF_ERROR(MigrateSchema(db));   // at open, on the writer connection
//
// Migrations are applied in order, each in its own transaction, and recorded in schema_version.
// A database written by a newer provd (higher version) is refused rather than misread.
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/store/sqlite.h"

namespace prov::server {

// The version a fully migrated database has.
int LatestSchemaVersion();

absl::Status MigrateSchema(SqliteDb& db);

// SQLite's application_id that marks a database as provd's ('PROV'), set by MigrateSchema.
inline constexpr int32_t kProvdApplicationId = 0x50524f56;

// Before anything writes to the file (even the journal mode): FAILED_PRECONDITION, naming what was
// found, when it is not a database provd may use: not a SQLite database at all (random bytes, an
// encrypted file), another program's (its application_id), or one with tables but no
// schema_version (another program's tables; provd never migrates into it). An empty database and
// a provd store (from before application_id too) pass. Reads only.
absl::Status CheckProvdDatabase(SqliteDb& db);

// The version recorded in the database (0 for an empty database).
absl::StatusOr<int> ReadSchemaVersion(SqliteDb& db);

}  // namespace prov::server
