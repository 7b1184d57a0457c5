// prov-responder-bench (issue 11): the latency a node's location responder adds by verifying the
// landmark's Ed25519 probe signature and signing its answer with the node's EC P-256 key, measured
// as the round trip over loopback against a baseline of the same round trip to a UDP echo (no
// parsing, no signing, no verifying), in the same run, on the same sockets' path.
//
//   build/release/bin/prov-responder-bench --probes 5000
//
// Order: echo, responder, echo, responder (half the probes each time), so drift on a shared
// machine hits both alike. Prints p50/p99/max in microseconds for each and the ratios, and the
// cost of the signature alone (sign and verify, in a loop on this thread). Figures only; nothing
// is asserted.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "agent/location/answer_signer.h"
#include "agent/location/responder.h"
#include "common/clock.h"
#include "common/integrity/ed25519.h"
#include "common/location/probe_sig.h"
#include "common/location/probe_wire.h"
#include "common/node_key.h"

ABSL_FLAG(int, probes, 5000, "probes per target (split in two runs each)");

namespace {

using Steady = std::chrono::steady_clock;
namespace loc = prov::location;

struct Figures {
  double p50, p99, max;
};

Figures Summarize(std::vector<double> us) {
  std::sort(us.begin(), us.end());
  auto at = [&](double q) {
    return us[static_cast<size_t>(q * static_cast<double>(us.size() - 1))];
  };
  return {at(0.5), at(0.99), us.back()};
}

// One probe at a time: send, wait for the reply, record the round trip in microseconds.
void RoundTrips(const loc::UdpSocket& client, const loc::UdpAddress& to,
                const std::vector<std::string>& datagrams, size_t from, size_t count,
                std::vector<double>* out) {
  for (size_t i = from; i < from + count; ++i) {
    const auto start = Steady::now();
    if (!client.SendTo(datagrams[i], to).ok()) continue;
    auto got = client.Receive(absl::Seconds(1));
    const auto end = Steady::now();
    if (got.ok() && got->has_value()) {
      out->push_back(std::chrono::duration<double, std::micro>(end - start).count());
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const size_t n = static_cast<size_t>(std::max(10, absl::GetFlag(FLAGS_probes)));
  auto landmark = prov::integrity::GenerateSigningKey();
  auto node_pem = prov::GenerateNodeKeyPem();
  if (!landmark.ok() || !node_pem.ok()) return 1;
  auto signer = prov::agent::NodeKeyAnswerSigner::FromKeyPem(*node_pem);
  if (!signer.ok()) return 1;
  auto loopback = *loc::ResolveUdpAddress("127.0.0.1:0");

  // The node's responder, limits out of the way (the benchmark is one landmark at full speed).
  auto responder =
      prov::agent::Responder::Start("127.0.0.1:0",
                                    {.self_id = "gpu-017",
                                     .landmark_keys = {{"lm-fra-1", landmark->public_key}},
                                     .limits = {.per_source_rate = 1e9,
                                                .per_source_burst = 1e9,
                                                .global_rate = 1e9,
                                                .global_burst = 1e9,
                                                .verify_rate = 1e9,
                                                .verify_burst = 1e9,
                                                .max_sources = 16}},
                                    std::move(*signer), prov::agent::SteadyClock::Get());
  if (!responder.ok()) {
    std::fprintf(stderr, "responder: %s\n", std::string(responder.status().message()).c_str());
    return 1;
  }
  // The baseline: a UDP echo on its own thread, polled the same way.
  auto echo = loc::UdpSocket::Bind(loopback);
  if (!echo.ok()) return 1;
  std::atomic<bool> stop{false};
  std::thread echo_thread([&] {
    while (!stop) {
      auto got = echo->Receive(absl::Milliseconds(50));
      if (got.ok() && got->has_value()) (void)echo->SendTo((*got)->bytes, (*got)->from);
    }
  });

  std::vector<std::string> probes;
  probes.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    std::string nonce(loc::kNonceSize, '\0');
    for (size_t b = 0; b < 8; ++b) nonce[b] = static_cast<char>((i >> (8 * b)) & 0xff);
    loc::ProbeDatagram p{nonce, i + 1, "lm-fra-1", "gpu-017", {}};
    p.signature = loc::SignEd25519Raw(landmark->secret_key,
                                      loc::ProbeMessage(nonce, "lm-fra-1", "gpu-017", i + 1));
    probes.push_back(*loc::EncodeProbe(p));
  }
  auto client = loc::UdpSocket::Bind(loopback);
  if (!client.ok()) return 1;
  std::vector<double> echo_us, responder_us;
  const size_t half = n / 2;
  RoundTrips(*client, echo->local_address(), probes, 0, std::min<size_t>(200, n), &echo_us);
  echo_us.clear();  // warm-up
  RoundTrips(*client, echo->local_address(), probes, 0, half, &echo_us);
  RoundTrips(*client, (*responder)->local_address(), probes, 0, half, &responder_us);
  RoundTrips(*client, echo->local_address(), probes, half, n - half, &echo_us);
  RoundTrips(*client, (*responder)->local_address(), probes, half, n - half, &responder_us);
  stop = true;
  echo_thread.join();
  const prov::agent::ResponderCounters counters = (*responder)->Counters();
  (*responder)->Stop();

  // The signature work alone, on this thread.
  auto solo = prov::agent::NodeKeyAnswerSigner::FromKeyPem(*node_pem);
  const std::string answer_message =
      loc::AnswerMessage(std::string(16, 'n'), "lm-fra-1", "gpu-017", 1);
  const std::string probe_message =
      loc::ProbeMessage(std::string(16, 'n'), "lm-fra-1", "gpu-017", 1);
  const std::string probe_sig = loc::SignEd25519Raw(landmark->secret_key, probe_message);
  const int loops = 2000;
  auto t0 = Steady::now();
  for (int i = 0; i < loops; ++i) (void)(*solo)->Sign(answer_message);
  auto t1 = Steady::now();
  for (int i = 0; i < loops; ++i) {
    (void)loc::VerifyEd25519Raw(landmark->public_key, probe_message, probe_sig);
  }
  auto t2 = Steady::now();

  const Figures e = Summarize(echo_us), r = Summarize(responder_us);
  std::printf("prov-responder-bench: %zu probes per target over 127.0.0.1, one at a time\n", n);
  std::printf("%-34s %10s %10s %10s\n", "round trip (us)", "p50", "p99", "max");
  std::printf("%-34s %10.1f %10.1f %10.1f\n", "echo (baseline)", e.p50, e.p99, e.max);
  std::printf("%-34s %10.1f %10.1f %10.1f\n", "responder (verify + sign)", r.p50, r.p99, r.max);
  std::printf("%-34s %10.1f %10.1f\n", "added by the responder", r.p50 - e.p50, r.p99 - e.p99);
  std::printf("%-34s %10.2f %10.2f\n", "ratio responder / echo", r.p50 / e.p50, r.p99 / e.p99);
  std::printf("ECDSA P-256 sign (answer): %.1f us; Ed25519 verify (probe): %.1f us (%d each)\n",
              std::chrono::duration<double, std::micro>(t1 - t0).count() / loops,
              std::chrono::duration<double, std::micro>(t2 - t1).count() / loops, loops);
  std::printf("answers: %llu of %zu echo replies: %zu\n",
              static_cast<unsigned long long>(counters.answered), n, echo_us.size());
  return 0;
}
