// StoreBackend: the one place that knows which engine holds provd's data and where, and opens
// every repository on it: SQLite (provd.db in the data directory, the embedded default) or
// PostgreSQL (a libpq connection string shared by provd replicas).
//
//   PROV_ASSIGN_OR_RETURN(StoreUrl url, ParseStoreUrl(absl::GetFlag(FLAGS_store)));
//   PROV_ASSIGN_OR_RETURN(auto backend, OpenStoreBackend(url, {.replica = "provd-a"}));
//   PROV_LOG_INFO("store", "store: {}", backend->Describe());   // never a password
//   PROV_ASSIGN_OR_RETURN(std::unique_ptr<CaseRepository> cases, backend->OpenCases());
//   PROV_ASSIGN_OR_RETURN(auto election, backend->OpenLeaderElection());
//
// OpenStoreBackend checks that the database is provd's (a foreign SQLite file or PostgreSQL
// database is refused, never modified) and migrates its schema once, under the engine's lock
// (SQLite: BEGIN IMMEDIATE per version; PostgreSQL: the migration advisory lock, so replicas
// starting together migrate once). Each Open* then opens one repository on a connection of its
// own (SQLite: a connection to provd.db; PostgreSQL: a session named `provd/<domain>` in
// pg_stat_activity), which the repository owns; repositories are as thread-safe as their own
// headers say. A backend is thread-safe and may outlive or be outlived by what it opened.
//
// Errors: INVALID_ARGUMENT for options that make no sense (an empty replica name), what the
// engine says otherwise (UNAVAILABLE: PostgreSQL unreachable; FAILED_PRECONDITION: not provd's
// database, or a newer schema than this provd knows).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/store/ingest_planner.h"
#include "server/store/repo/alert_deliveries.h"
#include "server/store/repo/analysis_facts.h"
#include "server/store/repo/api_tokens.h"
#include "server/store/repo/audit_appender.h"
#include "server/store/repo/audit_log.h"
#include "server/store/repo/cases.h"
#include "server/store/repo/change_feed.h"
#include "server/store/repo/export_snapshot.h"
#include "server/store/repo/exports.h"
#include "server/store/repo/fleet_reader.h"
#include "server/store/repo/identity.h"
#include "server/store/repo/ingest.h"
#include "server/store/repo/ingest_batches.h"
#include "server/store/repo/inventory.h"
#include "server/store/repo/leader_election.h"
#include "server/store/repo/location.h"
#include "server/store/repo/node_enrollment.h"
#include "server/store/repo/node_revocations.h"
#include "server/store/repo/quarantine.h"
#include "server/store/repo/replicas.h"
#include "server/store/repo/retention.h"
#include "server/store/store_url.h"

namespace prov::server {

struct PgPartitionsReport;  // pg/pg_partitions.h

// What a committed batch appends to the PostgreSQL ingest batch log (PgIngestOptions::
// batch_record): the leader's analysis engine reads it (docs/design/scale-out.md section 3).
using IngestBatchRecorder = std::function<std::string(const std::vector<ReportToCommit>& batch,
                                                      const CommitResult& result)>;

struct StoreBackendOptions {
  // This replica's name, as the leader row and `provctl status` show it (PostgreSQL).
  std::string replica = "provd";
  // How long the elected leader may be gone before a standby takes over (PostgreSQL; SQLite has
  // one provd, which leads alone).
  absl::Duration takeover = absl::Seconds(15);
  absl::Duration pg_connect_timeout = absl::Seconds(10);
  // PostgreSQL: told after each attempt of the ingest repository to make the day partitions
  // ahead (pg/pg_partitions.h; on the ingest writer's thread). Unused on SQLite.
  std::function<void(const PgPartitionsReport&)> on_pg_partitions = nullptr;
};

class StoreBackend {
 public:
  virtual ~StoreBackend() = default;

  virtual StoreUrl::Engine engine() const = 0;
  // "sqlite:<path to provd.db>", or "postgresql: <parameters without the password>".
  virtual std::string Describe() const = 0;

  // `batch_record`: PostgreSQL only (INVALID_ARGUMENT on SQLite, whose one provd feeds its engine
  // in process); null: no batch log rows.
  virtual absl::StatusOr<std::unique_ptr<IngestRepository>> OpenIngest(
      const IngestPlannerOptions& options, IngestBatchRecorder batch_record) = 0;
  absl::StatusOr<std::unique_ptr<IngestRepository>> OpenIngest(
      const IngestPlannerOptions& options) {
    return OpenIngest(options, nullptr);
  }
  virtual absl::StatusOr<std::unique_ptr<AlertDeliveryRepository>> OpenAlertDeliveries() = 0;
  virtual absl::StatusOr<std::unique_ptr<AuditLogRepository>> OpenAuditLog() = 0;
  virtual absl::StatusOr<std::unique_ptr<AuditAppender>> OpenAuditAppender() = 0;
  virtual absl::StatusOr<std::unique_ptr<CaseRepository>> OpenCases() = 0;
  virtual absl::StatusOr<std::unique_ptr<ApiTokenRepository>> OpenApiTokens() = 0;
  virtual absl::StatusOr<std::unique_ptr<NodeEnrollmentRepository>> OpenNodeEnrollment() = 0;
  virtual absl::StatusOr<std::unique_ptr<NodeRevocationRepository>> OpenNodeRevocations() = 0;
  virtual absl::StatusOr<std::unique_ptr<LocationRepository>> OpenLocation() = 0;
  virtual absl::StatusOr<std::unique_ptr<IdentityRepository>> OpenIdentity() = 0;
  virtual absl::StatusOr<std::unique_ptr<InventoryRepository>> OpenInventory() = 0;
  virtual absl::StatusOr<std::unique_ptr<ExportRepository>> OpenExports() = 0;
  virtual absl::StatusOr<std::unique_ptr<ExportSnapshotSource>> OpenExportSnapshots() = 0;
  virtual absl::StatusOr<std::unique_ptr<RetentionRepository>> OpenRetention() = 0;
  virtual absl::StatusOr<std::unique_ptr<AnalysisFactsRepository>> OpenAnalysisFacts() = 0;
  // Pooled: `connections` sessions (PostgreSQL) or read-only connections (SQLite).
  virtual absl::StatusOr<std::unique_ptr<FleetReader>> OpenFleetReader(size_t connections) = 0;
  // Moves every stored record that no longer parses to quarantined_records (repo/quarantine.h),
  // before anything reads them back; returns what it moved.
  virtual absl::StatusOr<std::vector<QuarantinedRecord>> QuarantineUnreadable(absl::Time now) = 0;
  // The change feed between replicas (repo/change_feed.h): PostgreSQL (sessions provd/listen and
  // provd/announce); UNIMPLEMENTED on SQLite (one provd, nothing to tell).
  virtual absl::StatusOr<ChangeFeed> OpenChangeFeed() = 0;
  // The replicas' heartbeats, the leader row and the analysis backlog (repo/replicas.h):
  // PostgreSQL; UNIMPLEMENTED on SQLite.
  virtual absl::StatusOr<std::unique_ptr<ReplicaRegistry>> OpenReplicaRegistry() = 0;
  // The leader's reader of the ingest batch log (PgIngestBatchReader, session
  // provd/analysis-feed); UNIMPLEMENTED on SQLite.
  virtual absl::StatusOr<std::unique_ptr<IngestBatchSource>> OpenIngestBatchSource() = 0;
  // Node events into the batch log (PostgreSQL; UNIMPLEMENTED on SQLite, whose one provd hands
  // them to its engine in process).
  virtual absl::StatusOr<std::unique_ptr<IngestBatchAppender>> OpenIngestBatchAppender() = 0;
  // Which replica runs the singletons (analysis engine, alert notifier, export scheduler):
  // SoleLeader on SQLite, PgLeaderElection (options' replica and takeover) on PostgreSQL.
  virtual absl::StatusOr<std::unique_ptr<LeaderElection>> OpenLeaderElection() = 0;
};

absl::StatusOr<std::unique_ptr<StoreBackend>> OpenStoreBackend(
    const StoreUrl& url, const StoreBackendOptions& options = {});

}  // namespace prov::server
