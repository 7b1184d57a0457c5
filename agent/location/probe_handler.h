// ProbeHandler: the responder's decision for one datagram, without sockets or threads (the
// Responder feeds it; tests and the benchmark call it directly).
//
//   ProbeHandler handler({.self_id = "gpu-017", .landmark_keys = keys, .limits = {}},
//                        std::move(signer), SteadyClock::Get());
//   std::optional<std::string> answer = handler.Handle(datagram_bytes, "10.0.0.5");
//   handler.SetSigner(std::move(renewed_signer));   // after a certificate renewal (new key)
//
// Order of checks, cheapest first: the source host's rate bucket -> strict parse
// (common/location/probe_wire.h) -> the landmark is configured -> the target id is this node ->
// the verify budget (a global bucket for signature checks) -> the landmark's Ed25519 signature
// over ProbeMessage verifies -> the global answer bucket, charged only now, so junk and forged
// probes from many sources cannot use up the answers real landmarks' probes need. Only then is
// AnswerMessage(nonce, landmark, self_id, seq) signed and the answer datagram returned. Every
// refusal is counted by reason and nothing of the probe is kept. Counters(), SetLandmarkKeys()
// and SetSigner() are thread-safe (an answer being signed while the signer is swapped finishes
// with the old one); Handle() is called by one thread at a time. The clock should be monotonic
// (SteadyClock, rate_limiter.h).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "agent/location/answer_signer.h"
#include "agent/location/landmark_keys.h"
#include "agent/location/rate_limiter.h"
#include "common/clock.h"

namespace prov::agent {

struct ResponderCounters {
  uint64_t answered = 0;
  uint64_t refused_malformed = 0;
  uint64_t refused_unknown_landmark = 0;
  uint64_t refused_bad_signature = 0;
  uint64_t refused_wrong_target = 0;
  uint64_t rate_limited_source = 0;
  uint64_t rate_limited_global = 0;  // the answer budget (probes whose signature verified)
  uint64_t rate_limited_verify = 0;  // the signature-check budget
  uint64_t sign_failures = 0;        // the signer returned nothing (OpenSSL failure)
  uint64_t send_errors = 0;          // sendto failed (Responder only)
};

struct ProbeHandlerOptions {
  std::string self_id;         // node id (or landmark id): the only target id answered
  LandmarkKeys landmark_keys;  // whose probes are answered
  RateLimits limits;
};

class ProbeHandler {
 public:
  ProbeHandler(ProbeHandlerOptions options, std::unique_ptr<AnswerSigner> signer,
               const Clock& clock);

  std::optional<std::string> Handle(absl::string_view datagram, const std::string& source);
  ResponderCounters Counters() const;
  void SetLandmarkKeys(LandmarkKeys keys);
  // Answers from now on are signed by `signer` (a null one is ignored).
  void SetSigner(std::unique_ptr<AnswerSigner> signer);

 private:
  struct AtomicCounters {
    std::atomic<uint64_t> answered{0}, malformed{0}, unknown_landmark{0}, bad_signature{0},
        wrong_target{0}, limited_source{0}, limited_global{0}, limited_verify{0}, sign_failures{0};
  };
  const std::string self_id_;
  RateLimiter limiter_;
  // std::mutex rather than absl::Mutex: ThreadSanitizer sees pthread mutexes, not Debian's
  // prebuilt (uninstrumented) Abseil, and this lock is the only one the responder thread shares.
  mutable std::mutex keys_mu_;
  LandmarkKeys keys_;                           // guarded by keys_mu_
  std::shared_ptr<const AnswerSigner> signer_;  // guarded by keys_mu_
  AtomicCounters counters_;
};

}  // namespace prov::agent
