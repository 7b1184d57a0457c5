// provd: the central Provenance service. Ingests prov-agent reports over gRPC into SQLite,
// keeps the compute ledger, answers AuditService queries, exports Prometheus metrics.
//
//   provd --data-dir /var/lib/provd --tls-cert server.pem --tls-key server.key
//       --tls-client-ca agents-ca.pem              # mutual TLS: agents need a client certificate
//   provd --data-dir /tmp/provd --insecure --listen 127.0.0.1:0 --port-file /tmp/provd.port
//   provd --flagfile /etc/provd/provd.flags        # one flag per line, e.g. "--max-batch=2048"
//
// Prints "provd listening on <host>:<port> (metrics on :<port>)" once serving. SIGTERM/SIGINT:
// graceful shutdown (stop accepting, drain the queue, commit, close the store), exit 0.
// Bad flags or configuration: a message naming the flag on stderr and exit code 2.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/accelerator_catalog.h"
#include "common/flag_args.h"
#include "common/fs.h"
#include "common/grpc/tls.h"
#include "common/grpc/tls_stager.h"
#include "common/host_port.h"
#include "common/log/log.h"
#include "common/log/log_flags.h"
#include "common/version.h"
#include "server/export/export_setup.h"
#include "server/provd_server.h"
#include "server/screening/name_frequencies.h"
#include "server/screening/name_normalizer.h"
#include "server/store/store_url.h"
#include "server/web/web_tls_reloader.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50051", "gRPC listen address host:port (port 0: any)");
ABSL_FLAG(std::string, metrics_listen, "127.0.0.1:9464",
          "Prometheus /metrics listen address host:port (port 0: any; empty: disabled)");
ABSL_FLAG(std::string, data_dir, "", "Directory for provd.db (required; created if missing)");
ABSL_FLAG(std::string, store, "",
          "Where provd keeps its data: sqlite:<dir> (the default, sqlite:<data-dir>; <dir> must be "
          "--data-dir; one provd) or postgresql://user@host:port[,host2:port2]/db?"
          "target_session_attrs=read-write (or a libpq conninfo): replicas sharing one PostgreSQL, "
          "one of them elected to run the analysis engine, alerts and exports "
          "(docs/design/scale-out.md). --data-dir still holds TLS copies, tokens and exports");
ABSL_FLAG(std::string, replica_name, "",
          "This replica's name in the leader row and provctl status (PostgreSQL); default: the "
          "host name");
ABSL_FLAG(absl::Duration, leader_takeover, absl::Seconds(15),
          "PostgreSQL: how long the elected leader may be gone before a standby takes over");
ABSL_FLAG(std::string, tls_cert, "", "Server certificate chain (PEM)");
ABSL_FLAG(std::string, tls_key, "", "Server private key (PEM)");
ABSL_FLAG(std::string, tls_client_ca, "",
          "CA for agent client certificates; when given, mutual TLS is required");
ABSL_FLAG(std::string, node_identity, "",
          "Which node an agent stream speaks for: cert (the node its client certificate names, "
          "spiffe://<td>/node/<id> or else CN; reports of any other node are refused; the "
          "default with --tls-client-ca) or report (the report's node.node_id is believed; only "
          "with --insecure or TLS without --tls-client-ca, the default there)");
ABSL_FLAG(std::string, location_config, "",
          "Location verification (issue 11): YAML file of the provider's landmarks (id, position, "
          "region, Ed25519 public key, UDP address) and data centres' coordinates; enables "
          "LandmarkGateway and LocationService. Empty: off");
ABSL_FLAG(std::string, trust_domain, "",
          "SPIFFE trust domain of node certificates (spiffe://<trust-domain>/node/<id>); empty: "
          "any");
ABSL_FLAG(
    std::string, enroll_listen, "",
    "Node enrolment listener host:port (NodeEnrollmentService only; TLS requesting but not "
    "requiring a client certificate); empty: no enrolment. Needs --node-ca-cert/--node-ca-key, "
    "--trust-domain, --tls-client-ca");
ABSL_FLAG(std::string, node_ca_cert, "",
          "Node CA certificate (PEM) that signs enrolled nodes' client certificates; "
          "--tls-client-ca must include it");
ABSL_FLAG(std::string, node_ca_key, "", "Node CA private key (PEM)");
ABSL_FLAG(absl::Duration, node_cert_ttl, absl::Hours(24),
          "Lifetime of the node certificates provd signs (agents renew at 2/3)");
ABSL_FLAG(bool, grpc_reflection, false,
          "Serve gRPC server reflection (lists every service and message to whoever connects; for "
          "debugging with grpcurl)");
ABSL_FLAG(bool, insecure, false, "Serve plain-text gRPC (no TLS); only with this explicit flag");
ABSL_FLAG(int64_t, queue_capacity, 65536, "Reports queued for the writer before back-pressure");
ABSL_FLAG(int64_t, queue_max_bytes, 256 << 20,
          "Serialized report bytes queued for the writer before back-pressure");
ABSL_FLAG(int64_t, max_report_bytes, 4 << 20,
          "Largest agent report frame accepted; larger frames are rejected unparsed");
ABSL_FLAG(int64_t, max_seq_jump, 1000000,
          "A report whose seq is more than this far ahead of its boot's highest stored seq is "
          "rejected (not stored, not acknowledged)");
ABSL_FLAG(int64_t, max_batch, 4096, "Most reports committed in one SQLite transaction");
ABSL_FLAG(absl::Duration, max_batch_delay, absl::Milliseconds(5),
          "Longest wait for a batch to fill before committing");
ABSL_FLAG(
    double, default_utilization, 0.30,
    "Utilisation assumed for the FLOP lower bound when the driver reports no tensor activity");
ABSL_FLAG(absl::Duration, ledger_max_report_lag, absl::Hours(1),
          "How far a report's timestamp may trail provd's clock before the ledger credits the "
          "elapsed time anyway (spool replays older than this are credited as an evidence gap)");
ABSL_FLAG(std::string, ledger_clock, "provd",
          "Clock the ledger credits elapsed time by: provd (its own, bounded; the default) or "
          "report (the reports' timestamps; only for synthetic replays at accelerated time, "
          "e.g. prov-sim --time-scale)");
ABSL_FLAG(absl::Duration, silent_after, absl::Seconds(60),
          "A node without a report for this long is listed as silent");
ABSL_FLAG(std::string, name_frequencies, "",
          "Population name-frequency CSV (name,share) for screening; empty: the built-in table");
ABSL_FLAG(
    std::string, accelerator_catalog, "",
    "Accelerator catalog TSV replacing the built-in one (format: common/data/accelerators.tsv)");
ABSL_FLAG(
    std::string, policy, "",
    "Policy YAML (format: deploy/policy/default.yaml); default: the newest policy loaded with "
    "`provctl policy load`, else the built-in default");
ABSL_FLAG(std::string, port_file, "", "Write the bound gRPC port to this file once serving");
ABSL_FLAG(std::string, web_listen, "",
          "Web dashboard listen address host:port, e.g. 127.0.0.1:8080 (port 0: any; empty: off)");
ABSL_FLAG(std::string, web_assets, "",
          "Serve the dashboard's files from this folder (development; default: built in)");
ABSL_FLAG(int64_t, web_max_streams, 16, "Most concurrent live dashboard streams");
ABSL_FLAG(std::string, web_tls_cert, "",
          "Serve the dashboard over HTTPS with this certificate chain (PEM, server certificate "
          "first); needs --web-tls-key");
ABSL_FLAG(std::string, web_tls_key, "",
          "Private key (PEM, unencrypted) of --web-tls-cert; needs --web-tls-cert");
ABSL_FLAG(absl::Duration, tls_reload_interval, absl::Seconds(60),
          "How often provd looks for rotated TLS files (--tls-cert/--tls-key/--tls-client-ca on "
          "the gRPC and enrolment listeners, --web-tls-cert/--web-tls-key on the dashboard) and "
          "serves the new ones to new connections without a restart; 0: read once at start");
ABSL_FLAG(std::string, cert_roles, "",
          "File mapping people's client certificates to roles, one '<key> <role>' per line: "
          "uri:<URI SAN>, email:<email SAN>, or cn:<common name> (cn: only with --people-ca); "
          "roles: viewer, analyst, admin. A node certificate (spiffe://<td>/node/...) is never "
          "a person. People may also use tokens (provctl tokens issue)");
ABSL_FLAG(std::string, people_ca, "",
          "CA (PEM) that issues people's client certificates; only certificates chaining to it "
          "are people. --tls-client-ca must then be a bundle holding it and the agents' CA");
ABSL_FLAG(double, auth_fail_burst, 20,
          "Failed authentications allowed at once from one address (gRPC and dashboard)");
ABSL_FLAG(double, auth_fail_per_second, 1,
          "Failed authentications per second allowed from one address after the burst; past "
          "that, RESOURCE_EXHAUSTED / HTTP 429 without checking credentials");
ABSL_FLAG(int32_t, denied_audit_per_minute, 10,
          "Most access.denied audit entries per caller per minute (the rest are counted)");
ABSL_FLAG(absl::Duration, web_header_timeout, absl::Seconds(10),
          "A dashboard request (headers and body) must arrive within this, else the connection "
          "is closed");
ABSL_FLAG(int64_t, web_max_connections_per_peer, 16,
          "Most open dashboard connections from one client address");
ABSL_FLAG(int64_t, web_workers, 8,
          "Dashboard threads for ordinary requests (live streams have their own)");
ABSL_FLAG(bool, bootstrap_token, true,
          "On first start, write an admin token to <data-dir>/admin.token (mode 0600)");
ABSL_FLAG(std::string, export_dir, "",
          "Folder for signed audit exports (default <data-dir>/exports)");
ABSL_FLAG(std::string, export_signing_key, "",
          "Ed25519 key file ('ed25519-seed <hex>') that signs export manifests (default "
          "<data-dir>/export-signing.key, generated on first use with export-signing.pub)");
ABSL_FLAG(std::string, export_interval, "24h",
          "Scheduled audit export when the last one is older than this (24h, 7d); 0 disables");
ABSL_FLAG(std::string, retention, "1826d",
          "Stored records older than this are pruned daily (EAR: five years); 0 keeps everything");
ABSL_FLAG(std::vector<std::string>, alertmanager_url, {},
          "Alertmanager base URL to post flag alerts to (API v2); repeat or comma-separate for "
          "an HA pair (each gets every alert); empty: no alerts");
ABSL_FLAG(std::string, alert_min_severity, "high",
          "Flags at or above this severity are alerts (info, low, medium, high, critical)");
ABSL_FLAG(absl::Duration, alert_resend_interval, absl::Minutes(1),
          "Re-post open flags to Alertmanager this often (endsAt is 4 intervals ahead)");
ABSL_FLAG(std::string, dashboard_url, "",
          "External URL of provd's dashboard; alerts link to <url>/#/flag/<flag_id>");
ABSL_FLAG(std::string, alert_runbook_url, "docs/runbooks/flags.md",
          "runbook_url annotation of every alert (where on-call reads what to do)");

namespace {

constexpr int kConfigError = 2;
bool g_parsing_flags = false;
int g_parse_exit_code = kConfigError;  // 0 when --help/--helpfull/--version was asked for

// absl::ParseCommandLine exits with status 1 on an unknown or malformed flag (after printing a
// message naming it), and also after printing --help; provd promises exit code 2 for bad
// configuration and 0 for help. _exit skips stdio's flush, so flush what absl printed first.
void ExitTwoOnFlagParseFailure() {
  if (!g_parsing_flags) return;
  std::fflush(nullptr);
  _exit(g_parse_exit_code);
}

// Each agent holds one connection; the default soft limit (often 1,024) would cap the fleet, and
// running out of descriptors mid-accept is the worst way to find out. Raise it to the hard limit.
void RaiseFileLimit() {
  struct rlimit lim;
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < 16384) {
    PROV_LOG_WARN("provd",
                  "open-file limit is low; each connected agent needs one descriptor (raise "
                  "LimitNOFILE / ulimit -n for large fleets)",
                  {"limit", static_cast<uint64_t>(lim.rlim_cur)});
  }
}

// absl keeps only the last occurrence of a flag; --alertmanager-url may be repeated (HA pairs),
// so its occurrences are joined into one comma-separated value before parsing.
void JoinRepeatedFlag(std::vector<std::string>& args, const std::string& name) {
  const std::string flag = absl::StrCat("--", name), eq = flag + "=";
  std::vector<std::string> values, rest;
  size_t at = std::string::npos;  // where the first occurrence was
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--") {
      rest.insert(rest.end(), args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
      break;
    }
    if (absl::StartsWith(args[i], eq)) {
      values.push_back(args[i].substr(eq.size()));
    } else if (args[i] == flag && i + 1 < args.size()) {
      values.push_back(args[++i]);
    } else {
      rest.push_back(args[i]);
      continue;
    }
    if (at == std::string::npos) at = rest.size();
  }
  if (at == std::string::npos) return;
  rest.insert(rest.begin() + static_cast<std::ptrdiff_t>(at), eq + absl::StrJoin(values, ","));
  args = std::move(rest);
}

[[noreturn]] void ConfigError(const std::string& message) {
  std::fprintf(stderr, "provd: %s\n", message.c_str());
  std::exit(kConfigError);
}

// Whether two spellings name one directory ("d", "./d/", a symlink to it), existing or not.
bool SameDirectory(const std::string& a, const std::string& b) {
  auto normal = [](const std::string& p) {
    std::error_code ec;
    std::filesystem::path c = std::filesystem::weakly_canonical(p, ec);
    if (ec) c = std::filesystem::absolute(p, ec).lexically_normal();
    std::string s = c.string();
    while (s.size() > 1 && s.back() == '/') s.pop_back();
    return s;
  };
  return normal(a) == normal(b);
}

}  // namespace

int main(int argc, char** argv) {
  // Debian's abseil is built with mutex deadlock detection on (a lock-order graph updated on
  // every Lock: ~1.5 % of provd's CPU at saturation). It is a debugging aid that abseil's own
  // release builds leave off; provd's lock order is documented where the locks are
  // (ingest/report_stream.h).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  absl::SetFlagsUsageConfig({.version_string = [] { return prov::VersionLine("provd") + "\n"; }});
  absl::SetProgramUsageMessage(
      "provd --data-dir DIR (--tls-cert F --tls-key F [--tls-client-ca F] | --insecure) "
      "[--flagfile FILE]");
  auto normalized = prov::NormalizeArgs(std::vector<std::string>(argv, argv + argc));
  if (!normalized.ok()) ConfigError(std::string(normalized.status().message()));
  JoinRepeatedFlag(*normalized, "alertmanager_url");
  std::vector<char*> args;
  for (std::string& arg : *normalized) args.push_back(arg.data());
  for (const char* arg : args) {
    absl::string_view a(arg);
    if (a == "--help" || a == "--helpfull" || a == "--helpshort" || a == "--version" ||
        absl::StartsWith(a, "--helpon") || absl::StartsWith(a, "--helpmatch")) {
      g_parse_exit_code = 0;
    }
  }
  std::atexit(ExitTwoOnFlagParseFailure);
  g_parsing_flags = true;
  std::vector<char*> positional =
      absl::ParseCommandLine(static_cast<int>(args.size()), args.data());
  g_parsing_flags = false;
  if (positional.size() > 1) {
    ConfigError(absl::StrCat("unexpected argument \"", positional[1], "\" (flags start with --)"));
  }

  if (absl::Status s = prov::log::InitLogFromFlags(); !s.ok()) {
    ConfigError(std::string(s.message()));
  }
  RaiseFileLimit();
  prov::server::ProvdOptions options;
  options.listen_address = absl::GetFlag(FLAGS_listen);
  options.grpc_reflection = absl::GetFlag(FLAGS_grpc_reflection);
  options.metrics_address = absl::GetFlag(FLAGS_metrics_listen);
  options.data_dir = absl::GetFlag(FLAGS_data_dir);
  if (options.data_dir.empty()) ConfigError("--data-dir: is required");
  if (const std::string store = absl::GetFlag(FLAGS_store); !store.empty()) {
    absl::StatusOr<prov::server::StoreUrl> url = prov::server::ParseStoreUrl(store);
    if (!url.ok()) ConfigError(absl::StrCat("--store: ", url.status().message()));
    if (url->engine == prov::server::StoreUrl::Engine::kPostgres) {
      // Exports made by whichever replica leads must verify with one key.
      if (absl::GetFlag(FLAGS_export_signing_key).empty()) {
        ConfigError(
            "--export-signing-key: is required with a PostgreSQL --store (every replica must "
            "sign exports with the same key: copy one provd's <data-dir>/export-signing.key to "
            "each, or make one: printf 'ed25519-seed %s\\n' \"$(openssl rand -hex 32)\")");
      }
      options.store = store;
    } else if (!SameDirectory(url->sqlite_dir, options.data_dir)) {
      ConfigError(absl::StrCat("--store: sqlite:", url->sqlite_dir, " is not --data-dir ",
                               options.data_dir,
                               " (the SQLite store lives in the data directory; omit --store)"));
    }
  }
  options.replica_name = absl::GetFlag(FLAGS_replica_name);
  options.leader_takeover = absl::GetFlag(FLAGS_leader_takeover);
  if (options.leader_takeover < absl::Seconds(1)) {
    ConfigError("--leader-takeover: must be at least 1s");
  }
  if (absl::GetFlag(FLAGS_queue_capacity) < 1) ConfigError("--queue-capacity: must be >= 1");
  if (absl::GetFlag(FLAGS_max_batch) < 1) ConfigError("--max-batch: must be >= 1");
  options.queue_capacity = static_cast<size_t>(absl::GetFlag(FLAGS_queue_capacity));
  if (absl::GetFlag(FLAGS_queue_max_bytes) < 1) ConfigError("--queue-max-bytes: must be >= 1");
  options.queue_max_bytes = static_cast<size_t>(absl::GetFlag(FLAGS_queue_max_bytes));
  if (absl::GetFlag(FLAGS_max_report_bytes) < 1024) {
    ConfigError("--max-report-bytes: must be >= 1024");
  }
  options.max_report_bytes = static_cast<size_t>(absl::GetFlag(FLAGS_max_report_bytes));
  if (absl::GetFlag(FLAGS_max_seq_jump) < 1) ConfigError("--max-seq-jump: must be >= 1");
  options.max_seq_jump = static_cast<uint64_t>(absl::GetFlag(FLAGS_max_seq_jump));
  options.max_batch = static_cast<size_t>(absl::GetFlag(FLAGS_max_batch));
  options.max_batch_delay = absl::GetFlag(FLAGS_max_batch_delay);
  options.default_utilization = absl::GetFlag(FLAGS_default_utilization);
  options.silent_after = absl::GetFlag(FLAGS_silent_after);
  options.ledger_max_report_lag = absl::GetFlag(FLAGS_ledger_max_report_lag);
  const std::string ledger_clock = absl::GetFlag(FLAGS_ledger_clock);
  if (ledger_clock != "provd" && ledger_clock != "report") {
    ConfigError(absl::StrCat("--ledger-clock: \"", ledger_clock, "\" is not provd or report"));
  }
  options.ledger_report_clock = ledger_clock == "report";
  options.policy_file = absl::GetFlag(FLAGS_policy);
  options.web_address = absl::GetFlag(FLAGS_web_listen);
  options.web_assets_dir = absl::GetFlag(FLAGS_web_assets);
  if (absl::GetFlag(FLAGS_web_max_streams) < 1) ConfigError("--web-max-streams: must be >= 1");
  options.web_max_event_streams = static_cast<size_t>(absl::GetFlag(FLAGS_web_max_streams));
  const absl::Duration tls_reload_interval = absl::GetFlag(FLAGS_tls_reload_interval);
  if (tls_reload_interval < absl::ZeroDuration()) {
    ConfigError("--tls-reload-interval: must be >= 0 (0: read the TLS files once)");
  }
  if (tls_reload_interval > absl::ZeroDuration() && tls_reload_interval < absl::Seconds(1)) {
    ConfigError("--tls-reload-interval: must be 0 or at least 1s");
  }
  const std::string web_tls_cert = absl::GetFlag(FLAGS_web_tls_cert);
  const std::string web_tls_key = absl::GetFlag(FLAGS_web_tls_key);
  if (web_tls_cert.empty() != web_tls_key.empty()) {
    ConfigError(web_tls_cert.empty() ? "--web-tls-key: needs --web-tls-cert too"
                                     : "--web-tls-cert: needs --web-tls-key too");
  }
  if (!web_tls_cert.empty()) {
    if (options.web_address.empty()) {
      ConfigError("--web-tls-cert: needs the dashboard on (--web-listen)");
    }
    auto tls = prov::server::web::WebTlsReloader::Create(
        {.cert_file = web_tls_cert,
         .key_file = web_tls_key,
         .cert_name = "--web-tls-cert",
         .key_name = "--web-tls-key",
         .check_every = tls_reload_interval > absl::ZeroDuration() ? tls_reload_interval
                                                                   : absl::InfiniteDuration()},
        prov::RealClock::Get());
    if (!tls.ok()) ConfigError(std::string(tls.status().message()));
    options.web_tls = *std::move(tls);
  }
  options.cert_roles_file = absl::GetFlag(FLAGS_cert_roles);
  options.people_ca_file = absl::GetFlag(FLAGS_people_ca);
  options.auth_fail_burst = absl::GetFlag(FLAGS_auth_fail_burst);
  options.auth_fail_per_second = absl::GetFlag(FLAGS_auth_fail_per_second);
  options.denied_audit_per_minute = absl::GetFlag(FLAGS_denied_audit_per_minute);
  options.web_header_timeout = absl::GetFlag(FLAGS_web_header_timeout);
  if (absl::GetFlag(FLAGS_web_max_connections_per_peer) < 1) {
    ConfigError("--web-max-connections-per-peer: must be >= 1");
  }
  options.web_max_connections_per_peer =
      static_cast<size_t>(absl::GetFlag(FLAGS_web_max_connections_per_peer));
  if (absl::GetFlag(FLAGS_web_workers) < 1) ConfigError("--web-workers: must be >= 1");
  options.web_workers = static_cast<size_t>(absl::GetFlag(FLAGS_web_workers));
  options.write_bootstrap_token = absl::GetFlag(FLAGS_bootstrap_token);
  options.export_dir = absl::GetFlag(FLAGS_export_dir);
  options.export_signing_key_file = absl::GetFlag(FLAGS_export_signing_key);
  for (auto [flag, value, out] :
       {std::tuple("--export-interval", absl::GetFlag(FLAGS_export_interval),
                   &options.export_interval),
        std::tuple("--retention", absl::GetFlag(FLAGS_retention), &options.retention)}) {
    auto parsed = prov::server::ParseDurationWithDays(value);
    if (!parsed.ok()) ConfigError(absl::StrCat(flag, ": ", parsed.status().message()));
    *out = *parsed;
  }
  for (const std::string& url : absl::GetFlag(FLAGS_alertmanager_url)) {
    if (!url.empty()) options.alertmanager_urls.push_back(url);
  }
  options.alert_min_severity = absl::GetFlag(FLAGS_alert_min_severity);
  options.alert_resend_interval = absl::GetFlag(FLAGS_alert_resend_interval);
  options.dashboard_url = absl::GetFlag(FLAGS_dashboard_url);
  options.alert_runbook_url = absl::GetFlag(FLAGS_alert_runbook_url);
  options.client_certificates = !absl::GetFlag(FLAGS_tls_client_ca).empty();
  options.node_identity = absl::GetFlag(FLAGS_node_identity);
  options.trust_domain = absl::GetFlag(FLAGS_trust_domain);
  options.location_config_file = absl::GetFlag(FLAGS_location_config);
  options.enroll_listen_address = absl::GetFlag(FLAGS_enroll_listen);
  options.node_ca_cert_file = absl::GetFlag(FLAGS_node_ca_cert);
  options.node_ca_key_file = absl::GetFlag(FLAGS_node_ca_key);
  options.node_cert_ttl = absl::GetFlag(FLAGS_node_cert_ttl);
  if (absl::Status s = prov::server::ValidateOptions(options); !s.ok()) {
    // Option names map to flags: data_dir -> --data-dir.
    std::string message(s.message());
    for (char& c : message) {
      if (c == ':') break;
      if (c == '_') c = '-';
    }
    ConfigError(absl::StrCat("--", message));
  }

  const bool insecure = absl::GetFlag(FLAGS_insecure);
  prov::TlsFiles tls{.ca_file = absl::GetFlag(FLAGS_tls_client_ca),
                     .cert_file = absl::GetFlag(FLAGS_tls_cert),
                     .key_file = absl::GetFlag(FLAGS_tls_key)};
  if (insecure && (!tls.cert_file.empty() || !tls.key_file.empty() || !tls.ca_file.empty())) {
    ConfigError("--insecure: cannot be combined with --tls-cert/--tls-key/--tls-client-ca");
  }
  if (!insecure && (tls.cert_file.empty() || tls.key_file.empty())) {
    ConfigError("--tls-cert and --tls-key: are required (or pass --insecure for plain text)");
  }
  // --tls-reload-interval: the gRPC listeners serve checked copies of the TLS files, refreshed
  // when the files change (common/grpc/tls_stager.h). Lives until provd exits.
  std::shared_ptr<prov::TlsFileStager> tls_rotation;
  if (!insecure && tls_reload_interval > absl::ZeroDuration()) {
    auto stager = prov::TlsFileStager::Start({.source = tls,
                                              .stage_dir = prov::JoinPath(options.data_dir, "tls"),
                                              .name = "grpc",
                                              .check_every = tls_reload_interval});
    if (!stager.ok()) ConfigError(std::string(stager.status().message()));
    tls_rotation = *std::move(stager);
    options.tls_rotation = tls_rotation;
  }
  auto credentials = prov::MakeServerCredentials(
      tls, insecure, /*require_client_cert=*/!tls.ca_file.empty(), tls_rotation.get());
  if (!credentials.ok()) ConfigError(std::string(credentials.status().message()));
  options.credentials = *credentials;
  if (!options.enroll_listen_address.empty()) {
    if (insecure) {
      ConfigError(
          "--enroll-listen: needs TLS (tokens and certificates must not travel in plain "
          "text); drop --insecure");
    }
    auto enroll_credentials = prov::MakeEnrollServerCredentials(tls, tls_rotation.get());
    if (!enroll_credentials.ok()) ConfigError(std::string(enroll_credentials.status().message()));
    options.enroll_credentials = *enroll_credentials;
  }

  std::optional<prov::AcceleratorCatalog> catalog;
  if (const std::string path = absl::GetFlag(FLAGS_accelerator_catalog); !path.empty()) {
    auto loaded = prov::AcceleratorCatalog::LoadFile(path);
    if (!loaded.ok()) {
      ConfigError(absl::StrCat("--accelerator-catalog: ", loaded.status().message()));
    }
    catalog.emplace(*std::move(loaded));
    options.catalog = &*catalog;
  }

  std::optional<prov::screening::NameFrequencies> name_frequencies;
  if (const std::string path = absl::GetFlag(FLAGS_name_frequencies); !path.empty()) {
    auto text = prov::ReadFileToString(path);
    if (!text.ok()) ConfigError(absl::StrCat("--name-frequencies: ", text.status().message()));
    prov::screening::NameNormalizer normalizer;
    auto parsed = prov::screening::ParseNameFrequencies(*text, path, normalizer);
    if (!parsed.ok()) ConfigError(absl::StrCat("--name-frequencies: ", parsed.status().message()));
    name_frequencies.emplace(*std::move(parsed));
    options.name_frequencies = &*name_frequencies;
  }

  // Block the shutdown signals before any thread starts, so only sigwait() below receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const std::string listen = options.listen_address;
  const std::string web_listen = options.web_address;
  const char* web_scheme = options.web_tls != nullptr ? "https" : "http";
  auto server = prov::server::ProvdServer::Start(std::move(options));
  if (!server.ok()) {
    PROV_LOG_ERROR("provd", "cannot start", {"error", server.status()});
    return absl::IsInvalidArgument(server.status()) ? kConfigError : 1;
  }
  if (const std::string port_file = absl::GetFlag(FLAGS_port_file); !port_file.empty()) {
    if (auto s = prov::WriteFileAtomically(port_file, absl::StrCat((*server)->port(), "\n"));
        !s.ok()) {
      PROV_LOG_ERROR("provd", "--port-file: cannot write it", {"error", s});
      return kConfigError;
    }
  }
  const std::string metrics = (*server)->metrics_port() != 0
                                  ? absl::StrCat("metrics on :", (*server)->metrics_port())
                                  : std::string("metrics off");
  const std::string web =
      (*server)->web_port() != 0
          ? absl::StrCat(", dashboard on ", web_scheme, "://", prov::HostOfAddress(web_listen), ":",
                         (*server)->web_port(), "/")
          : std::string();
  std::printf("provd listening on %s:%d (%s%s)\n", prov::HostOfAddress(listen).c_str(),
              (*server)->port(), metrics.c_str(), web.c_str());
  std::fflush(stdout);

  int received = 0;
  sigwait(&signals, &received);
  PROV_LOG_INFO("provd", absl::StrCat(received == SIGTERM ? "SIGTERM" : "SIGINT",
                                      " received, shutting down (draining the ingest queue)"));
  (*server)->Shutdown();
  prov::log::Default().FlushSuppressed();
  PROV_LOG_INFO("provd", "stopped");
  return 0;
}
