// prov-location-trials: the issue-11 figures for relays and jitter, measured with the real parts
// over loopback: the agent's Responder (node key, ECDSA answers), prov-landmark's Prober (signed
// bursts, min RTT over valid answers), the test delay relay (simulated distance) and the verifier
// (common/location/verifier.h, the policy's default parameters). Nothing is simulated but the
// distance. Figures only; the exit code says whether any relay was ever judged verified.
//
//   prov-location-trials [--trials 200] [--probes 16] [--spacing_ms 5]
//
// Geometry (synthetic, labelled as such): a landmark in Frankfurt (50.1109 N, 8.6821 E); the node
// declared at a site 30 km from it. Honest: 0.5 ms each way to the landmark (1 ms RTT, ~100 km of
// fibre), plus a uniform jitter each way. Relay: the declared node forwards probes to the real
// hardware, adding 2.5 ms each way (5 ms RTT) or 5 ms each way (10 ms RTT) on top, with 0.5 ms
// jitter. A verdict is `verified` only when the disk contains the site and is at most 500 km.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "agent/location/answer_signer.h"
#include "agent/location/responder.h"
#include "common/clock.h"
#include "common/integrity/ed25519.h"
#include "common/location/probe_sig.h"
#include "common/location/udp_socket.h"
#include "common/location/verifier.h"
#include "common/node_key.h"
#include "tests/location/udp_delay_relay.h"
#include "tools/prov-landmark/prober.h"

ABSL_FLAG(int, trials, 200, "trials per scenario");
ABSL_FLAG(int, probes, 16, "probes per burst (the landmark's default)");
ABSL_FLAG(int, spacing_ms, 5, "spacing between probes of a burst");

namespace {

using namespace prov;  // NOLINT(build/namespaces): a small tool
namespace pb = provenance::v1;

struct Scenario {
  const char* name;
  bool relay;               // true: must never be verified
  absl::Duration each_way;  // relay delay each way
  absl::Duration jitter;    // uniform extra each way
};

struct Tally {
  int verified = 0, unverified = 0, contradicted = 0, failed = 0;
  std::vector<double> rtt_min;
};

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int trials = absl::GetFlag(FLAGS_trials);
  auto lm_key = integrity::GenerateSigningKey();
  auto node_pem = GenerateNodeKeyPem();
  if (!lm_key.ok() || !node_pem.ok()) return 2;
  auto spki = location::PublicKeyDerFromPem(*node_pem);
  auto signer = agent::NodeKeyAnswerSigner::FromKeyPem(*node_pem);
  if (!spki.ok() || !signer.ok()) return 2;
  agent::RateLimits limits;
  limits.per_source_rate = limits.global_rate = 1e6;
  limits.per_source_burst = limits.global_burst = 1e6;
  auto responder = agent::Responder::Start(
      "127.0.0.1:0",
      {.self_id = "gpu-trial", .landmark_keys = {{"lm-fra", lm_key->public_key}}, .limits = limits},
      std::move(*signer), RealClock::Get());
  if (!responder.ok()) {
    std::fprintf(stderr, "responder: %s\n", std::string(responder.status().message()).c_str());
    return 2;
  }
  auto bind = location::ResolveUdpAddress("127.0.0.1:0");
  auto socket = location::UdpSocket::Bind(*bind);
  if (!socket.ok()) return 2;
  landmark::Prober prober(std::move(*socket), "lm-fra", lm_key->secret_key, /*seq_base=*/1);
  const landmark::BurstOptions burst{.probes = static_cast<uint32_t>(absl::GetFlag(FLAGS_probes)),
                                     .spacing = absl::Milliseconds(absl::GetFlag(FLAGS_spacing_ms)),
                                     .answer_timeout = absl::Milliseconds(500)};
  const location::GeoPoint landmark{50.1109, 8.6821};
  const location::GeoPoint site{50.1109 + 30.0 / 111.2, 8.6821};  // 30 km north
  const location::LandmarkSite landmarks[] = {{"lm-fra", landmark}};
  const location::VerifierParams params;  // the policy's defaults: 200 km/ms, 500 km proof

  const Scenario scenarios[] = {
      {"honest, 1 ms RTT, jitter 0.5 ms each way", false, absl::Microseconds(500),
       absl::Microseconds(500)},
      {"honest, 1 ms RTT, jitter 1 ms each way (2 ms RTT)", false, absl::Microseconds(500),
       absl::Milliseconds(1)},
      {"honest, 1 ms RTT, jitter 2 ms each way (4 ms RTT)", false, absl::Microseconds(500),
       absl::Milliseconds(2)},
      {"relay +5 ms RTT (6 ms), jitter 0.5 ms each way", true, absl::Microseconds(3000),
       absl::Microseconds(500)},
      {"relay +10 ms RTT (11 ms), jitter 0.5 ms each way", true, absl::Microseconds(5500),
       absl::Microseconds(500)},
  };
  std::printf("prov-location-trials: %d trials per scenario, %d probes per burst, %d ms apart\n",
              trials, absl::GetFlag(FLAGS_probes), absl::GetFlag(FLAGS_spacing_ms));
  std::printf(
      "synthetic geometry: landmark Frankfurt, declared site 30 km away; loopback + relay\n");
  std::printf("%-52s %8s %10s %12s %6s %9s %9s %9s\n", "scenario", "verified", "unverified",
              "contradicted", "failed", "rtt p0", "rtt p50", "rtt max");
  int false_verified = 0;
  for (const Scenario& s : scenarios) {
    Tally t;
    for (int i = 0; i < trials; ++i) {
      auto relay = testing::UdpDelayRelay::Start(
          (*responder)->local_address(),
          {.delay = s.each_way, .jitter = s.jitter, .seed = static_cast<uint64_t>(i + 1)});
      if (!relay.ok()) {
        ++t.failed;
        continue;
      }
      pb::ProbeTarget target;
      target.set_kind(pb::PROBE_TARGET_KIND_NODE);
      target.set_target_id("gpu-trial");
      target.set_udp_address((*relay)->address().ToString());
      target.set_public_key(*spki);
      auto m = prober.Burst(target, burst);
      (*relay)->Stop();
      if (!m.ok() || m->answers_valid() == 0) {
        ++t.failed;
        continue;
      }
      t.rtt_min.push_back(m->rtt_min_ms());
      const location::DiskInput disk{.landmark_id = "lm-fra",
                                     .center = landmark,
                                     .rtt_min_ms = m->rtt_min_ms(),
                                     .speed_km_per_ms = params.fibre_km_per_ms,
                                     .measured_at = absl::Now()};
      location::LocationResult r =
          location::EvaluateLocation(site, {&disk, 1}, landmarks, params, absl::Now());
      switch (r.verdict) {
        case location::Verdict::kVerified:
          ++t.verified;
          if (s.relay) ++false_verified;
          break;
        case location::Verdict::kUnverified:
          ++t.unverified;
          break;
        case location::Verdict::kContradicted:
          ++t.contradicted;
          break;
      }
    }
    std::sort(t.rtt_min.begin(), t.rtt_min.end());
    auto at = [&](double q) {
      return t.rtt_min.empty() ? 0.0 : t.rtt_min[static_cast<size_t>(q * (t.rtt_min.size() - 1))];
    };
    std::printf("%-52s %8d %10d %12d %6d %8.3fms %8.3fms %8.3fms\n", s.name, t.verified,
                t.unverified, t.contradicted, t.failed, at(0), at(0.5), at(1));
    if (!s.relay) {
      const int judged = t.verified + t.unverified + t.contradicted;
      std::printf("  false unverified/contradicted for honest: %d of %d (%.2f %%)\n",
                  judged - t.verified, judged,
                  judged ? 100.0 * (judged - t.verified) / judged : 0.0);
    } else {
      std::printf("  false verified for this relay: %d of %d\n", t.verified,
                  t.verified + t.unverified + t.contradicted);
    }
  }
  (*responder)->Stop();
  std::printf("relays judged verified: %d\n", false_verified);
  return false_verified == 0 ? 0 : 1;
}
