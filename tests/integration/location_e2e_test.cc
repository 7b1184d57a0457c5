// Issue 11 end to end with every real binary: provd (mutual TLS, --location-config, a person's
// certificate mapped by --cert-roles), four prov-agents with their location responders, a real
// prov-landmark doing one round, and the test's UDP delay relay simulating distance on loopback.
// provctl reads the verdicts and flags back as an analyst would:
//   - n-honest, declared in fra1 (30 km from the landmark), 0.5 ms each way: verified;
//   - n-relay, declared in fra1, but its advertised address is a relay adding 3 ms each way in
//     front of the real responder (the hardware is "elsewhere"): never verified;
//   - n-far, declared in sin1 (Singapore), answering from next to the Frankfurt landmark:
//     contradicted, with a critical location_contradicted flag;
//   - n-forged advertises an address where another machine with another key answers in its
//     name: the landmark reports the invalid answers and provd raises location_answer_forged.
// Then an export and `provctl location verify` re-derive the verdicts offline.
#include <sys/stat.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/integrity/ed25519.h"
#include "common/location/udp_socket.h"
#include "common/node_key.h"
#include "gtest/gtest.h"
#include "tests/compliance/test_certs.h"
#include "tests/integration/provd_process.h"
#include "tests/integration/subprocess.h"
#include "tests/location/udp_delay_relay.h"
#include "tests/uplink/test_util.h"

namespace prov {
namespace {

using testing::RunCommand;
using testing::Subprocess;
using testing::TestCa;

void Write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

// A free UDP port on loopback (bound and released; the agent binds it a moment later).
int FreeUdpPort() {
  auto addr = location::ResolveUdpAddress("127.0.0.1:0");
  auto sock = location::UdpSocket::Bind(*addr);
  EXPECT_TRUE(sock.ok());
  std::string text = sock->local_address().ToString();
  return std::stoi(text.substr(text.rfind(':') + 1));
}

class LocationE2eTest : public ::testing::Test {
 protected:
  std::string Sub(const std::string& name) const { return dir_.Sub(name); }

  void SetUp() override {
    // Certificates: provd's server certificate, one per node (SPIFFE node URI), the landmark's
    // (SPIFFE landmark URI), and an analyst's (SPIFFE person URI, viewer by --cert-roles).
    Write(Sub("ca.pem"), ca_.pem());
    TestCa::KeyPair server =
        ca_.IssueWithKey("prov-test-server", "DNS:localhost,IP:127.0.0.1", "serverAuth");
    Write(Sub("server.pem"), server.cert_pem);
    Write(Sub("server.key"), server.key_pem);
    for (const char* node : {"n-honest", "n-relay", "n-far", "n-forged"}) {
      TestCa::KeyPair kp =
          ca_.IssueWithKey(node, absl::StrCat("URI:spiffe://prov.test/node/", node), "clientAuth");
      Write(Sub(absl::StrCat(node, ".pem")), kp.cert_pem);
      Write(Sub(absl::StrCat(node, ".key")), kp.key_pem);
    }
    TestCa::KeyPair lm =
        ca_.IssueWithKey("landmark:lm-fra", "URI:spiffe://prov.test/landmark/lm-fra", "clientAuth");
    Write(Sub("lm.pem"), lm.cert_pem);
    Write(Sub("lm-tls.key"), lm.key_pem);
    TestCa::KeyPair person =
        ca_.IssueWithKey("alice", "URI:spiffe://prov.test/person/alice", "clientAuth");
    Write(Sub("alice.pem"), person.cert_pem);
    Write(Sub("alice.key"), person.key_pem);
    Write(Sub("cert-roles"), "uri:spiffe://prov.test/person/alice admin\n");
    // The landmark's Ed25519 key, configured in provd and in every agent.
    auto key = integrity::GenerateSigningKey();
    ASSERT_TRUE(key.ok());
    ASSERT_TRUE(integrity::SaveSigningKey(Sub("lm.key"), *key).ok());
    const std::string pub = "ed25519-public " + absl::BytesToHexString(key->public_key);
    Write(Sub("landmark-keys"), "lm-fra " + pub + "\n");
    // Synthetic geometry: the landmark in Frankfurt, fra1 30 km north of it, sin1 in Singapore.
    Write(Sub("location.yaml"), absl::StrCat("landmarks:\n"
                                             "  - id: lm-fra\n"
                                             "    position: {lat: 50.1109, lon: 8.6821}\n"
                                             "    region: eu-central\n"
                                             "    public_key: \"",
                                             pub,
                                             "\"\n"
                                             "datacenters:\n"
                                             "  - id: fra1\n"
                                             "    position: {lat: 50.3807, lon: 8.6821}\n"
                                             "    region: eu-central\n"
                                             "  - id: sin1\n"
                                             "    position: {lat: 1.3521, lon: 103.8198}\n"
                                             "    region: ap-southeast\n"
                                             "assignment:\n"
                                             "  landmarks_per_node: 1\n"
                                             "  probes_per_burst: 16\n"
                                             "  probe_spacing_ms: 5\n"
                                             "  round_interval_seconds: 60\n"));
    ASSERT_EQ(::mkdir(Sub("provd").c_str(), 0755), 0);
    provd_ = std::make_unique<testing::ProvdProcess>(
        Sub("provd"), 0,
        std::vector<std::string>{"--tls-cert", Sub("server.pem"), "--tls-key", Sub("server.key"),
                                 "--tls-client-ca", Sub("ca.pem"), "--trust-domain", "prov.test",
                                 "--cert-roles", Sub("cert-roles"), "--location-config",
                                 Sub("location.yaml"), "--export-interval", "0", "--web-listen",
                                 "127.0.0.1:0"});
    ASSERT_TRUE(provd_->ok()) << provd_->log();
  }

  // A prov-agent for `node` in `dc` whose responder listens on `listen_port` and advertises
  // `advertise` (empty: the listen address).
  void StartAgent(const std::string& node, const std::string& dc, int listen_port,
                  const std::string& advertise, const std::string& server = "") {
    std::vector<std::string> argv = {testing::BinDir() + "/prov-agent",
                                     "--server",
                                     server.empty() ? provd_->address() : server,
                                     "--node-id",
                                     node,
                                     "--datacenter",
                                     dc,
                                     "--interval",
                                     "1s",
                                     "--spool-dir",
                                     Sub(node + "-spool-" + std::to_string(agents_.size())),
                                     "--location-listen",
                                     absl::StrCat("127.0.0.1:", listen_port),
                                     "--landmark-keys",
                                     Sub("landmark-keys")};
    if (server.empty()) {
      argv.insert(argv.end(), {"--tls-ca", Sub("ca.pem"), "--tls-cert", Sub(node + ".pem"),
                               "--tls-key", Sub(node + ".key"), "--node-key", Sub(node + ".key")});
    } else {
      argv.insert(argv.end(), {"--insecure", "--node-key", Sub("impostor.key")});
    }
    if (!advertise.empty()) argv.insert(argv.end(), {"--location-advertise", advertise});
    agents_.push_back(
        std::make_unique<Subprocess>(argv, Sub(node + ".log." + std::to_string(agents_.size()))));
  }

  std::pair<int, std::string> Provctl(std::vector<std::string> args) {
    std::vector<std::string> argv = {testing::BinDir() + "/provctl",
                                     "--server",
                                     provd_->address(),
                                     "--tls-ca",
                                     Sub("ca.pem"),
                                     "--tls-cert",
                                     Sub("alice.pem"),
                                     "--tls-key",
                                     Sub("alice.key")};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv);
  }

  std::string LandmarkConfig() const {
    return absl::StrCat("id: lm-fra\nkey_file: ", Sub("lm.key"), "\nstate_file: ", Sub("lm.state"),
                        "\nudp_listen: \"\"\nprovd:\n  address: ", provd_->address(),
                        "\n  tls_ca: ", Sub("ca.pem"), "\n  tls_cert: ", Sub("lm.pem"),
                        "\n  tls_key: ", Sub("lm-tls.key"), "\n");
  }

  testing::TempDir dir_;
  TestCa ca_{"prov-location-ca"};
  std::unique_ptr<testing::ProvdProcess> provd_;
  std::vector<std::unique_ptr<Subprocess>> agents_;
};

TEST_F(LocationE2eTest, HonestRelayedFarAndForgedNodes) {
  // The hardware behind n-relay answers 3 ms further away (6 ms of round trip): ~600 km.
  const int relay_upstream = FreeUdpPort();
  auto upstream = location::ResolveUdpAddress(absl::StrCat("127.0.0.1:", relay_upstream));
  ASSERT_TRUE(upstream.ok());
  auto relay = testing::UdpDelayRelay::Start(
      *upstream, {.delay = absl::Microseconds(3500), .jitter = absl::Microseconds(500)});
  ASSERT_TRUE(relay.ok()) << relay.status();
  // n-honest: 0.5 ms each way (~100 km of fibre, the site is 30 km away).
  const int honest_port = FreeUdpPort();
  auto honest_up = location::ResolveUdpAddress(absl::StrCat("127.0.0.1:", honest_port));
  auto honest_relay = testing::UdpDelayRelay::Start(*honest_up, {.delay = absl::Microseconds(500)});
  ASSERT_TRUE(honest_relay.ok());
  // The impostor machine answering for n-forged with a key that is not n-forged's.
  auto impostor = GenerateNodeKeyPem();
  ASSERT_TRUE(impostor.ok());
  Write(Sub("impostor.key"), *impostor);
  const int impostor_port = FreeUdpPort();

  StartAgent("n-honest", "fra1", honest_port, (*honest_relay)->address().ToString());
  StartAgent("n-relay", "fra1", relay_upstream, (*relay)->address().ToString());
  StartAgent("n-far", "sin1", FreeUdpPort(), "");
  StartAgent("n-forged", "fra1", FreeUdpPort(), absl::StrCat("127.0.0.1:", impostor_port));
  // The impostor: a prov-agent calling itself n-forged, never reaching provd (port 1).
  StartAgent("n-forged", "fra1", impostor_port, "", "127.0.0.1:1");

  // Every node has reported its responder over its bound stream (provd knows its key) when the
  // landmark's assignment lists all four. prov-landmark --once does one round.
  Write(Sub("lm.yaml"), LandmarkConfig());
  std::string out;
  bool all_verdicts = false;
  for (absl::Time deadline = absl::Now() + absl::Seconds(60);
       !all_verdicts && absl::Now() < deadline;) {
    auto [rc, text] =
        RunCommand({testing::BinDir() + "/prov-landmark", "--config", Sub("lm.yaml"), "--once"});
    out = text;
    auto [lrc, list] = Provctl({"location", "list", "-o", "json"});
    all_verdicts = lrc == 0 && absl::StrContains(list, "n-honest") &&
                   absl::StrContains(list, "n-relay") && absl::StrContains(list, "n-far") &&
                   absl::StrContains(list, "n-forged") &&
                   absl::StrContains(list, "LOCATION_VERDICT_VERIFIED");
    if (!all_verdicts) absl::SleepFor(absl::Milliseconds(500));
  }
  ASSERT_TRUE(all_verdicts) << "prov-landmark: " << out << "\nprovd: " << provd_->log();

  auto show = [&](const std::string& node) {
    auto [rc, text] = Provctl({"location", "show", node, "-o", "json"});
    EXPECT_EQ(rc, 0) << text;
    return text;
  };
  const std::string honest = show("n-honest");
  EXPECT_TRUE(absl::StrContains(honest, "LOCATION_VERDICT_VERIFIED")) << honest;
  const std::string relayed = show("n-relay");
  EXPECT_FALSE(absl::StrContains(relayed, "LOCATION_VERDICT_VERIFIED")) << relayed;
  EXPECT_TRUE(absl::StrContains(relayed, "LOCATION_VERDICT_UNVERIFIED") ||
              absl::StrContains(relayed, "LOCATION_VERDICT_CONTRADICTED"))
      << relayed;
  const std::string far = show("n-far");
  EXPECT_TRUE(absl::StrContains(far, "LOCATION_VERDICT_CONTRADICTED")) << far;
  const std::string forged = show("n-forged");
  EXPECT_FALSE(absl::StrContains(forged, "LOCATION_VERDICT_VERIFIED")) << forged;

  // The dashboard's JSON route (the node location page's data) through provd's gateway onto the
  // real LocationService, with the bootstrap admin token: the disk that excludes the site.
  {
    const std::string log = provd_->log();
    const size_t at = log.find("dashboard on http://");
    ASSERT_NE(at, std::string::npos) << log;
    const size_t from = at + std::string("dashboard on ").size();  // "http://host:port/..."
    const std::string base = log.substr(from, log.find_first_of("/\n", from + 7) - from);
    auto [crc, json] = RunCommand({"curl", "-s", "-H", "Authorization: Bearer " + provd_->token(),
                                   base + "/api/locations/n-far"});
    EXPECT_EQ(crc, 0) << json;
    EXPECT_TRUE(absl::StrContains(json, "LOCATION_VERDICT_CONTRADICTED")) << base << ": " << json;
    EXPECT_TRUE(absl::StrContains(json, "\"landmark_id\":\"lm-fra\"") ||
                absl::StrContains(json, "\"landmarkId\":\"lm-fra\""))
        << json;
    auto [arc, anonymous] = RunCommand(
        {"curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", base + "/api/locations/n-far"});
    EXPECT_EQ(anonymous, "401") << base;
  }

  // The analyst's flags: contradicted (critical) on n-far, forged answers on n-forged.
  std::string flags;
  for (absl::Time deadline = absl::Now() + absl::Seconds(30); absl::Now() < deadline;) {
    flags = Provctl({"flags", "list", "-o", "json"}).second;
    if (absl::StrContains(flags, "location_contradicted") &&
        absl::StrContains(flags, "location_answer_forged")) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(300));
  }
  EXPECT_TRUE(absl::StrContains(flags, "location_contradicted")) << flags;
  EXPECT_TRUE(absl::StrContains(flags, "location_answer_forged")) << flags;
  auto [crc, contradicted] = Provctl({"flags", "list", "--rule", "location_contradicted"});
  EXPECT_TRUE(absl::StrContains(contradicted, "n-far")) << contradicted;
  EXPECT_FALSE(absl::StrContains(contradicted, "n-honest")) << contradicted;
  auto [frc, forged_flags] = Provctl({"flags", "list", "--rule", "location_answer_forged"});
  EXPECT_TRUE(absl::StrContains(forged_flags, "n-forged")) << forged_flags;
  EXPECT_FALSE(absl::StrContains(forged_flags, "n-honest")) << forged_flags;

  // An export carries the signed records; provctl re-derives every verdict from them offline.
  const std::string export_dir = Sub("export");
  auto [erc, exported] = Provctl({"export", "--out", export_dir});
  ASSERT_EQ(erc, 0) << exported;
  auto [vrc, verified] =
      RunCommand({testing::BinDir() + "/provctl", "location", "verify", export_dir});
  EXPECT_EQ(vrc, 0) << verified;
}

}  // namespace
}  // namespace prov
