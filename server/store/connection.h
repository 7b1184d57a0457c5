// OpenConnection: a SQLite connection to provd.db set up the way every provd component uses it:
// busy_timeout, and ConfigureWriter's pragmas for writers or query_only for readers.
//
//   PROV_ASSIGN_OR_RETURN(auto db, OpenConnection(path, SqliteDb::kReadWrite));
//
// ConfigureWriter: the pragmas of every read-write connection to provd.db, for the components
// that open theirs with SqliteDb::Open (the ingest Store, the analysis facts, alert deliveries):
//
//   PROV_RETURN_IF_ERROR(ConfigureWriter(*db));   // WAL, synchronous=NORMAL, checkpoint pages
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/store/sqlite.h"

namespace prov::server {

// The WAL is checkpointed when a commit leaves it longer than this many pages (32 MiB of 4 KiB
// pages; SQLite's default is 1000). SQLite checks it on the connection that commits, so every
// writer of provd.db must use the same figure: with the default on one small writer (the
// analysis facts' Save), that writer checkpointed the ingest writer's WAL after almost every
// save, copying the same hot workloads/nodes pages back to the database file again and again.
inline constexpr int kWalAutocheckpointPages = 8192;

// journal_mode=WAL, synchronous=NORMAL (a committed transaction survives a process crash; the
// last ones may be lost on power loss) and wal_autocheckpoint=kWalAutocheckpointPages.
absl::Status ConfigureWriter(SqliteDb& db);

absl::StatusOr<std::unique_ptr<SqliteDb>> OpenConnection(
    const std::string& path, SqliteDb::Mode mode, absl::Duration busy_timeout = absl::Seconds(5));

}  // namespace prov::server
