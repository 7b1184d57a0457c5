// prov-agent: sees what runs on a GPU node's accelerators and reports it to provd.
//
//   prov-agent --once                                  # one report as proto3 JSON on stdout
//   prov-agent --once --sysfs-root F/sys --procfs-root F/proc   # on a fixture tree
//   prov-agent --server provd:7443 --tls-ca ca.pem --tls-cert agent.pem --tls-key agent.key
//              --datacenter fra1 --region eu-central --spool-dir /var/lib/prov-agent/spool
//   prov-agent --server provd:7443 --tls-ca ca.pem --enroll-server provd:7444
//              --enroll-token-file /etc/prov-agent/enroll.token --cert-dir /var/lib/prov-agent/tls
//   prov-agent --flagfile /etc/prov-agent.flags        # config file: one --flag=value per line
//   prov-agent ... --cert-dir DIR --location-listen 10.0.0.7:7701 --landmark-keys landmarks.txt
//
// Flags are spelled with dashes (--sysfs-root); underscores (--sysfs_root) work too. A flagfile
// holds one flag per line, '#' starts a comment line; flagfiles are expanded here (before Abseil
// parses the command line) so that dashed names work in them as well.
//
// Continuous mode: every --interval, collect a NodeReport and hand it to the uplink (spooled on
// disk, sent with acks, resent after reconnects); the uplink is polled every 100 ms. SIGTERM and
// SIGINT stop the loop, shut the uplink down and exit 0. Threads: the main thread collects and
// polls; gRPC's callback threads run the uplink's stream. With --cert-dir (enrolment, issue 10
// §1; agent/uplink/node_enroller.h) the agent enrols before it starts, and the loop renews the
// certificate at 2/3 of its lifetime; the uplink uses the new one from its next reconnect.
// With --location-listen (issue 11; agent/location/README.md) a UDP responder thread answers
// signed probes from the landmarks in --landmark-keys, signing with the node key, and every report
// carries its address (node.location_responder) and counters (health.location_responder).
#include <unistd.h>

#include <csignal>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "agent/collect/account_map.h"
#include "agent/collect/attribution.h"
#include "agent/collect/node_collector.h"
#include "agent/collect/self_usage.h"
#include "agent/location/answer_signer.h"
#include "agent/location/responder.h"
#include "agent/nvml/nvml_dl.h"
#include "agent/uplink/node_enroller.h"
#include "agent/uplink/uplink.h"
#include "agent/watchdog/watchdog.h"
#include "common/accelerator_catalog.h"
#include "common/clock.h"
#include "common/flag_args.h"
#include "common/fs.h"
#include "common/grpc/tls.h"
#include "common/log/log.h"
#include "common/log/log_flags.h"
#include "common/proto_json.h"
#include "common/version.h"

ABSL_FLAG(std::string, sysfs_root, "/sys", "root of sysfs (a fixture tree in tests)");
ABSL_FLAG(std::string, procfs_root, "/proc", "root of procfs (a fixture tree in tests)");
ABSL_FLAG(bool, once, false, "print one report as proto3 JSON on stdout and exit");
ABSL_FLAG(std::string, server, "",
          "provd address host:port (continuous mode); several replicas: host:port,host:port "
          "(used in order, failing over to the next)");
ABSL_FLAG(absl::Duration, interval, absl::Seconds(10), "collection interval (1s..3600s)");
ABSL_FLAG(double, watchdog_cpu_percent, 10,
          "Watchdog: when the agent's own CPU exceeds this (% of one core) for 3 collections in a "
          "row, it backs off (interval x2, then x4, at most 45 s; expensive collectors skipped) "
          "until it is under half of it again; 0: off");
ABSL_FLAG(int64_t, watchdog_memory_mb, 200,
          "Watchdog: when the agent's resident memory exceeds this (MiB), it exits with status 3 "
          "so systemd / Kubernetes restarts it (unacked reports stay in the spool); 0: off");
ABSL_FLAG(std::string, spool_dir, "/var/lib/prov-agent/spool", "unacknowledged reports on disk");
ABSL_FLAG(std::string, tls_ca, "", "CA certificate (PEM) that signed provd's certificate");
ABSL_FLAG(std::string, tls_cert, "", "agent certificate (PEM) for mutual TLS");
ABSL_FLAG(std::string, tls_key, "", "agent private key (PEM) for mutual TLS");
ABSL_FLAG(std::string, cert_dir, "",
          "enrolment: directory for this node's own key (0600) and the certificate provd signs; "
          "replaces --tls-cert/--tls-key");
ABSL_FLAG(
    std::string, enroll_token_file, "",
    "enrolment: file with the one-time token from `provctl nodes enroll-token` (first start)");
ABSL_FLAG(std::string, enroll_server, "", "enrolment: provd's --enroll-listen address host:port");
ABSL_FLAG(bool, insecure, false, "plain-text gRPC to provd (explicit opt-in; never by default)");
ABSL_FLAG(std::string, datacenter, "", "data centre this node is in");
ABSL_FLAG(std::string, region, "", "region this node is in");
ABSL_FLAG(std::string, node_id, "", "node id (default: --machine-id-file, else hostname)");
ABSL_FLAG(std::string, machine_id_file, "/etc/machine-id", "source of the default node id");
ABSL_FLAG(std::string, attribution_chain, prov::agent::kDefaultAttributionChain,
          "account sources, in order: slurm,k8s-label,k8s-annotation,static,unix-user");
ABSL_FLAG(std::string, k8s_account_label, prov::agent::kDefaultAccountKey,
          "pod label holding the account");
ABSL_FLAG(std::string, k8s_account_annotation, prov::agent::kDefaultAccountKey,
          "pod annotation holding the account");
ABSL_FLAG(std::string, kubelet_pods_file, "",
          "kubelet /pods PodList JSON file (re-read each time)");
ABSL_FLAG(std::string, kubelet_pod_resources_socket, "",
          "the kubelet's PodResources API socket (which pod holds which accelerator), e.g. "
          "/var/lib/kubelet/pod-resources/kubelet.sock; asked once per collection");
ABSL_FLAG(std::string, account_map, "",
          "static account map file (uid:/user:/namespace:/slurm-account:)");
ABSL_FLAG(std::string, passwd_file, "/etc/passwd", "passwd(5) file for uid -> user name");
ABSL_FLAG(std::string, nvml_library, prov::agent::kDefaultNvmlLibrary, "NVML shared library");
ABSL_FLAG(std::string, accelerator_catalog, "",
          "replacement PCI ID catalog (TSV); default built in");
ABSL_FLAG(std::string, location_listen, "",
          "location responder: UDP ip:port answering landmark probes (issue 11; numeric IPv4 "
          "or [IPv6], no host names); empty: off");
ABSL_FLAG(std::string, location_advertise, "",
          "location responder: ip:port landmarks probe (numeric IPv4 or [IPv6]; default: "
          "--location-listen unless it is a wildcard address)");
ABSL_FLAG(std::string, landmark_keys, "",
          "location responder: file of '<landmark_id> ed25519-public <64 hex>' lines");
ABSL_FLAG(std::string, node_key, "",
          "location responder: the node's EC P-256 key (PEM); default: --cert-dir's node.key, "
          "else --tls-key");

namespace {

volatile std::sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

int Fail(absl::string_view what) {
  std::cerr << "prov-agent: " << what << "\n";
  return 2;
}

// The location responder (agent/location/README.md), started when --location-listen is set.
// Returns the address to advertise in NodeIdentity.location_responder (may be empty).
absl::StatusOr<std::string> StartLocationResponder(const std::string& node_id,
                                                   const std::string& fallback_key_file,
                                                   std::unique_ptr<prov::agent::Responder>* out) {
  const std::string listen = absl::GetFlag(FLAGS_location_listen);
  if (listen.empty()) {
    if (!absl::GetFlag(FLAGS_landmark_keys).empty() ||
        !absl::GetFlag(FLAGS_location_advertise).empty()) {
      return absl::InvalidArgumentError(
          "--landmark-keys/--location-advertise: need --location-listen");
    }
    return std::string();
  }
  const std::string keys_file = absl::GetFlag(FLAGS_landmark_keys);
  if (keys_file.empty())
    return absl::InvalidArgumentError("--location-listen: needs --landmark-keys");
  auto keys = prov::agent::LoadLandmarkKeys(keys_file);
  if (!keys.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--landmark-keys: ", keys.status().message()));
  }
  std::string key_file = absl::GetFlag(FLAGS_node_key);
  if (key_file.empty()) key_file = fallback_key_file;
  if (key_file.empty()) {
    return absl::InvalidArgumentError(
        "--location-listen: needs the node key (--node-key, --cert-dir or --tls-key)");
  }
  auto signer = prov::agent::NodeKeyAnswerSigner::FromKeyFile(key_file);
  if (!signer.ok()) return signer.status();
  auto responder = prov::agent::Responder::Start(
      listen, {.self_id = node_id, .landmark_keys = std::move(*keys), .limits = {}},
      std::move(*signer), prov::agent::SteadyClock::Get());
  if (!responder.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--location-listen: ", responder.status().message()));
  }
  std::string advertise = absl::GetFlag(FLAGS_location_advertise);
  if (!advertise.empty()) {
    if (auto parsed = prov::location::ResolveUdpAddress(advertise); !parsed.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--location-advertise: ", parsed.status().message()));
    }
  } else if (!prov::location::IsWildcardAddress(listen)) {
    advertise = (*responder)->local_address().ToString();  // the real port when listen said 0
  } else {
    PROV_LOG_WARN("location",
                  "--location-listen is a wildcard and --location-advertise is empty: landmarks "
                  "cannot be told where to probe this node",
                  {"listen", listen});
  }
  *out = std::move(*responder);
  return advertise;
}

// Answers are signed with the key in `key_file` from now on; on failure the old key stays (and
// the failure is logged).
void SwapResponderKey(const std::string& key_file, prov::agent::Responder& responder) {
  auto signer = prov::agent::NodeKeyAnswerSigner::FromKeyFile(key_file);
  if (!signer.ok()) {
    PROV_LOG_ERROR("location", "location responder keeps its old key", {"error", signer.status()});
    return;
  }
  responder.SetSigner(std::move(*signer));
  PROV_LOG_INFO("location", "location responder now signs with the renewed key");
}

void FillResponderHealth(const prov::agent::Responder& responder,
                         provenance::v1::AgentHealth* health) {
  const prov::agent::ResponderCounters c = responder.Counters();
  auto* out = health->mutable_location_responder();
  out->set_answered(c.answered);
  out->set_refused_malformed(c.refused_malformed);
  out->set_refused_unknown_landmark(c.refused_unknown_landmark);
  out->set_refused_bad_signature(c.refused_bad_signature);
  out->set_refused_wrong_target(c.refused_wrong_target);
  out->set_rate_limited(c.rate_limited_source + c.rate_limited_global + c.rate_limited_verify);
  out->set_errors(c.sign_failures + c.send_errors);
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetFlagsUsageConfig(
      {.version_string = [] { return prov::VersionLine("prov-agent") + "\n"; }});
  absl::SetProgramUsageMessage(
      "prov-agent: reports a node's accelerators and the workloads on them.\n"
      "  prov-agent --once [--sysfs-root DIR --procfs-root DIR]\n"
      "  prov-agent --server HOST:PORT --tls-ca CA [--tls-cert C --tls-key K] | --insecure\n"
      "  prov-agent --server HOST:PORT --tls-ca CA --enroll-server HOST:PORT --cert-dir DIR\n"
      "             [--enroll-token-file F]   (first start: enrol with a one-time token)");
  auto args = prov::NormalizeArgs(std::vector<std::string>(argv, argv + argc));
  if (!args.ok()) return Fail(args.status().message());
  std::vector<char*> cargs;
  for (std::string& a : *args) cargs.push_back(a.data());
  std::vector<char*> rest = absl::ParseCommandLine(static_cast<int>(cargs.size()), cargs.data());
  if (rest.size() > 1)
    return Fail(absl::StrCat("unexpected argument '", rest[1], "' (flags start with --)"));
  if (absl::Status s = prov::log::InitLogFromFlags(); !s.ok()) return Fail(s.message());

  using namespace prov::agent;  // NOLINT(build/namespaces): main wiring only
  absl::Duration interval = absl::GetFlag(FLAGS_interval);
  if (interval < absl::Seconds(1) || interval > absl::Seconds(3600)) {
    return Fail("--interval must be between 1s and 3600s");
  }
  const double watchdog_cpu = absl::GetFlag(FLAGS_watchdog_cpu_percent);
  if (!(watchdog_cpu >= 0 && watchdog_cpu <= 10000)) {
    return Fail("--watchdog-cpu-percent: must be between 0 (off) and 10000");
  }
  const int64_t watchdog_mb = absl::GetFlag(FLAGS_watchdog_memory_mb);
  if (watchdog_mb < 0) return Fail("--watchdog-memory-mb: must be >= 0 (0: off)");
  NodeCollectorOptions opts;
  opts.sysfs_root = absl::GetFlag(FLAGS_sysfs_root);
  opts.procfs_root = absl::GetFlag(FLAGS_procfs_root);
  opts.node_id = absl::GetFlag(FLAGS_node_id);
  opts.machine_id_file = absl::GetFlag(FLAGS_machine_id_file);
  opts.datacenter = absl::GetFlag(FLAGS_datacenter);
  opts.region = absl::GetFlag(FLAGS_region);
  opts.interval_seconds = static_cast<uint32_t>(absl::ToInt64Seconds(interval));
  opts.kubelet_pods_file = absl::GetFlag(FLAGS_kubelet_pods_file);
  std::unique_ptr<prov::agent::PodResourcesSource> pod_resources;
  if (const std::string socket = absl::GetFlag(FLAGS_kubelet_pod_resources_socket);
      !socket.empty()) {
    pod_resources = prov::agent::PodResourcesClient(socket, absl::Seconds(2));
    opts.pod_resources = pod_resources.get();
  }
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) == 0) opts.hostname = host;

  // Enrolment first: the certificate decides which node this agent speaks for.
  std::optional<NodeEnroller> enroller;
  prov::TlsFiles tls{absl::GetFlag(FLAGS_tls_ca), absl::GetFlag(FLAGS_tls_cert),
                     absl::GetFlag(FLAGS_tls_key)};
  if (const std::string cert_dir = absl::GetFlag(FLAGS_cert_dir);
      !cert_dir.empty() && !absl::GetFlag(FLAGS_once)) {
    if (!tls.cert_file.empty() || !tls.key_file.empty() || absl::GetFlag(FLAGS_insecure)) {
      return Fail("--cert-dir: cannot be combined with --tls-cert/--tls-key/--insecure");
    }
    if (tls.ca_file.empty() || absl::GetFlag(FLAGS_enroll_server).empty()) {
      return Fail("--cert-dir: needs --tls-ca and --enroll-server");
    }
    enroller.emplace(NodeEnrollerOptions{.enroll_server = absl::GetFlag(FLAGS_enroll_server),
                                         .ca_file = tls.ca_file,
                                         .cert_dir = cert_dir,
                                         .token_file = absl::GetFlag(FLAGS_enroll_token_file)},
                     prov::RealClock::Get());
    auto files = enroller->EnsureCredentials();
    if (!files.ok()) return Fail(files.status().message());
    tls = *files;
    if (opts.node_id.empty()) {
      opts.node_id = enroller->node_id();
    } else if (opts.node_id != enroller->node_id()) {
      return Fail(absl::StrCat("--node-id ", opts.node_id,
                               ": the enrolled certificate is for node ", enroller->node_id()));
    }
  }

  std::optional<prov::AcceleratorCatalog> catalog;
  if (std::string path = absl::GetFlag(FLAGS_accelerator_catalog); !path.empty()) {
    auto loaded = prov::AcceleratorCatalog::LoadFile(path);
    if (!loaded.ok())
      return Fail(absl::StrCat("--accelerator-catalog: ", loaded.status().message()));
    catalog = std::move(*loaded);
    opts.catalog = &*catalog;
  }
  auto chain = ParseAttributionChain(absl::GetFlag(FLAGS_attribution_chain));
  if (!chain.ok()) return Fail(chain.status().message());
  opts.attribution.chain = *chain;
  opts.attribution.label_key = absl::GetFlag(FLAGS_k8s_account_label);
  opts.attribution.annotation_key = absl::GetFlag(FLAGS_k8s_account_annotation);
  std::optional<AccountMap> account_map;
  if (std::string path = absl::GetFlag(FLAGS_account_map); !path.empty()) {
    auto loaded = LoadAccountMap(path);
    if (!loaded.ok()) return Fail(absl::StrCat("--account-map: ", loaded.status().message()));
    account_map = std::move(*loaded);
    opts.attribution.account_map = &*account_map;
  }
  std::map<uint32_t, std::string> users;
  if (auto text = prov::ReadFileToString(absl::GetFlag(FLAGS_passwd_file)); text.ok()) {
    users = ParsePasswd(*text);
  } else {
    PROV_LOG_WARN("prov-agent", "--passwd-file unreadable: unix-user attribution reports uid:<n>",
                  {"error", text.status()});
  }
  opts.attribution.users = &users;

  std::unique_ptr<Nvml> nvml;
  if (auto loaded = LoadNvml(absl::GetFlag(FLAGS_nvml_library)); loaded.ok()) {
    nvml = std::move(*loaded);
  } else {
    PROV_LOG_INFO("nvml", absl::StrCat("NVML unavailable: ", loaded.status().message()));
  }
  prov::Clock& clock = prov::RealClock::Get();
  NodeCollector collector(std::move(opts), nvml.get(), clock);

  auto fill_self = [](provenance::v1::NodeReport* report) {
    SelfUsage self = ReadSelfUsage();
    report->mutable_health()->set_cpu_seconds(self.cpu_seconds);
    report->mutable_health()->set_rss_bytes(self.rss_bytes);
  };
  if (absl::GetFlag(FLAGS_once)) {
    provenance::v1::NodeReport report = collector.Collect();
    fill_self(&report);
    std::cout << prov::ToJson(report) << std::endl;
    return 0;
  }

  if (absl::GetFlag(FLAGS_server).empty()) return Fail("--server is required unless --once");
  auto creds = prov::MakeClientCredentials(tls, absl::GetFlag(FLAGS_insecure));
  if (!creds.ok()) return Fail(creds.status().message());
  UplinkOptions uplink_options;
  uplink_options.server_address = absl::GetFlag(FLAGS_server);
  uplink_options.credentials = *creds;
  uplink_options.spool_dir = absl::GetFlag(FLAGS_spool_dir);
  auto uplink = Uplink::Create(std::move(uplink_options), clock);
  if (!uplink.ok()) return Fail(absl::StrCat("uplink: ", uplink.status().message()));

  std::unique_ptr<Responder> responder;
  auto advertise = StartLocationResponder(collector.node_id(), tls.key_file, &responder);
  if (!advertise.ok()) return Fail(advertise.status().message());

  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  if (responder) {
    PROV_LOG_INFO("location",
                  absl::StrCat("location responder on ", responder->local_address().ToString(),
                               advertise->empty() ? "" : ", advertised as " + *advertise));
  }
  PROV_LOG_INFO(
      "prov-agent",
      absl::StrCat("prov-agent ", prov::kVersion, ": node ", collector.node_id(), ", reporting to ",
                   absl::GetFlag(FLAGS_server), " every ", absl::FormatDuration(interval)));
  prov::agent::Watchdog watchdog(
      {.cpu_percent = watchdog_cpu, .memory_bytes = static_cast<uint64_t>(watchdog_mb) << 20},
      clock);
  prov::agent::WatchdogStatus watched;
  absl::Duration period = interval;  // the watchdog lengthens it while backing off
  absl::Time next = clock.Now();
  while (!g_stop) {
    if (clock.Now() >= next) {
      next += period;
      if (next < clock.Now()) next = clock.Now() + period;  // fell behind (suspend): no burst
      provenance::v1::NodeReport report = collector.Collect();
      fill_self(&report);
      report.mutable_health()->set_watchdog_backoff_level(static_cast<uint32_t>(watched.level));
      report.mutable_health()->set_watchdog_cpu_percent(watched.cpu_percent);
      UplinkStats stats = (*uplink)->Stats();
      report.mutable_health()->set_spool_depth(stats.spool_depth);
      report.mutable_health()->set_dropped_reports(stats.dropped_reports);
      report.mutable_health()->set_rejected_reports(stats.rejected_reports);
      report.mutable_health()->set_unreadable_reports(stats.unreadable_reports);
      if (responder) {
        report.mutable_node()->set_location_responder(*advertise);
        FillResponderHealth(*responder, report.mutable_health());
      }
      if (auto s = (*uplink)->Submit(std::move(report)); !s.ok()) {
        PROV_LOG_ERROR("uplink", "submit failed", {"error", s});
      }
      watched = watchdog.Check();
      if (watched.change == prov::agent::WatchdogChange::kOverMemory) {
        PROV_LOG_ERROR("watchdog",
                       "resident memory over --watchdog-memory-mb; exiting so the supervisor "
                       "restarts the agent (unacked reports stay in the spool)",
                       {"rss_mb", watched.rss_bytes >> 20}, {"limit_mb", watchdog_mb});
        if (responder) responder->Stop();
        (*uplink)->Shutdown();
        prov::log::Default().FlushSuppressed();
        return prov::agent::kWatchdogExitCode;
      }
      if (watched.change != prov::agent::WatchdogChange::kNone) {
        const absl::Duration longer = watchdog.Interval(interval);
        next += longer - period;
        period = longer;
        collector.set_interval_seconds(static_cast<uint32_t>(absl::ToInt64Seconds(period)));
        collector.set_skip_expensive(watchdog.skip_expensive());
        if (watched.change == prov::agent::WatchdogChange::kBackedOff) {
          PROV_LOG_WARN("watchdog",
                        "CPU over --watchdog-cpu-percent for several collections; backing off "
                        "(longer interval, TCP byte counters skipped)",
                        {"cpu_percent", watched.cpu_percent}, {"limit_percent", watchdog_cpu},
                        {"level", watched.level}, {"interval", period});
        } else {
          PROV_LOG_INFO("watchdog", "CPU back under half the limit; backing off less",
                        {"cpu_percent", watched.cpu_percent}, {"level", watched.level},
                        {"interval", period});
        }
      }
    }
    if (enroller.has_value() && enroller->RenewDue()) {
      if (auto renewed = enroller->Renew(); renewed.ok()) {
        // The renewal made a new key, and provd checks answers against the key of the node's
        // certificate: the responder signs with the new key before the uplink uses the new
        // certificate.
        if (responder) SwapResponderKey(renewed->key_file, *responder);
        if (auto next = prov::MakeClientCredentials(*renewed, false); next.ok()) {
          (*uplink)->SetCredentials(*next);
          PROV_LOG_INFO("enroll", "certificate renewed",
                        {"next_renewal", absl::FormatTime(*enroller->renew_at())});
        }
      } else {
        PROV_LOG_WARN("enroll", "renewal failed (retrying)", {"error", renewed.status()});
      }
    }
    (*uplink)->Poll();
    absl::SleepFor(absl::Milliseconds(100));
  }
  PROV_LOG_INFO("prov-agent", "stopping");
  prov::log::Default().FlushSuppressed();
  if (responder) responder->Stop();
  (*uplink)->Shutdown();
  return 0;
}
