// ProvdServer: provd, wired and startable in-process (main.cc, integration tests, tools/bench).
//
//   ProvdOptions options;
//   options.data_dir = tmp_dir;                 // SQLite file: <data_dir>/provd.db
//   options.metrics_address = "127.0.0.1:0";    // optional Prometheus /metrics
//   PROV_ASSIGN_OR_RETURN(auto server, ProvdServer::Start(std::move(options)));
//   grpc::CreateChannel(absl::StrCat("127.0.0.1:", server->port()), ...);
//   server->Shutdown();                          // or let the destructor do it
//
// Threads: gRPC's callback threads run the AgentGateway reactors (never blocking); gRPC's sync
// threads run AuditService queries on read-only SQLite connections; ONE ingest writer thread
// commits batches, hands observations of the committed reports to the analysis engine and posts
// acks; ONE analysis thread correlates, evaluates the policy and saves links, bundles and flags;
// ONE alert thread (when alertmanager_urls is set) posts flags to Alertmanager;
// prometheus-cpp's civetweb threads serve /metrics.
// Shutdown(): stop accepting and cancel open streams, drain the queue into the store (everything
// accepted is committed; acks for the last batches may not reach agents, which resend and get
// deduplicated), close the store. Idempotent; thread-safe.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/accelerator_catalog.h"
#include "common/clock.h"
#include "grpcpp/security/server_credentials.h"
#include "provenance/v1/audit.pb.h"
#include "server/access/node_cert.h"
#include "server/screening/name_frequencies.h"

namespace grpc {
class Channel;
class Server;
}  // namespace grpc
namespace prometheus {
class Exposer;
}

namespace prov {
class TlsFileStager;
}  // namespace prov

namespace prov::server {

namespace web {
struct GateCounters;
class WebTlsReloader;
}  // namespace web
struct IdentityStartup;  // server/identity/identity_service.h
struct ChangeEvent;      // server/store/repo/change_feed.h

struct ProvdOptions {
  std::string listen_address = "127.0.0.1:0";
  // gRPC server reflection (grpc.reflection.v1alpha): off by default, it lists every service and
  // message to anyone who can connect (issue 13, security defaults).
  bool grpc_reflection = false;
  std::string metrics_address;  // empty: no metrics HTTP endpoint
  // The web dashboard (server/web/web_server.h) on its own HTTP port; empty: off. Its assets are
  // built in; web_assets_dir serves them from a folder instead (development).
  std::string web_address;
  std::string web_assets_dir;
  size_t web_max_event_streams = 16;  // concurrent live (SSE) streams
  // Set: the dashboard serves HTTPS only (provd --web-tls-cert/--web-tls-key, reloaded when the
  // files change: web::WebTlsReloader, server/web/web_tls_reloader.h). Needs web_address.
  std::shared_ptr<web::WebTlsReloader> web_tls;
  std::string data_dir;  // required; SQLite file is <data_dir>/provd.db
  // Where the data lives (server/store/store_url.h): empty or "sqlite:<data_dir>" (one provd), or
  // a PostgreSQL URL or conninfo shared by provd replicas (docs/design/scale-out.md): every
  // replica ingests and serves; the one elected (replica_name, leader_takeover) runs the
  // analysis engine, the alert notifier, the export scheduler and retention.
  std::string store;
  std::string replica_name;  // PostgreSQL: this replica's name in the leader row; empty: hostname
  absl::Duration leader_takeover = absl::Seconds(15);
  std::shared_ptr<grpc::ServerCredentials> credentials;  // null: insecure
  // Set: `credentials` (and `enroll_credentials`) rotate with these checked copies of the TLS
  // files (common/grpc/tls_stager.h, --tls-reload-interval); kept alive by the server and
  // counted in prov_grpc_tls_reloads_total.
  std::shared_ptr<const TlsFileStager> tls_rotation;
  size_t queue_capacity = 65536;
  // The ingest queue's byte bound (serialized reports); streams park beyond it (--queue-max-bytes).
  size_t queue_max_bytes = 256u << 20;
  // A report frame larger than this is rejected unparsed (--max-report-bytes). The largest
  // legitimate report (256 accelerators, 1,024 workloads with their peers) is well under 1 MiB.
  size_t max_report_bytes = 4u << 20;
  // A seq more than this far ahead of its boot's highest stored seq is refused (--max-seq-jump;
  // StoreOptions::max_seq_jump explains the default).
  uint64_t max_seq_jump = 1'000'000;
  size_t max_batch = 4096;
  absl::Duration max_batch_delay = absl::Milliseconds(5);
  double default_utilization = 0.30;
  // The elapsed-time ledger (server/ledger/credit.h): how far a report's timestamp may trail
  // provd's clock before provd credits the time anyway.
  absl::Duration ledger_max_report_lag = absl::Hours(1);
  // Credit by report timestamps instead of provd's clock: synthetic replays at accelerated time
  // only (CreditOptions::report_clock). provd logs a warning at start.
  bool ledger_report_clock = false;
  absl::Duration silent_after = absl::Seconds(60);
  // Policy (YAML, deploy/policy/default.yaml documents it): this file when set; else the newest
  // policy loaded through `provctl policy load`; else the built-in default.
  std::string policy_file;
  // Population name frequencies for screening (`--name-frequencies`, CSV name,share; see
  // server/screening/name_frequencies.h); null: the built-in table. Given: every account is
  // re-screened at start-up, since stored hits may have been scored with another table.
  const screening::NameFrequencies* name_frequencies = nullptr;
  // People (compliance.proto): bearer tokens issued through AccessService, or client
  // certificates this file maps to a role (server/access/cert_identity.h: "uri:<SAN> <role>",
  // "email:<SAN> <role>", or "cn:<CN> <role>" only with people_ca_file). A certificate naming a
  // node (spiffe://<td>/node/...) is never a person.
  std::string cert_roles_file;
  // PEM CA (bundle) that issues people's certificates; when set, only certificates chaining to
  // it are people. The gRPC listener verifies clients against --tls-client-ca, so that must hold
  // this CA too (a bundle of the agents' CA and the people CA).
  std::string people_ca_file;
  // Which node an agent stream speaks for (issue 10 §1, server/access/node_cert.h).
  // client_certificates: the listener requires verified client certificates (--tls-client-ca).
  // node_identity: "cert" binds each AgentGateway stream to the node its client certificate
  // names and refuses reports of any other node; "report" believes each report's node.node_id
  // (only without client certificates: --insecure or server-only TLS; provd says so at start);
  // empty: "cert" with client certificates, else "report".
  bool client_certificates = false;
  std::string node_identity;
  // SPIFFE trust domain of node certificates (spiffe://<trust_domain>/node/<id>); empty: any.
  std::string trust_domain;
  // Enrolment (issue 10 §1, server/access/enrollment_service.h): with enroll_listen_address set,
  // provd serves NodeEnrollmentService (and nothing else) there, and signs node certificates
  // with this CA (PEM files; trust_domain is then required) valid for node_cert_ttl.
  // enroll_credentials: TLS that requests but does not require a client certificate
  // (MakeServerCredentials' kRequest); null: plain text (tests only). For the issued
  // certificates to open agent streams, the main listener's client CA must include this CA.
  std::string enroll_listen_address;
  std::shared_ptr<grpc::ServerCredentials> enroll_credentials;
  std::string node_ca_cert_file;
  std::string node_ca_key_file;
  absl::Duration node_cert_ttl = absl::Hours(24);
  // Failed authentications per client address (gRPC and dashboard together): `burst` at once,
  // then `per_second`; past that, RESOURCE_EXHAUSTED / HTTP 429 without checking credentials.
  double auth_fail_burst = 20;
  double auth_fail_per_second = 1;
  // PERMISSION_DENIED audit entries ("access.denied") per actor per minute; the rest counted.
  int denied_audit_per_minute = 10;
  // Dashboard connections (server/web/connection_gate.h): the whole request must arrive within
  // web_header_timeout; at most web_max_connections_per_peer open per client address; ordinary
  // requests run on web_workers threads, live streams on their own web_max_event_streams.
  absl::Duration web_header_timeout = absl::Seconds(10);
  size_t web_max_connections_per_peer = 16;
  size_t web_workers = 8;
  // On first start (no live admin token yet), write one admin token to <data_dir>/admin.token
  // (mode 0600) so the operator can issue the others.
  bool write_bootstrap_token = true;
  // Signed audit exports (server/export/, docs/export-format.md).
  std::string export_dir;               // empty: <data_dir>/exports
  std::string export_signing_key_file;  // empty: <data_dir>/export-signing.key, made on first use
  absl::Duration export_interval = absl::Hours(24);   // scheduled exports; zero: none
  absl::Duration retention = absl::Hours(24 * 1826);  // records kept five years; zero: forever
  // Alerts to on-call (server/alerting/alert_notifier.h): flags at or above alert_min_severity
  // ("info".."critical") posted to each Alertmanager (API v2) every alert_resend_interval while
  // open, resolved when the case is closed. Empty: no alerts.
  std::vector<std::string> alertmanager_urls;
  std::string alert_min_severity = "high";
  absl::Duration alert_resend_interval = absl::Minutes(1);
  std::string dashboard_url;  // flag links in alerts: <dashboard_url>/#/flag/<flag_id>
  std::string alert_runbook_url = "docs/runbooks/flags.md";
  const AcceleratorCatalog* catalog = nullptr;  // null: AcceleratorCatalog::Builtin()
  Clock* clock = nullptr;                       // null: RealClock
  // Location verification (issue 11, server/location/): the landmarks and data centres (YAML,
  // server/README.md "Location verification"); empty: off (no LandmarkGateway, no
  // LocationService). The verdict tick re-judges every node this often (freshness expiry).
  std::string location_config_file;
  absl::Duration location_tick = absl::Seconds(30);
};

class ProvdServer {
 public:
  // INVALID_ARGUMENT naming the option for bad options; UNAVAILABLE when a port cannot be bound
  // or the database cannot be opened.
  static absl::StatusOr<std::unique_ptr<ProvdServer>> Start(ProvdOptions options);

  int port() const;          // bound gRPC port (useful with :0)
  int metrics_port() const;  // 0 when disabled
  int enroll_port() const;   // the enrolment listener's port; 0 when disabled
  int web_port() const;      // the dashboard's HTTP port; 0 when disabled
  // The dashboard's connection gate (refusals, timeouts); zeros when disabled.
  web::GateCounters web_connection_counters() const;
  // <data_dir>/admin.token: where the bootstrap admin token is written on first start.
  std::string bootstrap_token_path() const;
  // provd's own admin credential (actor "provd"), for in-process clients; never persisted.
  const std::string& internal_token() const;
  // A channel to this server's gRPC services that bypasses the network (dashboard back end).
  std::shared_ptr<grpc::Channel> InProcessChannel() const;
  // Waits until every report committed so far has been analysed and saved (tests, tools).
  void FlushAnalysis();
  // Whether this replica runs the singletons now (always, on SQLite, once started).
  bool leading() const;
  void Shutdown();  // stop accepting, drain queue, commit, close store; idempotent
  ~ProvdServer();   // calls Shutdown()

  ProvdServer(const ProvdServer&) = delete;
  ProvdServer& operator=(const ProvdServer&) = delete;

  struct Impl;  // provd_server_impl.h (internal to provd)

 private:
  explicit ProvdServer(std::unique_ptr<Impl> impl);
  absl::Status Init();
  absl::Status InitAccess();
  absl::Status LoadStartupPolicy(const IdentityStartup& startup);
  absl::Status StartAlerts();
  absl::Status StartEnrollment();
  // provd_roles.cc: the leader's singletons and the replicas' change feed.
  absl::Status StartRoles();
  void OnElected(int64_t term);
  void OnDeposed();
  void OnChange(const ChangeEvent& event);
  absl::StatusOr<provenance::v1::GetServerStatusResponse> ServerStatus();
  void StopRoles();

  absl::Mutex shutdown_mu_;
  std::unique_ptr<Impl> impl_;
};

// Validates options without starting anything (used by Start and by provd's flag handling).
absl::Status ValidateOptions(const ProvdOptions& options);
// The node identity mode in force (node_identity, client_certificates); INVALID_ARGUMENT naming
// node_identity when the two disagree.
absl::StatusOr<NodeIdentityMode> ResolveNodeIdentity(const ProvdOptions& options);

}  // namespace prov::server
