#include "server/provd_server.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "common/fs.h"
#include "common/log/log.h"
#include "common/status_macros.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/impl/server_builder_option.h"
#include "grpcpp/resource_quota.h"
#include "prometheus/exposer.h"
#include "prometheus/registry.h"
#include "server/access/rpc_name.h"
#include "server/alerting/alert_notifier.h"
#include "server/analysis/analysis_store.h"
#include "server/analysis/observation.h"
#include "server/analysis/observation_record.h"
#include "server/provd_server_impl.h"
#include "server/store/pg/pg_partitions.h"
#include "server/store/quarantine.h"
#include "server/store/store_url.h"

namespace prov::server {
namespace {

// gRPC server reflection on one ServerBuilder, or not: Debian's libgrpc++_reflection registers its
// plugin for every server of the process from a static initializer as soon as it is loaded, so
// the option removes it unless provd --grpc-reflection asked for it (and adds it if it is not
// there).
class ReflectionOption : public grpc::ServerBuilderOption {
 public:
  explicit ReflectionOption(bool enabled) : enabled_(enabled) {}
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>* plugins) override {
    const std::string name = grpc::reflection::ProtoServerReflectionPlugin().name();
    std::erase_if(*plugins, [&](const auto& p) { return p->name() == name; });
    if (enabled_) {
      plugins->push_back(std::make_unique<grpc::reflection::ProtoServerReflectionPlugin>());
    }
  }

 private:
  const bool enabled_;
};

// The services AgentGateway's server carries, by their full names (grpc.health.v1 Check).
constexpr const char* kServiceNames[] = {
    "provenance.v1.AgentGateway",     "provenance.v1.AuditService",
    "provenance.v1.AnalysisService",  "provenance.v1.IdentityService",
    "provenance.v1.InventoryService", "provenance.v1.CaseService",
    "provenance.v1.AccessService",    "provenance.v1.AuditLogService",
    "provenance.v1.NodeAdminService", "provenance.v1.ExportService"};
// One KYC file or screening list per import (provctl checks the same limit before sending).
constexpr size_t kMaxImportBytes = 64u << 20;
// The transport's per-message receive limit is max_report_bytes (at least the 4 MiB a policy YAML
// may have) plus this: room for an agent's largest report frame, a policy, and one 1 MiB part of a
// streamed import (ImportAccountsStream).
constexpr size_t kMinMessageBytes = 4u << 20;
constexpr size_t kReceiveMarginBytes = 1u << 20;
constexpr int kHandshakeTimeoutMs = 10000;
constexpr int kMaxStreamsPerConnection = 100;
// 10,000 agents at about 40 KB each (conventions.md) fit with room to spare.
constexpr size_t kGrpcMemoryBytes = size_t{1} << 30;
}  // namespace

namespace {

absl::StatusOr<provenance::v1::Severity> ParseAlertSeverity(const std::string& name) {
  for (auto s : {provenance::v1::SEVERITY_INFO, provenance::v1::SEVERITY_LOW,
                 provenance::v1::SEVERITY_MEDIUM, provenance::v1::SEVERITY_HIGH,
                 provenance::v1::SEVERITY_CRITICAL}) {
    if (SeverityLabel(s) == name) return s;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "alert_min_severity: \"", name, "\" is not one of info, low, medium, high, critical"));
}

absl::Status ValidateAlertOptions(const ProvdOptions& o);

}  // namespace

absl::StatusOr<NodeIdentityMode> ResolveNodeIdentity(const ProvdOptions& o) {
  if (o.node_identity.empty()) {
    return o.client_certificates ? NodeIdentityMode::kCert : NodeIdentityMode::kReport;
  }
  PROV_ASSIGN_OR_RETURN(NodeIdentityMode mode, ParseNodeIdentityMode(o.node_identity));
  if (mode == NodeIdentityMode::kCert && !o.client_certificates) {
    return absl::InvalidArgumentError(
        "node_identity: cert needs client certificates to bind streams to (--tls-client-ca)");
  }
  if (mode == NodeIdentityMode::kReport && o.client_certificates) {
    return absl::InvalidArgumentError(
        "node_identity: report is only for --insecure or TLS without --tls-client-ca; with "
        "client certificates every agent stream is bound to its certificate's node (cert)");
  }
  return mode;
}

namespace {

absl::Status ValidateAlertOptions(const ProvdOptions& o) {
  for (const std::string& url : o.alertmanager_urls) {
    if (absl::Status s = ValidateAlertmanagerUrl(url); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("alertmanager_url: ", s.message()));
    }
  }
  if (absl::Status s = ParseAlertSeverity(o.alert_min_severity).status(); !s.ok()) return s;
  if (o.alert_resend_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("alert_resend_interval: must be positive");
  }
  return absl::OkStatus();
}

// One attempt of the PostgreSQL ingest to make the day partitions ahead (once a day; a failure
// is retried every minute, so these lines come at most once a minute): metrics and the log.
void ReportDayPartitions(const PgPartitionsReport& report, ProvdMetrics& metrics) {
  metrics.DayPartitionsMade(report.status.ok(), report.created);
  if (!report.status.ok()) {
    PROV_LOG_WARN("store",
                  "could not create the day partitions ahead; ingest goes on, rows of days "
                  "without a partition go to the DEFAULT partitions; retried in a minute",
                  {"error", report.status});
  } else if (report.created > 0) {
    PROV_LOG_INFO("store", "created day partitions ahead", {"partitions", report.created});
  }
  for (const auto& [table, rows] : report.default_rows) {
    metrics.DefaultPartitionRows(table, rows);
    if (rows > 0) {
      PROV_LOG_WARN("store",
                    "rows in a DEFAULT partition: reports of days with no partition (spooled "
                    "from before the partitions, after retention dropped their day, or while "
                    "partitions could not be created); a day's partition takes its rows when it "
                    "is created",
                    {"table", table}, {"rows", rows});
    }
  }
}

}  // namespace

absl::Status ValidateOptions(const ProvdOptions& o) {
  if (o.data_dir.empty()) return absl::InvalidArgumentError("data_dir: is required");
  if (o.listen_address.empty()) return absl::InvalidArgumentError("listen_address: is empty");
  if (o.queue_capacity < 1) return absl::InvalidArgumentError("queue_capacity: must be >= 1");
  if (o.queue_max_bytes < 1) return absl::InvalidArgumentError("queue_max_bytes: must be >= 1");
  if (o.max_report_bytes < 1024 || o.max_report_bytes > kMaxImportBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_report_bytes: must be in [1024, ", kMaxImportBytes, "]"));
  }
  if (o.max_seq_jump < 1) return absl::InvalidArgumentError("max_seq_jump: must be >= 1");
  if (o.max_batch < 1) return absl::InvalidArgumentError("max_batch: must be >= 1");
  if (o.max_batch_delay < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("max_batch_delay: must not be negative");
  }
  if (!std::isfinite(o.default_utilization) || o.default_utilization <= 0 ||
      o.default_utilization > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("default_utilization: ", o.default_utilization, " is not in (0, 1]"));
  }
  if (o.ledger_max_report_lag < absl::Seconds(1)) {
    return absl::InvalidArgumentError("ledger_max_report_lag: must be at least 1s");
  }
  if (o.silent_after <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("silent_after: must be positive");
  }
  if (o.export_interval < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("export_interval: must not be negative (0 disables)");
  }
  if (o.retention < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("retention: must not be negative (0 keeps everything)");
  }
  if (!o.web_address.empty() && o.web_max_event_streams < 1) {
    return absl::InvalidArgumentError("web_max_event_streams: must be >= 1");
  }
  if (!(o.auth_fail_burst >= 1)) return absl::InvalidArgumentError("auth_fail_burst: must be >= 1");
  if (!(o.auth_fail_per_second > 0)) {
    return absl::InvalidArgumentError("auth_fail_per_second: must be positive");
  }
  if (o.denied_audit_per_minute < 0) {
    return absl::InvalidArgumentError("denied_audit_per_minute: must not be negative");
  }
  if (o.web_header_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("web_header_timeout: must be positive");
  }
  if (o.web_max_connections_per_peer < 1) {
    return absl::InvalidArgumentError("web_max_connections_per_peer: must be >= 1");
  }
  if (o.web_workers < 1) return absl::InvalidArgumentError("web_workers: must be >= 1");
  if (o.web_tls != nullptr && o.web_address.empty()) {
    return absl::InvalidArgumentError("web_tls: needs the dashboard on (web_address)");
  }
  PROV_RETURN_IF_ERROR(ResolveNodeIdentity(o).status());
  if (!o.enroll_listen_address.empty() || !o.node_ca_cert_file.empty() ||
      !o.node_ca_key_file.empty()) {
    if (o.enroll_listen_address.empty() || o.node_ca_cert_file.empty() ||
        o.node_ca_key_file.empty()) {
      return absl::InvalidArgumentError(
          "enroll_listen: enrolment needs --enroll-listen, --node-ca-cert and --node-ca-key "
          "together");
    }
    if (o.trust_domain.empty()) {
      return absl::InvalidArgumentError(
          "trust_domain: enrolment signs spiffe://<trust-domain>/node/<id> certificates; set "
          "--trust-domain");
    }
    if (o.node_cert_ttl < absl::Minutes(5) || o.node_cert_ttl > absl::Hours(24 * 366)) {
      return absl::InvalidArgumentError("node_cert_ttl: must be in [5m, 366d]");
    }
  }
  return ValidateAlertOptions(o);
}

ProvdServer::ProvdServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

absl::StatusOr<std::unique_ptr<ProvdServer>> ProvdServer::Start(ProvdOptions options) {
  PROV_RETURN_IF_ERROR(ValidateOptions(options));
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  std::unique_ptr<ProvdServer> server(new ProvdServer(std::move(impl)));
  absl::Status status = server->Init();
  if (!status.ok()) {
    server->Shutdown();
    return status;
  }
  return server;
}

absl::Status ProvdServer::Init() {
  Impl& s = *impl_;
  const ProvdOptions& o = s.options;
  s.catalog = o.catalog != nullptr ? o.catalog : &AcceleratorCatalog::Builtin();
  s.clock = o.clock != nullptr ? o.clock : &RealClock::Get();

  absl::Status mkdir = CreateDirectories(o.data_dir);
  if (!mkdir.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("data_dir: ", mkdir.message()));
  }
  StoreUrl url;
  if (o.store.empty()) {
    url.engine = StoreUrl::Engine::kSqlite;
    url.sqlite_dir = o.data_dir;
  } else {
    absl::StatusOr<StoreUrl> parsed = ParseStoreUrl(o.store);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("store: ", parsed.status().message()));
    }
    url = *std::move(parsed);
  }
  s.postgres = url.engine == StoreUrl::Engine::kPostgres;
  StoreBackendOptions backend_options;
  s.replica_name = o.replica_name.empty() ? HostName() : o.replica_name;
  s.started_us = absl::ToUnixMicros(s.clock->Now());
  backend_options.replica = s.replica_name;
  backend_options.takeover = o.leader_takeover;
  backend_options.on_pg_partitions = [&s](const PgPartitionsReport& report) {
    ReportDayPartitions(report, *s.metrics);  // the writer (and so this) starts after metrics
  };
  {
    absl::StatusOr<std::unique_ptr<StoreBackend>> backend = OpenStoreBackend(url, backend_options);
    if (!backend.ok()) {
      // A database that is not provd's, or unreachable: say which store.
      return absl::Status(
          backend.status().code(),
          absl::StrCat("store ",
                       url.engine == StoreUrl::Engine::kPostgres ? url.Redacted() : url.sqlite_dir,
                       ": ", backend.status().message()));
    }
    s.backend = *std::move(backend);
  }
  PROV_LOG_INFO("store", "store opened", {"store", s.backend->Describe()},
                {"replica", backend_options.replica});
  if (o.ledger_report_clock) {
    PROV_LOG_WARN("provd",
                  "--ledger-clock=report: the ledger credits the time agents' report timestamps "
                  "claim (for synthetic replays only; agents can inflate or hide compute)");
  }
  IngestPlannerOptions ingest_options;
  ingest_options.credit.max_report_lag = o.ledger_max_report_lag;
  ingest_options.credit.report_clock = o.ledger_report_clock;
  ingest_options.max_seq_jump = o.max_seq_jump;
  IngestBatchRecorder batch_record;
  if (s.postgres) {
    // The leader's engine reads each committed batch's observations from the batch log
    // (docs/design/scale-out.md section 3). No delta encoding (ObservationCache): an agent that
    // moves between replicas would make "unchanged" mean a version the engine never saw.
    batch_record = [](const std::vector<ReportToCommit>& batch, const CommitResult& result) {
      std::vector<ReportObservation> observations;
      observations.reserve(batch.size());
      for (size_t i = 0; i < batch.size(); ++i) {
        if (i < result.duplicate.size() && result.duplicate[i]) continue;
        observations.push_back(ObserveReport(*batch[i].report, batch[i].usage));
      }
      return EncodeObservationBatch(observations);
    };
  }
  PROV_ASSIGN_OR_RETURN(s.ingest, s.backend->OpenIngest(ingest_options, std::move(batch_record)));
  if (s.postgres) {
    // Replicas: the change feed, the identity reloads it drives, the leader's batch log reader.
    PROV_ASSIGN_OR_RETURN(ChangeFeed feed, s.backend->OpenChangeFeed());
    s.listener = std::move(feed.listener);
    s.announcer = std::move(feed.announcer);
    PROV_ASSIGN_OR_RETURN(s.identity_sync, s.backend->OpenIdentity());
    PROV_ASSIGN_OR_RETURN(s.registry, s.backend->OpenReplicaRegistry());
  }
  PROV_ASSIGN_OR_RETURN(s.reader, s.backend->OpenFleetReader(4));
  // Opened before anything reads it (GetServerStatus, the sync thread); started last.
  PROV_ASSIGN_OR_RETURN(s.election, s.backend->OpenLeaderElection());
  // Before anything reads stored records back: one that no longer parses is moved aside, not fatal.
  PROV_ASSIGN_OR_RETURN(std::vector<QuarantinedRecord> quarantined,
                        s.backend->QuarantineUnreadable(s.clock->Now()));
  for (const QuarantinedRecord& q : quarantined) {
    PROV_LOG_WARN("store", "stored record no longer parses; moved to quarantined_records, skipped",
                  {"table", q.table}, {"key", q.key}, {"reason", q.reason});
  }
  PROV_RETURN_IF_ERROR(InitAccess());

  // Identity records through IdentityRepository (server/store/repo/identity.h).
  PROV_ASSIGN_OR_RETURN(std::unique_ptr<IdentityRepository> identity_repo,
                        s.backend->OpenIdentity());
  PROV_ASSIGN_OR_RETURN(IdentityStartup startup, IdentityServiceImpl::LoadStartup(*identity_repo));
  PROV_RETURN_IF_ERROR(LoadStartupPolicy(startup));
  AnalysisEngine::Options analysis_options;
  analysis_options.open_store =
      [backend = s.backend.get()]() -> absl::StatusOr<std::unique_ptr<AnalysisStore>> {
    PROV_ASSIGN_OR_RETURN(std::unique_ptr<AnalysisFactsRepository> facts,
                          backend->OpenAnalysisFacts());
    PROV_ASSIGN_OR_RETURN(std::unique_ptr<InventoryRepository> inventory, backend->OpenInventory());
    return AnalysisStore::Create(std::move(facts), std::move(inventory));
  };
  // PostgreSQL: a follower until elected (provd_roles.cc); SQLite: the one provd leads.
  analysis_options.lead_at_start = !s.postgres;
  analysis_options.on_saved = [&s] { Announce(s, kFlagsChannel, ""); };
  analysis_options.clock = s.clock;
  analysis_options.policy = s.policy.policy;
  analysis_options.report_clock = o.ledger_report_clock;  // replays: silence too
  analysis_options.catalog = s.catalog;
  PROV_ASSIGN_OR_RETURN(s.analysis, AnalysisEngine::Start(std::move(analysis_options)));
  if (startup.snapshot.kyc_version > 0 || !startup.snapshot.screening_list_version.empty()) {
    s.analysis->OnIdentityChanged(std::move(startup.snapshot));
  }
  if (s.postgres) {
    // Runs while this replica leads (provd_roles.cc).
    PROV_ASSIGN_OR_RETURN(std::unique_ptr<IngestBatchSource> batches,
                          s.backend->OpenIngestBatchSource());
    s.feed = std::make_unique<IngestFeed>(*s.analysis, std::move(batches),
                                          IngestFeedOptions{.clock = s.clock});
  }
  s.analysis_service = std::make_unique<AnalysisServiceImpl>(*s.analysis, s.auth.get());
  PROV_ASSIGN_OR_RETURN(std::unique_ptr<CaseRepository> case_repo, s.backend->OpenCases());
  s.cases = std::make_unique<CaseManager>(std::move(case_repo), *s.analysis, *s.clock);
  s.cases->SetOnCommitted(
      [&s](const std::string& flag_id) { Announce(s, kCasesChannel, flag_id); });
  PROV_RETURN_IF_ERROR(s.cases->ReconcileEngine());
  s.case_service = std::make_unique<CaseServiceImpl>(*s.cases, *s.auth);
  IdentityServiceOptions identity_options;
  identity_options.max_import_bytes = kMaxImportBytes;
  identity_options.auth = s.auth.get();
  identity_options.name_frequencies = s.options.name_frequencies;
  PROV_ASSIGN_OR_RETURN(std::unique_ptr<IdentityRepository> identity_reader,
                        s.backend->OpenIdentity());
  s.identity =
      IdentityServiceImpl::Create(std::move(identity_repo), std::move(identity_reader), *s.clock,
                                  IdentitySinkFor(s), s.policy, identity_options);
  for (const QuarantinedRecord& q : quarantined) s.identity->stats().Quarantined(q.table, 1);
  InventoryServiceOptions inventory_options;
  inventory_options.auth = s.auth.get();
  inventory_options.stats = &s.identity->stats();  // prov_imports_total{kind="inventory"}
  inventory_options.catalog = s.catalog;
  inventory_options.max_import_bytes = kMaxImportBytes;
  inventory_options.on_imported = [&s] {
    s.analysis->OnInventoryChanged();
    Announce(s, kInventoryChannel, "");
  };
  PROV_ASSIGN_OR_RETURN(std::unique_ptr<InventoryRepository> inventory_repo,
                        s.backend->OpenInventory());
  s.inventory =
      InventoryServiceImpl::Create(std::move(inventory_repo), *s.clock, inventory_options);
  if (!startup.policy.has_value() || !s.options.policy_file.empty() ||
      s.options.name_frequencies != nullptr) {
    // The policy in force is not the stored one (screening hits follow its threshold), or the
    // name frequencies may differ from those the stored hits were scored with.
    auto rescreened = s.identity->RescreenAll();
    if (!rescreened.ok()) {
      return absl::Status(rescreened.status().code(),
                          absl::StrCat("re-screening accounts under the policy in force: ",
                                       rescreened.status().message()));
    }
  }

  ExportSetupOptions export_options;
  export_options.backend = s.backend.get();
  export_options.start_scheduler = false;  // while this replica leads (provd_roles.cc)
  export_options.data_dir = o.data_dir;
  export_options.export_dir = o.export_dir;
  export_options.key_file = o.export_signing_key_file;
  export_options.interval = o.export_interval;
  export_options.retention = o.retention;
  export_options.clock = s.clock;
  export_options.auth = s.auth.get();
  export_options.policy_version = [engine = s.analysis.get()] {
    return engine->Read([](const Analyzer& a) { return a.policy().version; });
  };
  if (!o.location_config_file.empty()) {
    auto config = location::LoadLocationConfig(o.location_config_file);
    if (!config.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("location_config: ", config.status().message()));
    }
    s.location_config = std::make_unique<location::LocationConfig>(*std::move(config));
    auto facts = std::make_shared<ExportLocation>();
    for (const auto& lm : s.location_config->landmarks) {
      facts->landmarks.push_back(
          {lm.id, lm.position.lat_deg, lm.position.lon_deg, lm.region, lm.public_key});
    }
    for (const auto& site : s.location_config->datacenters) {
      facts->sites.push_back(
          {site.id, site.position.lat_deg, site.position.lon_deg, site.region, ""});
    }
    export_options.location = std::move(facts);
  }
  PROV_ASSIGN_OR_RETURN(s.exports, ExportSetup::Start(std::move(export_options)));

  s.metrics = std::make_shared<ProvdMetrics>(std::make_shared<prometheus::Registry>());
  s.metrics->queue_capacity.Set(static_cast<double>(o.queue_capacity));
  s.metrics->start_time_seconds.Set(absl::ToDoubleSeconds(s.clock->Now() - absl::UnixEpoch()));
  s.metrics->queue_capacity_bytes.Set(static_cast<double>(o.queue_max_bytes));
  s.queue = std::make_shared<ReportQueue>(o.queue_capacity, o.queue_max_bytes);
  WriterOptions writer_options;
  writer_options.max_batch = o.max_batch;
  writer_options.max_batch_delay = o.max_batch_delay;
  writer_options.ledger.default_utilization = o.default_utilization;
  // The cache is the writer thread's own (the observer runs only there).
  if (!s.postgres) {
    // SQLite: the one provd hands committed batches to its engine in process (PostgreSQL: the
    // batch log, read by the leader's feed).
    writer_options.on_committed =
        [engine = s.analysis.get(), cache = std::make_shared<ObservationCache>()](
            const std::vector<IngestItem>& batch, const CommitResult& result) {
          std::vector<ReportObservation> observations =
              TakeObservations(batch, result, cache.get());
          engine->Submit(std::move(observations));
        };
  }
  // Node events: SQLite hands them to the one engine; on PostgreSQL every replica appends them to
  // the batch log, and the leader's feed hands them to its engine (a standby's would drop them).
  std::function<void(std::vector<NodeEvent>)> node_events;
  if (s.postgres) {
    PROV_ASSIGN_OR_RETURN(auto appender, s.backend->OpenIngestBatchAppender());
    s.node_events =
        std::make_unique<NodeEventForwarder>(std::move(appender), *s.clock, *s.metrics->registry());
    node_events = [forwarder = s.node_events.get()](std::vector<NodeEvent> events) {
      forwarder->Forward(std::move(events));
    };
  } else {
    node_events = [engine = s.analysis.get()](std::vector<NodeEvent> events) {
      engine->OnNodeEvents(std::move(events));
    };
  }
  writer_options.on_node_events = node_events;
  // Streams refused for speaking for another node: audited (access.denied's limits) and flagged
  // (node_identity_mismatch on the certificate's node).
  writer_options.on_node_refusals = [denials = s.denials.get(),
                                     node_events](std::vector<NodeRefusalNote> refusals) {
    std::vector<NodeEvent> events;
    events.reserve(refusals.size());
    for (const NodeRefusalNote& r : refusals) {
      denials->RecordNodeRefusal(r.cert_node_id, r.claimed_node_id, r.count, r.first_at, r.last_at);
      NodeEvent& e = events.emplace_back();
      e.kind = NodeEvent::Kind::kIdentityMismatch;
      e.node_id = r.cert_node_id;
      e.time = r.last_at;
      e.since = r.first_at;
      e.count = r.count;
      e.detail = r.claimed_node_id;
    }
    node_events(std::move(events));
  };
  s.writer = std::make_unique<IngestWriter>(*s.queue, *s.ingest, *s.catalog, *s.metrics, *s.clock,
                                            writer_options);
  s.writer->Start();

  StreamDeps deps;
  deps.queue = s.queue;
  deps.metrics = s.metrics;
  deps.clock = s.clock;
  deps.catalog = s.catalog;
  deps.ledger = writer_options.ledger;
  deps.max_report_bytes = o.max_report_bytes;
  // SQLite: observations begun on the gRPC threads (TakeObservations finishes them).
  deps.observe = !s.postgres;
  s.revoked_nodes = std::make_unique<NodeRevocationList>();
  s.open_streams = std::make_shared<OpenStreams>();
  deps.open_streams = s.open_streams;
  PROV_ASSIGN_OR_RETURN(auto revocations, s.backend->OpenNodeRevocations());
  PROV_ASSIGN_OR_RETURN(auto enroll_tokens, s.backend->OpenNodeEnrollment());
  PROV_ASSIGN_OR_RETURN(
      s.node_admin,
      NodeAdminServiceImpl::Create(
          std::move(revocations), std::move(enroll_tokens), *s.clock, *s.auth, *s.revoked_nodes,
          [open = s.open_streams](const std::string& node_id) {
            return open->EndNode(
                node_id, grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                                      absl::StrCat("node \"", node_id,
                                                   "\" is revoked (provctl nodes revocations)")));
          }));
  PROV_ASSIGN_OR_RETURN(NodeIdentityMode node_identity, ResolveNodeIdentity(o));
  std::shared_ptr<const NodeCertBinder> node_certs;
  if (node_identity == NodeIdentityMode::kCert) {
    PROV_ASSIGN_OR_RETURN(node_certs, NodeCertBinder::Create({.trust_domain = o.trust_domain,
                                                              .revoked = s.revoked_nodes.get()},
                                                             s.auth->people()));
  } else {
    PROV_LOG_WARN("provd",
                  "WARNING: --node-identity=report: agent reports are believed about which node "
                  "they come from (no client certificates bind them)");
  }
  if (s.location_config != nullptr) {
    location::LocationHub::Options lo;
    PROV_ASSIGN_OR_RETURN(lo.repository, s.backend->OpenLocation());
    lo.config = s.location_config.get();
    lo.clock = s.clock;
    lo.policy = [engine = s.analysis.get()] {
      return engine->Read([](const Analyzer& a) {
        return location::LocationPolicyView{a.policy().location, a.policy().version};
      });
    };
    // SQLite: to the one engine; PostgreSQL: through the batch log to the leader's engine (a
    // forged answer a standby's hub sees through the forwarder; the leader hub's verdict changes
    // in the transaction that saves the verdicts).
    lo.events = node_events;
    if (s.postgres) {
      // Every replica's hub takes landmark records and node keys; only the leader's judges.
      lo.leader_term = [election = s.election.get()] { return election->term(); };
      lo.encode_verdict_events = [](const std::vector<NodeEvent>& events) {
        return EncodeNodeEvents(events);
      };
    }
    lo.registry = s.metrics->registry().get();
    lo.tick = o.location_tick;
    lo.revoked_at = [revoked = s.revoked_nodes.get()](const std::string& node_id) {
      return revoked->RevokedAt(node_id);
    };
    lo.audit_refusals = [denials = s.denials.get()](const std::string& landmark, int64_t records,
                                                    const std::string& reasons,
                                                    const std::string& first) {
      denials->RecordLandmarkRefusal(landmark, records, reasons, first);
    };
    PROV_ASSIGN_OR_RETURN(s.location, location::LocationHub::Start(std::move(lo)));
    s.landmark_gateway = std::make_unique<location::LandmarkGatewayImpl>(
        *s.location, location::LandmarkAuthOptions{.require_client_cert = o.client_certificates,
                                                   .allow_anonymous = o.credentials == nullptr,
                                                   .trust_domain = o.trust_domain});
    s.location_service = std::make_unique<location::LocationServiceImpl>(*s.location, *s.auth);
  }
  AgentGatewayService::OnBound on_bound;
  if (s.location != nullptr) {
    on_bound = [hub = s.location.get()](const std::string& node, const std::string& pem) {
      hub->NodeCertificateSeen(node, pem, "stream");
    };
  }
  s.gateway = std::make_unique<AgentGatewayService>(std::move(deps), std::move(node_certs),
                                                    std::move(on_bound));
  s.audit = std::make_unique<AuditServiceImpl>(*s.reader, *s.clock, o.silent_after, s.auth.get(),
                                               s.catalog);
  s.audit->SetStatusSource([this] { return ServerStatus(); });

  // Process-wide gRPC settings. Reflection is this server's alone, and only on request.
  static std::once_flag grpc_globals;
  std::call_once(grpc_globals, [] { grpc::EnableDefaultHealthCheckService(true); });
  grpc::ServerBuilder builder;
  builder.SetOption(std::make_unique<ReflectionOption>(o.grpc_reflection));
  builder.AddListeningPort(
      o.listen_address, o.credentials ? o.credentials : grpc::InsecureServerCredentials(), &s.port);
  // Bound memory (conventions.md): without BDP probing each stream's window stays at the default
  // 64 KiB, so a fast agent cannot make provd buffer far ahead of the writer.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  // gRPC sets SO_REUSEPORT by default: a second provd on the same address would then start and
  // share the agents (and their reports) with the first instead of failing. Port 0 under
  // ephemeral-port pressure can even hand two servers the same port.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // gRPC buffers a whole message before any handler sees it, and 1.51 has no per-method receive
  // limit on the server: the limit is the largest report frame plus a margin (issue 14: not the
  // import limit). KYC files and screening lists larger than that come as streamed parts
  // (ImportAccountsStream). A frame between max_report_bytes and this limit is rejected in-stream
  // by the gateway before it is parsed; a larger message ends its call RESOURCE_EXHAUSTED.
  builder.SetMaxReceiveMessageSize(
      static_cast<int>(std::max(o.max_report_bytes, kMinMessageBytes) + kReceiveMarginBytes));
  builder.SetMaxSendMessageSize(64 << 20);  // audit answers can be large
  // Agents keep idle connections alive with pings every >= 10 s; permit that without calls.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 60000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20000);
  // Hostile clients (issue 13, docs/faults.md). A peer that connects and never completes the
  // HTTP/2 (or TLS) handshake is dropped after 10 s instead of gRPC's 120 s; one connection may
  // hold at most kMaxStreamsPerConnection open calls (an agent needs one, provctl a few), so one
  // client cannot open thousands of streams on a single connection; and all of gRPC's buffers
  // together are bounded by one resource quota.
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, kHandshakeTimeoutMs);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, kMaxStreamsPerConnection);
  grpc::ResourceQuota quota("provd-grpc");
  quota.Resize(kGrpcMemoryBytes);
  builder.SetResourceQuota(quota);
  {
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
    creators.push_back(NewRpcNameInterceptorFactory());  // RPC names for access.denied entries
    builder.experimental().SetInterceptorCreators(std::move(creators));
  }
  builder.RegisterService(s.gateway.get());
  builder.RegisterService(s.audit.get());
  builder.RegisterService(s.analysis_service.get());
  builder.RegisterService(s.identity.get());
  builder.RegisterService(s.inventory.get());
  builder.RegisterService(s.case_service.get());
  builder.RegisterService(s.access_service.get());
  builder.RegisterService(s.audit_log_service.get());
  builder.RegisterService(s.node_admin.get());
  builder.RegisterService(s.exports->service());
  if (s.location != nullptr) {
    builder.RegisterService(s.landmark_gateway.get());
    builder.RegisterService(s.location_service.get());
  }
  s.server = builder.BuildAndStart();
  if (s.server != nullptr) {
    // Per-service health (grpc.health.v1): SERVING for each service while up, NOT_SERVING for
    // all as soon as provd starts draining (Shutdown), so a load balancer stops sending agents.
    if (auto* health = s.server->GetHealthCheckService()) {
      for (const char* service : kServiceNames) health->SetServingStatus(service, true);
    }
  }
  if (s.server == nullptr || s.port == 0) {
    return absl::UnavailableError(
        absl::StrCat("listen_address: cannot listen on ", o.listen_address));
  }
  PROV_RETURN_IF_ERROR(StartEnrollment());

  if (!o.metrics_address.empty()) {
    try {
      s.exposer = std::make_unique<prometheus::Exposer>(o.metrics_address, 2);
    } catch (const std::exception& e) {
      return absl::UnavailableError(
          absl::StrCat("metrics_address: cannot listen on ", o.metrics_address, ": ", e.what()));
    }
    s.store_collector = std::make_shared<StoreCollector>(*s.reader, *s.clock, o.silent_after);
    s.exposer->RegisterCollectable(s.metrics->registry());
    s.exposer->RegisterCollectable(s.store_collector);
    s.log_collector = std::make_shared<LogCollector>();
    s.exposer->RegisterCollectable(s.log_collector);
    if (o.tls_rotation != nullptr) {
      s.tls_collector = std::make_shared<TlsCollector>(o.tls_rotation);
      s.exposer->RegisterCollectable(s.tls_collector);
    }
    s.analysis_collector = std::make_shared<AnalysisCollector>(*s.analysis);
    s.exposer->RegisterCollectable(s.analysis_collector);
    if (s.feed != nullptr) {
      s.feed_collector = std::make_shared<IngestFeedCollector>(*s.feed);
      s.exposer->RegisterCollectable(s.feed_collector);
    }
    s.access_collector = std::make_shared<AccessCollector>(*s.auth, *s.tokens, s.auth_limiter.get(),
                                                           s.denials.get());
    s.exposer->RegisterCollectable(s.access_collector);
    s.export_collector = std::make_shared<ExportCollector>(s.exports->exporter());
    s.exposer->RegisterCollectable(s.export_collector);
    s.import_collector = std::make_shared<ImportCollector>(s.identity->stats());
    s.exposer->RegisterCollectable(s.import_collector);
    std::vector<int> ports = s.exposer->GetListeningPorts();
    s.metrics_port = ports.empty() ? 0 : ports.front();
  }
  if (!o.web_address.empty()) {
    web::WebServerOptions web_options;
    web_options.address = o.web_address;
    web_options.assets_dir = o.web_assets_dir;
    web_options.events.max_streams = o.web_max_event_streams;
    web_options.connections.header_timeout = o.web_header_timeout;
    web_options.connections.max_per_peer = o.web_max_connections_per_peer;
    web_options.connections.request_workers = o.web_workers;
    web_options.connections.tls = o.web_tls;
    web_options.auth_limiter = s.auth_limiter.get();
    auto started = web::WebServer::Start(std::move(web_options), InProcessChannel());
    if (!started.ok()) {
      return absl::Status(started.status().code(),
                          absl::StrCat("web_address: ", started.status().message()));
    }
    s.web = *std::move(started);
    if (s.exposer != nullptr) {
      s.web_collector = std::make_shared<web::WebCollector>(*s.web);
      s.exposer->RegisterCollectable(s.web_collector);
    }
  }
  return StartRoles();
}

absl::Status ProvdServer::StartAlerts() {
  Impl& s = *impl_;
  const ProvdOptions& o = s.options;
  if (o.alertmanager_urls.empty()) return absl::OkStatus();
  if (o.dashboard_url.empty()) {
    PROV_LOG_WARN("alerts", "--dashboard-url is not set; alerts carry no flag link");
  }
  absl::MutexLock lock(&s.role_mu);
  AlertNotifierOptions a;
  a.alertmanager_urls = o.alertmanager_urls;
  PROV_ASSIGN_OR_RETURN(a.min_severity, ParseAlertSeverity(o.alert_min_severity));
  a.resend_interval = o.alert_resend_interval;
  a.content = {.dashboard_url = o.dashboard_url, .runbook_url = o.alert_runbook_url};
  a.clock = s.clock;
  a.registry = s.metrics->registry().get();
  auto source = NewEngineFlagSource(*s.analysis, a.min_severity);
  PROV_ASSIGN_OR_RETURN(auto deliveries, s.backend->OpenAlertDeliveries());
  PROV_ASSIGN_OR_RETURN(
      s.alerts, AlertNotifier::Create(std::move(a), std::move(source),
                                      std::make_unique<HttpAlertPoster>(), std::move(deliveries)));
  s.alerts->Start();
  return absl::OkStatus();
}

absl::Status ProvdServer::InitAccess() {
  Impl& s = *impl_;
  AuthenticatorOptions auth_options;
  if (!s.options.cert_roles_file.empty()) {
    auto text = ReadFileToString(s.options.cert_roles_file);
    if (!text.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("cert_roles_file: ", text.status().message()));
    }
    auto parsed = ParseCertRoles(*text, s.options.cert_roles_file);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("cert_roles_file: ", parsed.status().message()));
    }
    std::string people_ca;
    if (!s.options.people_ca_file.empty()) {
      auto ca = ReadFileToString(s.options.people_ca_file);
      if (!ca.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("people_ca_file: ", ca.status().message()));
      }
      people_ca = *std::move(ca);
    }
    auto people = PeopleCertMapper::Create(*std::move(parsed), people_ca);
    if (!people.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("cert_roles_file: ", people.status().message()));
    }
    auth_options.people = *std::move(people);
  } else if (!s.options.people_ca_file.empty()) {
    return absl::InvalidArgumentError("people_ca_file: needs cert_roles_file (who is who)");
  }
  PROV_ASSIGN_OR_RETURN(std::unique_ptr<ApiTokenRepository> token_repo, s.backend->OpenApiTokens());
  PROV_ASSIGN_OR_RETURN(s.tokens, TokenStore::Create(std::move(token_repo), *s.clock));
  s.auth_limiter = std::make_unique<FailedAuthLimiter>(
      FailedAuthLimits{.burst = s.options.auth_fail_burst,
                       .per_second = s.options.auth_fail_per_second},
      *s.clock);
  PROV_ASSIGN_OR_RETURN(std::unique_ptr<AuditAppender> denial_appender,
                        s.backend->OpenAuditAppender());
  s.denials = DenialAuditor::Create(std::move(denial_appender), *s.clock,
                                    {.per_minute = s.options.denied_audit_per_minute});
  auth_options.limiter = s.auth_limiter.get();
  auth_options.denials = s.denials.get();
  s.auth = std::make_unique<Authenticator>(*s.tokens, std::move(auth_options));
  PROV_ASSIGN_OR_RETURN(s.audit_log, s.backend->OpenAuditLog());
  s.access_service = std::make_unique<AccessServiceImpl>(*s.tokens, *s.auth);
  s.audit_log_service = std::make_unique<AuditLogServiceImpl>(*s.audit_log, *s.auth);
  if (s.options.write_bootstrap_token) {
    PROV_ASSIGN_OR_RETURN(bool wrote, s.tokens->EnsureBootstrapAdmin(bootstrap_token_path()));
    if (wrote) {
      PROV_LOG_INFO("provd",
                    absl::StrCat("first start: an admin token is in ", bootstrap_token_path(),
                                 " (issue others with `provctl tokens issue`)"));
    }
  }
  return absl::OkStatus();
}

std::string ProvdServer::bootstrap_token_path() const {
  return JoinPath(impl_->options.data_dir, "admin.token");
}

const std::string& ProvdServer::internal_token() const { return impl_->auth->internal_token(); }

std::shared_ptr<grpc::Channel> ProvdServer::InProcessChannel() const {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  return impl_->server->InProcessChannel(args);
}

absl::Status ProvdServer::LoadStartupPolicy(const IdentityStartup& startup) {
  Impl& s = *impl_;
  const absl::Time now = s.clock->Now();
  if (!s.options.policy_file.empty()) {
    auto text = ReadFileToString(s.options.policy_file);
    if (!text.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("policy_file: ", text.status().message()));
    }
    auto loaded = MakeLoadedPolicy(*text, s.options.policy_file, now);
    if (!loaded.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("policy: ", loaded.status().message()));
    }
    s.policy = *std::move(loaded);
    return absl::OkStatus();
  }
  if (startup.policy.has_value()) {
    s.policy = *startup.policy;
    return absl::OkStatus();
  }
  if (!startup.policy_status.ok()) {
    PROV_LOG_WARN("policy", "the stored policy no longer loads; using the built-in default",
                  {"error", startup.policy_status}, {"using", policy::kDefaultPolicySource});
  }
  auto loaded = MakeLoadedPolicy(policy::DefaultPolicyYaml(), policy::kDefaultPolicySource, now);
  if (!loaded.ok()) return absl::InternalError(loaded.status().message());
  s.policy = *std::move(loaded);
  return absl::OkStatus();
}

void ProvdServer::FlushAnalysis() {
  if (impl_->analysis != nullptr) impl_->analysis->Flush();
}

int ProvdServer::port() const { return impl_->port; }
int ProvdServer::metrics_port() const { return impl_->metrics_port; }
int ProvdServer::enroll_port() const { return impl_->enroll_port; }

// Its own gRPC server, so that no other service is reachable without a client certificate.
absl::Status ProvdServer::StartEnrollment() {
  Impl& s = *impl_;
  const ProvdOptions& o = s.options;
  if (o.enroll_listen_address.empty()) return absl::OkStatus();
  absl::StatusOr<std::string> ca_cert = ReadFileToString(o.node_ca_cert_file);
  if (!ca_cert.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--node-ca-cert: ", ca_cert.status().message()));
  }
  absl::StatusOr<std::string> ca_key = ReadFileToString(o.node_ca_key_file);
  if (!ca_key.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--node-ca-key: ", ca_key.status().message()));
  }
  absl::StatusOr<std::unique_ptr<NodeCa>> ca = NodeCa::Create(
      *ca_cert, *ca_key, {.trust_domain = o.trust_domain, .cert_ttl = o.node_cert_ttl});
  if (!ca.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--node-ca-cert/--node-ca-key: ", ca.status().message()));
  }
  s.node_ca = *std::move(ca);
  PROV_ASSIGN_OR_RETURN(s.renewal_certs, NodeCertBinder::Create({.trust_domain = o.trust_domain,
                                                                 .revoked = s.revoked_nodes.get()},
                                                                s.auth->people()));
  PROV_ASSIGN_OR_RETURN(auto enrollments, s.backend->OpenNodeEnrollment());
  PROV_ASSIGN_OR_RETURN(auto refusals, s.backend->OpenAuditAppender());
  PROV_ASSIGN_OR_RETURN(
      s.enrollment, EnrollmentServiceImpl::Create(std::move(enrollments), std::move(refusals),
                                                  *s.clock, *s.node_ca, s.renewal_certs.get(),
                                                  s.auth_limiter.get(), *s.metrics->registry()));
  if (s.location != nullptr) {
    s.enrollment->SetOnIssued(
        [hub = s.location.get()](const std::string& node, const std::string& pem) {
          hub->NodeCertificateSeen(node, pem, "node_ca");
        });
  }
  grpc::ServerBuilder builder;
  builder.AddListeningPort(
      o.enroll_listen_address,
      o.enroll_credentials ? o.enroll_credentials : grpc::InsecureServerCredentials(),
      &s.enroll_port);
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(64 << 10);  // a token and a CSR
  builder.RegisterService(s.enrollment.get());
  s.enroll_server = builder.BuildAndStart();
  if (s.enroll_server == nullptr || s.enroll_port == 0) {
    return absl::UnavailableError(
        absl::StrCat("enroll_listen_address: cannot listen on ", o.enroll_listen_address));
  }
  return absl::OkStatus();
}
int ProvdServer::web_port() const { return impl_->web != nullptr ? impl_->web->port() : 0; }

web::GateCounters ProvdServer::web_connection_counters() const {
  return impl_->web != nullptr ? impl_->web->connection_counters() : web::GateCounters{};
}

void ProvdServer::Shutdown() {
  absl::MutexLock lock(&shutdown_mu_);
  Impl& s = *impl_;
  if (s.shut_down) return;
  s.shut_down = true;
  if (s.server != nullptr) {
    if (auto* health = s.server->GetHealthCheckService()) health->Shutdown();  // NOT_SERVING
  }
  // Steps down (a standby takes over at once): the alert notifier (it reads the engine), the
  // export scheduler and, on PostgreSQL, the feed stop; then the change feed and its threads.
  StopRoles();
  if (s.web != nullptr) s.web->Stop();  // ends the dashboard's live streams, stops accepting
  if (s.analysis_service != nullptr) s.analysis_service->Stop();  // ends WatchFlags streams
  if (s.exports != nullptr) s.exports->Stop();  // a scheduled export in progress finishes
  if (s.enroll_server != nullptr) s.enroll_server->Shutdown(std::chrono::system_clock::now());
  if (s.server != nullptr) {
    // Immediate deadline: open agent streams are cancelled (they are long-lived by design).
    s.server->Shutdown(std::chrono::system_clock::now());
  }
  if (s.queue != nullptr) s.queue->Close();
  if (s.writer != nullptr) s.writer->Join();          // everything queued is committed
  if (s.location != nullptr) s.location->Shutdown();  // its tick sends events to the engine
  if (s.analysis != nullptr) s.analysis->Shutdown();  // everything committed is analysed
  if (s.exposer != nullptr && s.web_collector != nullptr) {
    s.exposer->RemoveCollectable(s.web_collector);  // it reads the web server, which goes now
  }
  s.web_collector.reset();
  s.web.reset();
  s.server.reset();
  s.enroll_server.reset();
  s.enrollment.reset();
  s.exposer.reset();
  s.store_collector.reset();
  s.analysis_collector.reset();
  s.feed_collector.reset();
  s.access_collector.reset();
  s.export_collector.reset();
  s.import_collector.reset();
  s.audit.reset();
  s.gateway.reset();
  s.writer.reset();
  s.inventory.reset();  // holds a pointer to identity's ImportStats
  s.identity.reset();
  s.exports.reset();
  s.case_service.reset();
  s.cases.reset();
  s.analysis_service.reset();
  s.analysis.reset();
  s.reader.reset();
  s.audit_log_service.reset();
  s.access_service.reset();
  s.audit_log.reset();
  s.auth.reset();
  s.tokens.reset();
  s.ingest.reset();
  s.election.reset();
  s.announcer.reset();
  s.backend.reset();
}

ProvdServer::~ProvdServer() { Shutdown(); }

}  // namespace prov::server
