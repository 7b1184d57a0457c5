// SqliteAnalysisFactsRepository: the analysis engine's persisted state (repo/analysis_facts.h) in
// provd's SQLite file (schema version 2's tables; SCHEMA.md).
//
//   PROV_ASSIGN_OR_RETURN(auto repo, SqliteAnalysisFactsRepository::Open(data_dir + "/provd.db"));
//   // or over a connection the caller keeps (set up and migrated as Open does):
//   auto repo = std::make_unique<SqliteAnalysisFactsRepository>(db);
//
// Open gives it a read-write connection of its own (busy_timeout 10 s, ConfigureWriter's pragmas
// from connection.h, the schema migrated), as AnalysisStore::Open always did: WAL lets it write
// beside the ingest writer, busy_timeout serialises the two. Save is one BEGIN IMMEDIATE
// transaction; the leader term is not checked (one provd leads alone on SQLite). Thread-compatible.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "server/store/repo/analysis_facts.h"
#include "server/store/sqlite.h"

namespace prov::server {

class SqliteAnalysisFactsRepository : public AnalysisFactsRepository {
 public:
  static absl::StatusOr<std::unique_ptr<SqliteAnalysisFactsRepository>> Open(
      const std::string& db_path);
  // Over `db`, which must outlive the repository (and be set up and migrated: see Open).
  explicit SqliteAnalysisFactsRepository(SqliteDb& db) : db_(&db) {}

  absl::StatusOr<AnalysisFacts> Load() override;
  absl::Status Save(const AnalysisFactsChanges& changes,
                    std::optional<int64_t> leader_term = std::nullopt) override;

 private:
  explicit SqliteAnalysisFactsRepository(std::unique_ptr<SqliteDb> db)
      : owned_(std::move(db)), db_(owned_.get()) {}
  absl::Status SaveRows(const AnalysisFactsChanges& changes);

  std::unique_ptr<SqliteDb> owned_;  // null when the caller keeps the connection
  SqliteDb* db_;
};

// Opens `path` read-write as the analysis writer does (busy_timeout 10 s, ConfigureWriter's
// pragmas: WAL, synchronous NORMAL, the shared checkpoint length) and migrates the schema.
absl::StatusOr<std::unique_ptr<SqliteDb>> OpenSqliteAnalysisDb(const std::string& path);

}  // namespace prov::server
