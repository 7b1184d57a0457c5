// Prober: one burst of signed probes from this landmark to one target over UDP, and the
// measurement that comes out of it (everything but landmark_seq and measured_at, which the
// RecordSigner adds).
//
//   Prober prober(std::move(socket), "lm-fra-1", key.secret_key, /*seq_base=*/unix_micros);
//   PROV_ASSIGN_OR_RETURN(Measurement m, prober.Burst(target, {.probes = 16,
//                                                  .spacing = absl::Milliseconds(20)}));
//
// A window's probes are all signed before its first is sent, so signing never delays a send or a
// receive timestamp. Each probe carries a fresh 16-byte nonce from the CSPRNG (OpenSSL RAND_bytes;
// injectable for tests) and a seq rising per target, signed with the landmark's Ed25519 key. The
// RTT of a probe is taken on std::chrono::steady_clock, from just before sendto() to the moment its
// answer is read. Datagrams are collected during the burst and checked afterwards, so verifying one
// answer never delays the timestamp of the next. Only datagrams from the target's address count;
// each is:
//   valid        its nonce is outstanding, landmark/target/seq match, the signature verifies
//                (node: VerifyNodeAnswer with the DER SPKI; landmark: raw Ed25519), within
//                answer_timeout of its probe;
//   malformed    not an answer datagram (probe_wire.h);
//   wrong_target answer for another landmark or target id;
//   wrong_nonce  the nonce is not one of this burst's outstanding probes (a replay), it was
//                answered already by a different datagram, or its seq differs from the probe's;
//   bad_signature the signature does not verify with the assigned key (a forged answerer);
//   late         a valid answer that came after answer_timeout.
// A byte-identical repeat of the datagram that answered a nonce (the network duplicated it) is
// none of these: it is a duplicate, counted in duplicate_answers(), never in answers_invalid
// (provd refuses a record with more answers than probes) and never a sample.
// rtt_min_ms / rtt_median_ms are over valid answers (0 when none); up to 4 invalid answers travel
// as samples. A window lasts (probes - 1) * spacing plus the last answer's round trip, and at
// most answer_timeout more when answers are missing; 1,500 targets at the defaults (16 probes,
// 20 ms, 64 at a time) take about 24 windows of a third of a second.
// Not thread-safe: one burst at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/location/udp_socket.h"
#include "provenance/v1/location.pb.h"

namespace prov::landmark {

struct BurstOptions {
  uint32_t probes = 16;
  absl::Duration spacing = absl::Milliseconds(20);
  absl::Duration answer_timeout = absl::Seconds(1);
  size_t concurrency = 64;  // targets probed at once (BurstMany)
};

inline constexpr size_t kMaxInvalidSamples = 4;

class Prober {
 public:
  using NonceSource = std::function<std::string()>;  // 16 bytes per call
  Prober(location::UdpSocket socket, std::string landmark_id, std::string secret_key,
         uint64_t seq_base, NonceSource nonces = nullptr);

  // INVALID_ARGUMENT when the target's address or id is unusable; the burst itself never fails
  // (a silent target gives answers_valid = 0).
  absl::StatusOr<provenance::v1::Measurement> Burst(const provenance::v1::ProbeTarget& target,
                                                    const BurstOptions& options);
  // Bursts to many targets at once, `options.concurrency` at a time on the one socket (answers
  // are told apart by source address and nonce): probe k goes to every target of a window at
  // start + k * spacing. One result per target, in order.
  std::vector<absl::StatusOr<provenance::v1::Measurement>> BurstMany(
      const std::vector<provenance::v1::ProbeTarget>& targets, const BurstOptions& options);
  const location::UdpSocket& socket() const { return socket_; }
  // Byte-identical repeats of accepted answers, since the Prober was made.
  uint64_t duplicate_answers() const { return duplicate_answers_; }

 private:
  struct TargetRun;
  absl::StatusOr<TargetRun> Prepare(const provenance::v1::ProbeTarget& target, size_t index,
                                    const BurstOptions& options);
  void RunWindow(std::vector<TargetRun>& runs, const BurstOptions& options);
  provenance::v1::Measurement Evaluate(const provenance::v1::ProbeTarget& target, TargetRun& run,
                                       const BurstOptions& options);

  location::UdpSocket socket_;
  std::string landmark_id_;
  std::string secret_key_;
  uint64_t seq_base_;
  NonceSource nonces_;
  std::map<std::string, uint64_t> next_seq_;  // per target id
  uint64_t duplicate_answers_ = 0;
};

// 16 bytes from OpenSSL's CSPRNG.
std::string RandomNonce();

}  // namespace prov::landmark
