#include "server/store/store_backend.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/store/connection.h"
#include "server/store/pg/pg_alert_deliveries.h"
#include "server/store/pg/pg_analysis_facts.h"
#include "server/store/pg/pg_api_tokens.h"
#include "server/store/pg/pg_audit_appender.h"
#include "server/store/pg/pg_audit_log.h"
#include "server/store/pg/pg_cases.h"
#include "server/store/pg/pg_change_feed.h"
#include "server/store/pg/pg_conn.h"
#include "server/store/pg/pg_exports.h"
#include "server/store/pg/pg_fleet_reader.h"
#include "server/store/pg/pg_identity.h"
#include "server/store/pg/pg_ingest.h"
#include "server/store/pg/pg_ingest_batches.h"
#include "server/store/pg/pg_inventory.h"
#include "server/store/pg/pg_leader_election.h"
#include "server/store/pg/pg_location.h"
#include "server/store/pg/pg_node_enrollment.h"
#include "server/store/pg/pg_node_revocations.h"
#include "server/store/pg/pg_quarantine.h"
#include "server/store/pg/pg_replicas.h"
#include "server/store/pg/pg_retention.h"
#include "server/store/pg/pg_schema.h"
#include "server/store/quarantine.h"
#include "server/store/schema.h"
#include "server/store/sqlite/sqlite_alert_deliveries.h"
#include "server/store/sqlite/sqlite_analysis_facts.h"
#include "server/store/sqlite/sqlite_api_tokens.h"
#include "server/store/sqlite/sqlite_audit_appender.h"
#include "server/store/sqlite/sqlite_audit_log.h"
#include "server/store/sqlite/sqlite_cases.h"
#include "server/store/sqlite/sqlite_exports.h"
#include "server/store/sqlite/sqlite_identity.h"
#include "server/store/sqlite/sqlite_inventory.h"
#include "server/store/sqlite/sqlite_location.h"
#include "server/store/sqlite/sqlite_node_enrollment.h"
#include "server/store/sqlite/sqlite_node_revocations.h"
#include "server/store/sqlite/sqlite_retention.h"
#include "server/store/store.h"
#include "server/store/store_reader.h"

namespace prov::server {
namespace {

// Moves a StatusOr<unique_ptr<Derived>> into StatusOr<unique_ptr<Base>>.
template <typename Base, typename Derived>
absl::StatusOr<std::unique_ptr<Base>> Up(absl::StatusOr<std::unique_ptr<Derived>> opened) {
  if (!opened.ok()) return opened.status();
  return std::unique_ptr<Base>(*std::move(opened));
}

class SqliteBackend final : public StoreBackend {
 public:
  explicit SqliteBackend(std::string db_path) : db_path_(std::move(db_path)) {}

  StoreUrl::Engine engine() const override { return StoreUrl::Engine::kSqlite; }
  std::string Describe() const override { return absl::StrCat("sqlite:", db_path_); }

  absl::StatusOr<std::unique_ptr<IngestRepository>> OpenIngest(
      const IngestPlannerOptions& options, IngestBatchRecorder batch_record) override {
    if (batch_record != nullptr) {
      return absl::InvalidArgumentError(
          "store backend: SQLite has no ingest batch log (its provd feeds the engine in process)");
    }
    StoreOptions store_options;
    store_options.credit = options.credit;
    store_options.max_seq_jump = options.max_seq_jump;
    return Up<IngestRepository>(Store::Open(db_path_, store_options));
  }
  absl::StatusOr<std::unique_ptr<AlertDeliveryRepository>> OpenAlertDeliveries() override {
    return Up<AlertDeliveryRepository>(SqliteAlertDeliveryRepository::Open(db_path_));
  }
  absl::StatusOr<std::unique_ptr<AuditLogRepository>> OpenAuditLog() override {
    return Up<AuditLogRepository>(SqliteAuditLogRepository::Open(db_path_));
  }
  absl::StatusOr<std::unique_ptr<AuditAppender>> OpenAuditAppender() override {
    return Up<AuditAppender>(SqliteAuditAppender::Open(db_path_));
  }
  absl::StatusOr<std::unique_ptr<CaseRepository>> OpenCases() override {
    return Up<CaseRepository>(SqliteCaseRepository::Open(db_path_));
  }
  absl::StatusOr<std::unique_ptr<ApiTokenRepository>> OpenApiTokens() override {
    return Up<ApiTokenRepository>(SqliteApiTokenRepository::Open(db_path_));
  }
  absl::StatusOr<std::unique_ptr<NodeEnrollmentRepository>> OpenNodeEnrollment() override {
    return Up<NodeEnrollmentRepository>(SqliteNodeEnrollmentRepository::Open(db_path_));
  }
  absl::StatusOr<std::unique_ptr<NodeRevocationRepository>> OpenNodeRevocations() override {
    return Up<NodeRevocationRepository>(SqliteNodeRevocationRepository::Open(db_path_));
  }
  absl::StatusOr<std::unique_ptr<LocationRepository>> OpenLocation() override {
    return Up<LocationRepository>(SqliteLocationRepository::Open(db_path_));
  }
  absl::StatusOr<std::unique_ptr<IdentityRepository>> OpenIdentity() override {
    return Up<IdentityRepository>(SqliteIdentityRepository::Open(db_path_));
  }
  absl::StatusOr<std::unique_ptr<InventoryRepository>> OpenInventory() override {
    return Up<InventoryRepository>(SqliteInventoryRepository::Open(db_path_));
  }
  absl::StatusOr<std::unique_ptr<ExportRepository>> OpenExports() override {
    return Up<ExportRepository>(SqliteExportRepository::Open(db_path_));
  }
  absl::StatusOr<std::unique_ptr<ExportSnapshotSource>> OpenExportSnapshots() override {
    return Up<ExportSnapshotSource>(SqliteExportSnapshotSource::Open(db_path_));
  }
  absl::StatusOr<std::unique_ptr<RetentionRepository>> OpenRetention() override {
    return Up<RetentionRepository>(SqliteRetentionRepository::Open(db_path_));
  }
  absl::StatusOr<std::unique_ptr<AnalysisFactsRepository>> OpenAnalysisFacts() override {
    return Up<AnalysisFactsRepository>(SqliteAnalysisFactsRepository::Open(db_path_));
  }
  absl::StatusOr<std::unique_ptr<FleetReader>> OpenFleetReader(size_t connections) override {
    return Up<FleetReader>(StoreReader::Open(db_path_, connections));
  }
  absl::StatusOr<std::vector<QuarantinedRecord>> QuarantineUnreadable(absl::Time now) override {
    PROV_ASSIGN_OR_RETURN(auto db, OpenConnection(db_path_, SqliteDb::kReadWrite));
    return QuarantineUnreadableRecords(*db, now);
  }
  absl::StatusOr<ChangeFeed> OpenChangeFeed() override {
    return absl::UnimplementedError("store backend: SQLite has one provd; no change feed");
  }
  absl::StatusOr<std::unique_ptr<ReplicaRegistry>> OpenReplicaRegistry() override {
    return absl::UnimplementedError("store backend: SQLite has one provd; no replica registry");
  }
  absl::StatusOr<std::unique_ptr<IngestBatchSource>> OpenIngestBatchSource() override {
    return absl::UnimplementedError(
        "store backend: SQLite has no ingest batch log (its provd feeds the engine in process)");
  }
  absl::StatusOr<std::unique_ptr<IngestBatchAppender>> OpenIngestBatchAppender() override {
    return absl::UnimplementedError(
        "store backend: SQLite has no ingest batch log (its provd feeds the engine in process)");
  }
  absl::StatusOr<std::unique_ptr<LeaderElection>> OpenLeaderElection() override {
    return std::unique_ptr<LeaderElection>(std::make_unique<SoleLeader>());
  }

 private:
  const std::string db_path_;
};

class PgBackend final : public StoreBackend {
 public:
  PgBackend(StoreUrl url, StoreBackendOptions options)
      : url_(std::move(url)), options_(std::move(options)) {}

  StoreUrl::Engine engine() const override { return StoreUrl::Engine::kPostgres; }
  std::string Describe() const override { return url_.Redacted(); }

  absl::StatusOr<std::unique_ptr<IngestRepository>> OpenIngest(
      const IngestPlannerOptions& options, IngestBatchRecorder batch_record) override {
    PgIngestOptions pg_options;
    pg_options.connect_timeout = options_.pg_connect_timeout;
    pg_options.planner = options;
    pg_options.batch_record = std::move(batch_record);
    pg_options.on_partitions = options_.on_pg_partitions;
    return Up<IngestRepository>(PgIngestRepository::Open(conninfo(), pg_options));
  }
  absl::StatusOr<std::unique_ptr<AlertDeliveryRepository>> OpenAlertDeliveries() override {
    return Up<AlertDeliveryRepository>(PgAlertDeliveryRepository::Open(conninfo(), timeout()));
  }
  absl::StatusOr<std::unique_ptr<AuditLogRepository>> OpenAuditLog() override {
    return Up<AuditLogRepository>(PgAuditLogRepository::Open(conninfo(), timeout()));
  }
  absl::StatusOr<std::unique_ptr<AuditAppender>> OpenAuditAppender() override {
    return Up<AuditAppender>(PgAuditAppender::Open(conninfo(), timeout()));
  }
  absl::StatusOr<std::unique_ptr<CaseRepository>> OpenCases() override {
    return Up<CaseRepository>(PgCaseRepository::Open(conninfo(), timeout()));
  }
  absl::StatusOr<std::unique_ptr<ApiTokenRepository>> OpenApiTokens() override {
    return Up<ApiTokenRepository>(PgApiTokenRepository::Open(conninfo(), timeout()));
  }
  absl::StatusOr<std::unique_ptr<NodeEnrollmentRepository>> OpenNodeEnrollment() override {
    return Up<NodeEnrollmentRepository>(PgNodeEnrollmentRepository::Open(conninfo(), timeout()));
  }
  absl::StatusOr<std::unique_ptr<NodeRevocationRepository>> OpenNodeRevocations() override {
    return Up<NodeRevocationRepository>(PgNodeRevocationRepository::Open(conninfo(), timeout()));
  }
  absl::StatusOr<std::unique_ptr<LocationRepository>> OpenLocation() override {
    return Up<LocationRepository>(PgLocationRepository::Open(conninfo(), timeout()));
  }
  absl::StatusOr<std::unique_ptr<IdentityRepository>> OpenIdentity() override {
    return Up<IdentityRepository>(PgIdentityRepository::Open(conninfo(), timeout()));
  }
  absl::StatusOr<std::unique_ptr<InventoryRepository>> OpenInventory() override {
    return Up<InventoryRepository>(PgInventoryRepository::Open(conninfo(), timeout()));
  }
  absl::StatusOr<std::unique_ptr<ExportRepository>> OpenExports() override {
    return Up<ExportRepository>(PgExportRepository::Open(conninfo(), timeout()));
  }
  absl::StatusOr<std::unique_ptr<ExportSnapshotSource>> OpenExportSnapshots() override {
    return Up<ExportSnapshotSource>(PgExportSnapshotSource::Open(conninfo(), timeout()));
  }
  absl::StatusOr<std::unique_ptr<RetentionRepository>> OpenRetention() override {
    return Up<RetentionRepository>(PgRetentionRepository::Open(conninfo(), timeout()));
  }
  absl::StatusOr<std::unique_ptr<AnalysisFactsRepository>> OpenAnalysisFacts() override {
    return Up<AnalysisFactsRepository>(PgAnalysisFactsRepository::Open(conninfo(), timeout()));
  }
  absl::StatusOr<std::unique_ptr<FleetReader>> OpenFleetReader(size_t connections) override {
    return Up<FleetReader>(PgFleetReader::Open(conninfo(), connections, timeout()));
  }
  absl::StatusOr<std::vector<QuarantinedRecord>> QuarantineUnreadable(absl::Time now) override {
    PgConnOptions conn_options;
    conn_options.connect_timeout = timeout();
    conn_options.application_name = "provd/quarantine";
    conn_options.search_path = kPgSchema;
    PROV_ASSIGN_OR_RETURN(std::unique_ptr<PgConn> conn, PgConn::Connect(conninfo(), conn_options));
    return QuarantineUnreadableRecords(*conn, now);
  }
  absl::StatusOr<ChangeFeed> OpenChangeFeed() override {
    ChangeFeed feed;
    PROV_ASSIGN_OR_RETURN(feed.listener,
                          Up<ChangeListener>(PgChangeListener::Open(conninfo(), timeout())));
    PROV_ASSIGN_OR_RETURN(feed.announcer,
                          Up<ChangeAnnouncer>(PgChangeAnnouncer::Open(conninfo(), timeout())));
    return feed;
  }
  absl::StatusOr<std::unique_ptr<ReplicaRegistry>> OpenReplicaRegistry() override {
    return Up<ReplicaRegistry>(PgReplicaRegistry::Open(conninfo(), timeout()));
  }
  absl::StatusOr<std::unique_ptr<IngestBatchSource>> OpenIngestBatchSource() override {
    return Up<IngestBatchSource>(PgIngestBatchReader::Open(conninfo(), timeout()));
  }
  absl::StatusOr<std::unique_ptr<IngestBatchAppender>> OpenIngestBatchAppender() override {
    return Up<IngestBatchAppender>(PgIngestBatchAppender::Open(conninfo(), timeout()));
  }
  absl::StatusOr<std::unique_ptr<LeaderElection>> OpenLeaderElection() override {
    PgLeaderOptions leader;
    leader.holder = options_.replica;
    leader.takeover = options_.takeover;
    leader.connect_timeout = options_.pg_connect_timeout;
    return Up<LeaderElection>(PgLeaderElection::Open(conninfo(), leader));
  }

 private:
  const std::string& conninfo() const { return url_.pg_conninfo; }
  absl::Duration timeout() const { return options_.pg_connect_timeout; }

  const StoreUrl url_;
  const StoreBackendOptions options_;
};

absl::StatusOr<std::unique_ptr<StoreBackend>> OpenSqlite(const StoreUrl& url) {
  const std::string path = absl::StrCat(url.sqlite_dir, "/provd.db");
  // As Store::Open: the file is checked before anything writes to it (OpenConnection would
  // write the journal mode into its header), so a foreign or non-SQLite file is refused intact.
  PROV_ASSIGN_OR_RETURN(std::unique_ptr<SqliteDb> db, SqliteDb::Open(path, SqliteDb::kReadWrite));
  PROV_RETURN_IF_ERROR(db->Exec("PRAGMA busy_timeout=5000"));
  if (absl::Status ours = CheckProvdDatabase(*db); !ours.ok()) {
    return absl::Status(ours.code(), absl::StrCat(path, ": ", ours.message()));
  }
  db.reset();
  PROV_ASSIGN_OR_RETURN(db, OpenConnection(path, SqliteDb::kReadWrite));
  PROV_RETURN_IF_ERROR(MigrateSchema(*db));
  return std::unique_ptr<StoreBackend>(std::make_unique<SqliteBackend>(path));
}

absl::StatusOr<std::unique_ptr<StoreBackend>> OpenPostgres(const StoreUrl& url,
                                                           const StoreBackendOptions& options) {
  PgConnOptions conn_options;
  conn_options.connect_timeout = options.pg_connect_timeout;
  conn_options.application_name = "provd/migrate";
  conn_options.search_path = kPgSchema;
  PROV_ASSIGN_OR_RETURN(std::unique_ptr<PgConn> conn,
                        PgConn::Connect(url.pg_conninfo, conn_options));
  PROV_RETURN_IF_ERROR(MigratePgSchema(*conn));
  return std::unique_ptr<StoreBackend>(std::make_unique<PgBackend>(url, options));
}

}  // namespace

absl::StatusOr<std::unique_ptr<StoreBackend>> OpenStoreBackend(const StoreUrl& url,
                                                               const StoreBackendOptions& options) {
  if (options.replica.empty()) {
    return absl::InvalidArgumentError("store backend: empty replica name");
  }
  switch (url.engine) {
    case StoreUrl::Engine::kSqlite:
      return OpenSqlite(url);
    case StoreUrl::Engine::kPostgres:
      return OpenPostgres(url, options);
  }
  return absl::InvalidArgumentError("store backend: unknown engine");
}

}  // namespace prov::server
