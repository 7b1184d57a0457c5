// ProbeHandler: the responder's decision for one datagram, without sockets or threads (the
// Responder feeds it; tests and the benchmark call it directly).
//
//   ProbeHandler handler({.self_id = "gpu-017", .landmark_keys = keys, .limits = {}},
//                        std::move(signer), clock);
//   std::optional<std::string> answer = handler.Handle(datagram_bytes, "10.0.0.5");
//
// Order of checks, cheapest first: rate limits (per source host, then global) -> strict parse
// (common/location/probe_wire.h) -> the landmark is configured -> the target id is this node ->
// the landmark's Ed25519 signature over ProbeMessage verifies. Only then is
// AnswerMessage(nonce, landmark, self_id, seq) signed and the answer datagram returned. Every
// refusal is counted by reason and nothing of the probe is kept. Counters() and
// SetLandmarkKeys() are thread-safe; Handle() is called by one thread at a time.
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
  uint64_t rate_limited_global = 0;
  uint64_t sign_failures = 0;  // the signer returned nothing (OpenSSL failure)
  uint64_t send_errors = 0;    // sendto failed (Responder only)
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

 private:
  struct AtomicCounters {
    std::atomic<uint64_t> answered{0}, malformed{0}, unknown_landmark{0}, bad_signature{0},
        wrong_target{0}, limited_source{0}, limited_global{0}, sign_failures{0};
  };
  const std::string self_id_;
  std::unique_ptr<AnswerSigner> signer_;
  RateLimiter limiter_;
  // std::mutex rather than absl::Mutex: ThreadSanitizer sees pthread mutexes, not Debian's
  // prebuilt (uninstrumented) Abseil, and this lock is the only one the responder thread shares.
  mutable std::mutex keys_mu_;
  LandmarkKeys keys_;  // guarded by keys_mu_
  AtomicCounters counters_;
};

}  // namespace prov::agent
