// ExportRepository: the records of the signed audit exports (table `exports`, server/store/
// SCHEMA.md) and the chain they form, on either engine: SqliteExportRepository (server/store/
// sqlite/) or PgExportRepository (server/store/pg/). The Exporter (server/export/exporter.h) is
// its one user; tests/store/exports_conformance_test.cc holds both engines to the same behaviour.
//
//   PROV_ASSIGN_OR_RETURN(auto records, SqliteExportRepository::Open(data_dir + "/provd.db"));
//   PROV_ASSIGN_OR_RETURN(std::unique_ptr<ExportChain> chain, records->BeginChain());
//   chain->previous().manifest_sha256;                   // what the new manifest chains to
//   ... write and seal the export ...
//   PROV_RETURN_IF_ERROR(chain->Record(row, {actor, "export", payload, now}));
//
// A chain link is held from before the export's snapshot until its row is recorded, so two
// exports never chain to the same predecessor. SQLite (one provd): BeginChain reads the newest
// export; Record re-checks it inside its write transaction and refuses (ABORTED) when another
// export was recorded meanwhile. PostgreSQL (replicas): BeginChain opens a READ COMMITTED
// transaction, takes the advisory lock (kPgLockKey, kPgExportChainLock) = (0x50524f56, 6) and
// only then reads the newest export; Record inserts and appends the audit entry in that same
// transaction and commits: a second replica's BeginChain waits for the first's COMMIT and chains
// to its manifest. Dropping a chain without Record records nothing (PostgreSQL: ROLLBACK).
// One chain at a time per repository (the Exporter's mutex); List, LastExportUs and Stats may be
// called meanwhile from other threads.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/store/repo/audit_appender.h"

namespace prov::server {

// One row of `exports`.
struct ExportRecord {
  std::string export_id;  // "20261202T000000Z" or "20261202T000000Z-2"
  int64_t created_us = 0;
  std::string trigger;  // "schedule", "request"
  std::string path;     // the sealed folder
  std::string manifest_sha256;
  std::string previous_manifest_sha256;  // "" for the first export
  int64_t audit_head_seq = 0;
  std::string audit_head_hash;
  std::string summary;  // a serialized provenance.v1.ExportSummary
};

// The newest recorded export (by created_us, then export_id); all empty when there is none.
struct PreviousExport {
  std::string export_id;
  int64_t created_us = 0;
  std::string manifest_sha256;
};

struct ExportTriggerCount {
  uint64_t exports = 0;
  int64_t last_us = 0;
};

class ExportChain {
 public:
  virtual ~ExportChain() = default;
  virtual const PreviousExport& previous() const = 0;
  // Whether a recorded export already has this id.
  virtual absl::StatusOr<bool> IdTaken(const std::string& export_id) = 0;
  // Inserts `row` and appends `audit` in ONE transaction. ABORTED when another export was
  // recorded after previous() (SQLite) ; ALREADY_EXISTS when the id is taken; INVALID_ARGUMENT
  // when row.previous_manifest_sha256 is not previous()'s. Once only: a second call is
  // FAILED_PRECONDITION.
  virtual absl::Status Record(const ExportRecord& row, const AuditRecord& audit) = 0;
};

class ExportRepository {
 public:
  virtual ~ExportRepository() = default;
  virtual absl::StatusOr<std::unique_ptr<ExportChain>> BeginChain() = 0;
  // Whether a recorded export has this id (outside any chain: the Exporter's start-up cleanup).
  virtual absl::StatusOr<bool> IdTaken(const std::string& export_id) = 0;
  // Every recorded export, oldest first (created_us, then export_id).
  virtual absl::StatusOr<std::vector<ExportRecord>> List() = 0;
  // created_us of the newest export with this trigger ("" = any); nullopt when none.
  virtual absl::StatusOr<std::optional<int64_t>> LastExportUs(const std::string& trigger) = 0;
  // Per trigger: how many exports and the newest one's created_us.
  virtual absl::StatusOr<std::map<std::string, ExportTriggerCount>> Stats() = 0;
};

// The checks every engine's Record makes before writing (empty id, trigger, digest; the chain).
absl::Status CheckExportRecord(const ExportRecord& row, const PreviousExport& previous);

}  // namespace prov::server
