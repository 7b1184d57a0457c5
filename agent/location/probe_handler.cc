#include "agent/location/probe_handler.h"

#include "common/location/probe_sig.h"
#include "common/location/probe_wire.h"

namespace prov::agent {

ProbeHandler::ProbeHandler(ProbeHandlerOptions options, std::unique_ptr<AnswerSigner> signer,
                           const Clock& clock)
    : self_id_(std::move(options.self_id)),
      limiter_(options.limits, clock),
      keys_(std::move(options.landmark_keys)),
      signer_(std::move(signer)) {}

std::optional<std::string> ProbeHandler::Handle(absl::string_view datagram,
                                                const std::string& source) {
  if (!limiter_.AdmitSource(source)) {
    counters_.limited_source.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  auto probe = location::ParseProbe(datagram);
  if (!probe.ok()) {
    counters_.malformed.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  std::string landmark_key;
  std::shared_ptr<const AnswerSigner> signer;
  {
    std::lock_guard<std::mutex> lock(keys_mu_);
    auto it = keys_.find(probe->landmark_id);
    if (it == keys_.end()) {
      counters_.unknown_landmark.fetch_add(1, std::memory_order_relaxed);
      return std::nullopt;
    }
    landmark_key = it->second;
    signer = signer_;
  }
  if (probe->target_id != self_id_) {
    counters_.wrong_target.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  if (!limiter_.AdmitVerify()) {
    counters_.limited_verify.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  if (!location::VerifyEd25519Raw(
          landmark_key,
          location::ProbeMessage(probe->nonce, probe->landmark_id, probe->target_id, probe->seq),
          probe->signature)) {
    counters_.bad_signature.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  if (!limiter_.AdmitAnswer()) {
    counters_.limited_global.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  location::AnswerDatagram answer{
      std::move(probe->nonce), probe->seq, std::move(probe->landmark_id), self_id_, {}};
  answer.signature = signer->Sign(
      location::AnswerMessage(answer.nonce, answer.landmark_id, answer.target_id, answer.seq));
  auto bytes = location::EncodeAnswer(answer);
  if (answer.signature.empty() || !bytes.ok()) {
    counters_.sign_failures.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  counters_.answered.fetch_add(1, std::memory_order_relaxed);
  return std::move(*bytes);
}

ResponderCounters ProbeHandler::Counters() const {
  auto get = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  return ResponderCounters{.answered = get(counters_.answered),
                           .refused_malformed = get(counters_.malformed),
                           .refused_unknown_landmark = get(counters_.unknown_landmark),
                           .refused_bad_signature = get(counters_.bad_signature),
                           .refused_wrong_target = get(counters_.wrong_target),
                           .rate_limited_source = get(counters_.limited_source),
                           .rate_limited_global = get(counters_.limited_global),
                           .rate_limited_verify = get(counters_.limited_verify),
                           .sign_failures = get(counters_.sign_failures)};
}

void ProbeHandler::SetLandmarkKeys(LandmarkKeys keys) {
  std::lock_guard<std::mutex> lock(keys_mu_);
  keys_.swap(keys);  // the old map is freed outside the lock, when `keys` goes
}

void ProbeHandler::SetSigner(std::unique_ptr<AnswerSigner> signer) {
  if (signer == nullptr) return;
  std::shared_ptr<const AnswerSigner> next(std::move(signer));
  std::lock_guard<std::mutex> lock(keys_mu_);
  signer_.swap(next);  // the old signer is freed outside the lock (or by Handle, if it holds it)
}

}  // namespace prov::agent
