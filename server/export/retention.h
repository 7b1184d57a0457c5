// RetentionPruner: deletes stored records older than the retention period (provd --retention,
// five years by default: EAR record keeping, 15 CFR 762.6), and records each pass in the audit
// log ("retention.prune", with the cutoff and the counts).
//
//   PROV_ASSIGN_OR_RETURN(auto pruner, RetentionPruner::Open(db_path, clock, absl::Hours(24 *
//   1826))); PROV_ASSIGN_OR_RETURN(PruneCounts n, pruner->Prune("provd"));
//   // or on any engine (server/store/repo/retention.h):
//   PROV_ASSIGN_OR_RETURN(auto pruner, RetentionPruner::Create(std::move(repo), clock, retention));
//
// What goes, once older than the cutoff (now - retention):
//   reports               rows collected before the cutoff (per-report metadata), walked in
//                         arrival order up to the first one received after the cutoff
//   account_usage_hourly  hours that ended before the cutoff
//   workloads             workloads last seen before the cutoff, with their workload_details
//   case_actions          actions before the cutoff on cases resolved before the cutoff
// What is kept (docs/export-format.md, "Retention"): nodes and the accelerator inventory, KYC
// imports and identities, screening lists and hits, policies, the analysis state (flags,
// bundles, links, cases), the audit log and the exports table; export folders are never deleted
// by provd. Nothing younger than the cutoff is ever deleted.
//
// Deletes run in batches of at most kBatchRows rows, each its own short write transaction, so the
// ingest writer is never held off for long; the audit entry follows in its own transaction. The
// SQL is the RetentionRepository's (SQLite: sqlite/sqlite_retention.*, PostgreSQL:
// pg/pg_retention.*: whole day partitions dropped, then row deletes); the order and the entry are
// here. If provd stops mid-pass the rows already deleted are gone without an entry; the next pass
// deletes the rest and records what it deleted. Thread-compatible (the scheduler thread calls it).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "server/store/repo/retention.h"

namespace prov::server {

struct PruneCounts {
  int64_t cutoff_us = 0;
  uint64_t reports = 0;
  uint64_t usage_hours = 0;
  uint64_t workloads = 0;
  uint64_t workload_details = 0;
  uint64_t case_actions = 0;
};

class RetentionPruner {
 public:
  static constexpr int kBatchRows = 5000;
  // SQLite: provd.db at db_path.
  static absl::StatusOr<std::unique_ptr<RetentionPruner>> Open(const std::string& db_path,
                                                               const Clock& clock,
                                                               absl::Duration retention);
  static absl::StatusOr<std::unique_ptr<RetentionPruner>> Create(
      std::unique_ptr<RetentionRepository> repo, const Clock& clock, absl::Duration retention);
  absl::StatusOr<PruneCounts> Prune(const std::string& actor);
  // When the newest "retention.prune" audit entry was written; nullopt when never.
  absl::StatusOr<std::optional<absl::Time>> LastPruneTime();
  absl::Duration retention() const { return retention_; }

 private:
  RetentionPruner(std::unique_ptr<RetentionRepository> repo, const Clock& clock,
                  absl::Duration retention)
      : repo_(std::move(repo)), clock_(clock), retention_(retention) {}

  std::unique_ptr<RetentionRepository> repo_;
  const Clock& clock_;
  const absl::Duration retention_;
};

}  // namespace prov::server
