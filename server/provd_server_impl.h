// ProvdServer's state (internal to provd_server*.cc): what Init wires and Shutdown takes down.
// provd_server.cc builds it; provd_roles.cc runs what only the elected leader runs and keeps
// this replica in step with the others (PostgreSQL).
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "prometheus/exposer.h"
#include "server/access/access_metrics.h"
#include "server/access/access_service.h"
#include "server/access/authenticator.h"
#include "server/access/enrollment_service.h"
#include "server/access/node_admin_service.h"
#include "server/access/node_ca.h"
#include "server/access/node_revocation_list.h"
#include "server/access/node_revocation_sync.h"
#include "server/access/token_store.h"
#include "server/alerting/alert_notifier.h"
#include "server/analysis/analysis_engine.h"
#include "server/analysis/analysis_metrics.h"
#include "server/analysis/analysis_service.h"
#include "server/analysis/ingest_feed.h"
#include "server/analysis/node_event_forwarder.h"
#include "server/audit/audit_service.h"
#include "server/cases/case_manager.h"
#include "server/cases/case_service.h"
#include "server/export/export_metrics.h"
#include "server/export/export_setup.h"
#include "server/identity/identity_service.h"
#include "server/ingest/agent_gateway_service.h"
#include "server/ingest/ingest_writer.h"
#include "server/inventory/inventory_service.h"
#include "server/location/landmark_gateway.h"
#include "server/location/location_config.h"
#include "server/location/location_hub.h"
#include "server/location/location_service.h"
#include "server/metrics/log_collector.h"
#include "server/metrics/provd_metrics.h"
#include "server/metrics/tls_collector.h"
#include "server/provd_server.h"
#include "server/store/repo/change_feed.h"
#include "server/store/repo/leader_election.h"
#include "server/store/store_backend.h"
#include "server/web/web_metrics.h"
#include "server/web/web_server.h"

namespace prov::server {

// Member order is teardown order in reverse: the gRPC server goes first (Shutdown resets it).
struct ProvdServer::Impl {
  ProvdOptions options;
  const AcceleratorCatalog* catalog = nullptr;
  const Clock* clock = nullptr;
  std::shared_ptr<ProvdMetrics> metrics;
  std::unique_ptr<StoreBackend> backend;  // --store: every repository below comes from it
  bool postgres = false;                  // replicas share the store (else SQLite, one provd)
  std::unique_ptr<IngestRepository> ingest;
  std::unique_ptr<FleetReader> reader;
  std::unique_ptr<TokenStore> tokens;
  std::unique_ptr<FailedAuthLimiter> auth_limiter;
  std::unique_ptr<DenialAuditor> denials;
  std::unique_ptr<Authenticator> auth;
  std::unique_ptr<AuditLogRepository> audit_log;
  std::unique_ptr<NodeRevocationList> revoked_nodes;
  std::shared_ptr<OpenStreams> open_streams;
  std::unique_ptr<NodeAdminServiceImpl> node_admin;
  std::unique_ptr<NodeCa> node_ca;
  std::unique_ptr<NodeCertBinder> renewal_certs;
  std::unique_ptr<EnrollmentServiceImpl> enrollment;
  std::unique_ptr<grpc::Server> enroll_server;
  int enroll_port = 0;
  LoadedPolicy policy;
  std::unique_ptr<AnalysisEngine> analysis;
  std::unique_ptr<AnalysisServiceImpl> analysis_service;
  // PostgreSQL: this replica's node events, to the leader's engine through the batch log.
  std::unique_ptr<NodeEventForwarder> node_events;
  // The leader's singletons (provd_roles.cc): the alert notifier exists while this replica
  // leads; the export scheduler (in `exports`) runs while it leads; on PostgreSQL the feed reads
  // the ingest batch log into the engine while it leads.
  std::unique_ptr<LeaderElection> election;
  absl::Mutex role_mu;  // the leader's singletons below, between the election's thread and Shutdown
  std::unique_ptr<AlertNotifier> alerts ABSL_GUARDED_BY(role_mu);
  absl::Status alerts_status ABSL_GUARDED_BY(role_mu);  // the last election's StartAlerts
  std::unique_ptr<IngestFeed> feed;                     // PostgreSQL
  std::thread lead_reconcile ABSL_GUARDED_BY(role_mu);  // cases after a Lead's reload
  // PostgreSQL: changes committed by other replicas (provd_roles.cc).
  std::unique_ptr<ChangeAnnouncer> announcer;
  std::unique_ptr<ChangeListener> listener;
  std::unique_ptr<IdentitySink> identity_sink;        // the engine, announcing (provd_roles.cc)
  std::unique_ptr<IdentityRepository> identity_sync;  // reloads identity on kIdentityChannel
  std::string replica_name;                           // --replica-name, else the host name
  int64_t started_us = 0;
  std::unique_ptr<ReplicaRegistry> registry;  // PostgreSQL: heartbeats, provctl status
  std::unique_ptr<NodeRevocationRepository> revocation_repo;
  std::unique_ptr<NodeRevocationSync> revocation_sync;
  absl::Mutex sync_mu;
  bool sync_stop ABSL_GUARDED_BY(sync_mu) = false;
  std::thread sync_thread;         // beats the replica's heartbeat and polls revocation_sync
  bool heartbeat_written = false;  // the sync thread's: a heartbeat of this replica landed
  std::unique_ptr<IdentityServiceImpl> identity;
  std::unique_ptr<InventoryServiceImpl> inventory;
  std::unique_ptr<CaseManager> cases;
  std::unique_ptr<CaseServiceImpl> case_service;
  std::unique_ptr<AccessServiceImpl> access_service;
  std::unique_ptr<AuditLogServiceImpl> audit_log_service;
  std::unique_ptr<ExportSetup> exports;
  std::shared_ptr<ReportQueue> queue;
  std::unique_ptr<IngestWriter> writer;
  std::unique_ptr<AgentGatewayService> gateway;
  std::unique_ptr<location::LocationConfig> location_config;
  std::unique_ptr<location::LocationHub> location;  // null: --location-config not given
  std::unique_ptr<location::LandmarkGatewayImpl> landmark_gateway;
  std::unique_ptr<location::LocationServiceImpl> location_service;
  std::unique_ptr<AuditServiceImpl> audit;
  std::shared_ptr<StoreCollector> store_collector;
  std::shared_ptr<AnalysisCollector> analysis_collector;
  std::shared_ptr<IngestFeedCollector> feed_collector;  // PostgreSQL
  std::shared_ptr<AccessCollector> access_collector;
  std::shared_ptr<ExportCollector> export_collector;
  std::shared_ptr<ImportCollector> import_collector;
  std::unique_ptr<prometheus::Exposer> exposer;
  std::unique_ptr<grpc::Server> server;
  std::shared_ptr<web::WebCollector> web_collector;
  std::shared_ptr<TlsCollector> tls_collector;
  std::shared_ptr<LogCollector> log_collector;
  std::unique_ptr<web::WebServer> web;  // the dashboard: a client of `server`, so it goes first
  int port = 0;
  int metrics_port = 0;
  bool shut_down = false;
};

// provd_roles.cc.
std::string HostName();  // gethostname, or "provd"
// Tells the other replicas (PostgreSQL; nothing on SQLite); a failure is logged, not returned.
void Announce(ProvdServer::Impl& s, const char* channel, const std::string& payload);
// The identity service's sink: the engine, and the other replicas told of each change.
IdentitySink* IdentitySinkFor(ProvdServer::Impl& s);

}  // namespace prov::server
