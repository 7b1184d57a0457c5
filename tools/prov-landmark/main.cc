// prov-landmark: a location landmark (issue 11). Probes the agents (and landmarks) provd assigns
// it over UDP, signs measurement records and submits them to provd's LandmarkGateway; answers
// other landmarks' probes on its own UDP port. README.md here has the config and how to run it.
//
//   prov-landmark --config /etc/prov-landmark.yaml           # rounds until SIGTERM/SIGINT
//   prov-landmark --config lm.yaml --once                    # one round, then exit (tests)
//   prov-landmark --generate-key /etc/prov-landmark/landmark.key   # prints "ed25519-public <hex>"
//   prov-landmark --version
//
// Threads: the main thread runs rounds; the responder has its own ("location-resp"); gRPC's.
// Exit codes: 0 done, 1 a round failed (--once), 2 bad flags, config or key.
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/location/answer_signer.h"
#include "common/clock.h"
#include "common/flag_args.h"
#include "common/grpc/bearer_channel.h"
#include "common/grpc/tls.h"
#include "common/integrity/ed25519.h"
#include "common/log/log.h"
#include "common/log/log_flags.h"
#include "common/version.h"
#include "tools/prov-landmark/landmark.h"
#include "tools/prov-landmark/landmark_config.h"

ABSL_FLAG(std::string, config, "",
          "landmark config file (YAML; see tools/prov-landmark/README.md)");
ABSL_FLAG(bool, once, false, "run one round, then exit");
ABSL_FLAG(std::string, generate_key, "",
          "write a new Ed25519 key to this file (0600) and its public half to FILE.pub, print "
          "the public line for provd's --location-config and the agents' --landmark-keys, exit");

namespace {

volatile std::sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

int Fail(absl::string_view what) {
  std::cerr << "prov-landmark: " << what << "\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetFlagsUsageConfig(
      {.version_string = [] { return prov::VersionLine("prov-landmark") + "\n"; }});
  absl::SetProgramUsageMessage(
      "prov-landmark: probes assigned nodes over UDP and reports signed RTTs to provd.\n"
      "  prov-landmark --config FILE [--once]");
  auto args = prov::NormalizeArgs(std::vector<std::string>(argv, argv + argc));
  if (!args.ok()) return Fail(args.status().message());
  std::vector<char*> cargs;
  for (std::string& a : *args) cargs.push_back(a.data());
  std::vector<char*> rest = absl::ParseCommandLine(static_cast<int>(cargs.size()), cargs.data());
  if (rest.size() > 1) return Fail(absl::StrCat("unexpected argument '", rest[1], "'"));
  if (absl::Status s = prov::log::InitLogFromFlags(); !s.ok()) return Fail(s.message());
  if (const std::string path = absl::GetFlag(FLAGS_generate_key); !path.empty()) {
    if (std::FILE* existing = std::fopen(path.c_str(), "r")) {
      std::fclose(existing);
      return Fail(absl::StrCat("--generate-key: ", path, " exists; not overwriting a key"));
    }
    auto key = prov::integrity::GenerateSigningKey();
    if (!key.ok()) return Fail(key.status().message());
    if (auto saved = prov::integrity::SaveSigningKey(path, *key); !saved.ok()) {
      return Fail(absl::StrCat("--generate-key: ", saved.message()));
    }
    if (auto saved = prov::integrity::SavePublicKey(path + ".pub", key->public_key); !saved.ok()) {
      return Fail(absl::StrCat("--generate-key: ", saved.message()));
    }
    std::ifstream pub(path + ".pub");
    std::string line;
    std::getline(pub, line);
    std::cout << line << "\n";
    return 0;
  }
  if (absl::GetFlag(FLAGS_config).empty()) return Fail("--config is required");

  using namespace prov;  // NOLINT(build/namespaces): main wiring only
  auto config = landmark::LoadLandmarkConfig(absl::GetFlag(FLAGS_config));
  if (!config.ok()) return Fail(config.status().message());
  auto key = integrity::LoadSigningKey(config->key_file);
  if (!key.ok()) return Fail(absl::StrCat("key_file: ", key.status().message()));
  agent::LandmarkKeys extra_keys;
  if (!config->landmark_keys_file.empty()) {
    auto keys = agent::LoadLandmarkKeys(config->landmark_keys_file);
    if (!keys.ok()) return Fail(absl::StrCat("landmark_keys_file: ", keys.status().message()));
    extra_keys = std::move(*keys);
  }
  Clock& clock = RealClock::Get();
  auto signer =
      landmark::RecordSigner::Open(config->id, key->secret_key, config->state_file, clock);
  if (!signer.ok()) return Fail(signer.status().message());

  std::unique_ptr<agent::Responder> responder;
  if (!config->udp_listen.empty()) {
    auto answer_signer = agent::Ed25519AnswerSigner::FromSecretKey(key->secret_key);
    if (!answer_signer.ok()) return Fail(answer_signer.status().message());
    auto started = agent::Responder::Start(
        config->udp_listen, {.self_id = config->id, .landmark_keys = extra_keys, .limits = {}},
        std::move(*answer_signer), agent::SteadyClock::Get());
    if (!started.ok()) return Fail(absl::StrCat("udp_listen: ", started.status().message()));
    responder = std::move(*started);
  }
  auto bind = location::ResolveUdpAddress(config->probe_bind);
  if (!bind.ok()) return Fail(absl::StrCat("probe_bind: ", bind.status().message()));
  auto socket = location::UdpSocket::Bind(*bind);
  if (!socket.ok()) return Fail(absl::StrCat("probe_bind: ", socket.status().message()));
  landmark::Prober prober(std::move(*socket), config->id, key->secret_key,
                          static_cast<uint64_t>(absl::ToUnixMicros(clock.Now())));

  auto creds =
      MakeClientCredentials({config->tls_ca, config->tls_cert, config->tls_key}, config->insecure);
  if (!creds.ok()) return Fail(creds.status().message());
  std::string token;
  if (!config->token_file.empty()) {
    auto read = ReadTokenFile(config->token_file);
    if (!read.ok()) return Fail(read.status().message());
    token = *read;
  }
  landmark::GatewayClient client(provenance::v1::LandmarkGateway::NewStub(
                                     CreateBearerChannel(config->provd_address, *creds, token)),
                                 {});
  landmark::Landmark lm(client, prober, *signer, responder.get(), extra_keys,
                        config->answer_timeout);

  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  PROV_LOG_INFO(
      "prov-landmark",
      absl::StrCat("prov-landmark ", kVersion, ": ", config->id, ", provd ", config->provd_address,
                   responder ? ", answering on " + responder->local_address().ToString() : ""),
      {"landmark", config->id});
  while (!g_stop) {
    const absl::Time started = clock.Now();
    auto round = lm.RunRound(config->id);
    absl::Duration interval = absl::Seconds(60);
    if (round.ok()) {
      interval = round->interval;
      PROV_LOG_INFO("prov-landmark",
                    absl::StrCat("round: ", round->targets, " targets, ", round->submitted.accepted,
                                 " records accepted, ", round->submitted.refused.size(),
                                 " refused, ", round->duplicates, " duplicate answers"),
                    {"targets", round->targets}, {"accepted", round->submitted.accepted},
                    {"refused", round->submitted.refused.size()},
                    {"duplicate_answers", round->duplicates});
    } else {
      PROV_LOG_ERROR("prov-landmark", "round failed", {"error", round.status()});
    }
    if (absl::GetFlag(FLAGS_once)) return round.ok() ? 0 : 1;
    const absl::Time next = started + interval;
    while (!g_stop && clock.Now() < next) absl::SleepFor(absl::Milliseconds(200));
  }
  PROV_LOG_INFO("prov-landmark", "stopping");
  prov::log::Default().FlushSuppressed();
  return 0;
}
