#include "tools/prov-landmark/prober.h"

#include <openssl/rand.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/location/probe_sig.h"
#include "common/location/probe_wire.h"

namespace prov::landmark {
namespace {

using Steady = std::chrono::steady_clock;
namespace pb = provenance::v1;

struct Outstanding {
  uint64_t seq;
  Steady::time_point sent;
  bool answered = false;
};

struct Received {
  std::string bytes;
  Steady::time_point at;
};

double Ms(Steady::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

absl::Duration ToAbsl(Steady::duration d) { return absl::FromChrono(d); }

}  // namespace

std::string RandomNonce() {
  std::string nonce(location::kNonceSize, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(nonce.data()), static_cast<int>(nonce.size())) !=
      1) {
    std::abort();  // no randomness: probing with guessable nonces would prove nothing
  }
  return nonce;
}

Prober::Prober(location::UdpSocket socket, std::string landmark_id, std::string secret_key,
               uint64_t seq_base, NonceSource nonces)
    : socket_(std::move(socket)),
      landmark_id_(std::move(landmark_id)),
      secret_key_(std::move(secret_key)),
      seq_base_(seq_base),
      nonces_(nonces ? std::move(nonces) : NonceSource(RandomNonce)) {}

absl::StatusOr<pb::Measurement> Prober::Burst(const pb::ProbeTarget& target,
                                              const BurstOptions& options) {
  if (auto s = location::ValidateWireId(target.target_id(), "target id"); !s.ok()) return s;
  auto address = location::ResolveUdpAddress(target.udp_address());
  if (!address.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("target ", target.target_id(), ": ", address.status().message()));
  }
  const bool node = target.kind() == pb::PROBE_TARGET_KIND_NODE;
  if (!node && target.kind() != pb::PROBE_TARGET_KIND_LANDMARK) {
    return absl::InvalidArgumentError(
        absl::StrCat("target ", target.target_id(), ": unknown target kind"));
  }
  // Drop anything left over from an earlier burst before this one starts.
  while (true) {
    auto stale = socket_.Receive(absl::ZeroDuration());
    if (!stale.ok() || !stale->has_value()) break;
  }

  uint64_t& seq = next_seq_.try_emplace(target.target_id(), seq_base_).first->second;
  std::map<std::string, Outstanding> outstanding;  // nonce -> probe
  std::vector<Received> received;
  const auto spacing = absl::ToChronoMicroseconds(options.spacing);
  Steady::time_point next_send = Steady::now();
  Steady::time_point deadline = next_send;
  uint32_t sent = 0;
  while (true) {
    const Steady::time_point now = Steady::now();
    if (sent < options.probes && now >= next_send) {
      location::ProbeDatagram probe{nonces_(), ++seq, landmark_id_, target.target_id(), {}};
      probe.signature = location::SignEd25519Raw(
          secret_key_,
          location::ProbeMessage(probe.nonce, probe.landmark_id, probe.target_id, probe.seq));
      auto bytes = location::EncodeProbe(probe);
      if (!bytes.ok()) return bytes.status();
      const Steady::time_point at = Steady::now();
      (void)socket_.SendTo(*bytes, *address);  // a lost probe is a lost answer, nothing more
      outstanding[probe.nonce] = Outstanding{probe.seq, at};
      ++sent;
      next_send = at + spacing;
      deadline = at + absl::ToChronoMicroseconds(options.answer_timeout);
      continue;
    }
    if (sent == options.probes && now >= deadline) break;
    const Steady::time_point wake = sent < options.probes ? next_send : deadline;
    auto got = socket_.Receive(ToAbsl(wake - now));
    const Steady::time_point at = Steady::now();
    if (!got.ok() || !got->has_value()) continue;
    if (!((*got)->from == *address)) continue;  // not the target: not its answer
    received.push_back(Received{std::move((*got)->bytes), at});
  }

  pb::Measurement m;
  m.set_landmark_id(landmark_id_);
  m.set_target_kind(target.kind());
  m.set_target_id(target.target_id());
  m.set_probes_sent(sent);
  m.set_target_public_key(target.public_key());
  std::vector<double> valid_rtts;
  uint32_t invalid = 0;
  auto refuse = [&](absl::string_view reason, const location::AnswerDatagram* answer, double rtt) {
    ++invalid;
    if (m.invalid_samples_size() >= static_cast<int>(kMaxInvalidSamples)) return;
    pb::InvalidAnswer* sample = m.add_invalid_samples();
    sample->set_reason(std::string(reason));
    if (answer != nullptr) {
      sample->mutable_answer()->set_nonce(answer->nonce);
      sample->mutable_answer()->set_seq(answer->seq);
      sample->mutable_answer()->set_signature(answer->signature);
      sample->mutable_answer()->set_rtt_ms(rtt);
    }
  };
  for (const Received& r : received) {
    auto answer = location::ParseAnswer(r.bytes);
    if (!answer.ok()) {
      refuse("malformed", nullptr, 0);
      continue;
    }
    if (answer->landmark_id != landmark_id_ || answer->target_id != target.target_id()) {
      refuse("wrong_target", &*answer, 0);
      continue;
    }
    auto it = outstanding.find(answer->nonce);
    if (it == outstanding.end() || it->second.answered || it->second.seq != answer->seq) {
      refuse("wrong_nonce", &*answer, 0);
      continue;
    }
    const double rtt = Ms(r.at - it->second.sent);
    const std::string message =
        location::AnswerMessage(answer->nonce, landmark_id_, target.target_id(), answer->seq);
    const bool verified =
        node ? location::VerifyNodeAnswer(target.public_key(), message, answer->signature)
             : location::VerifyEd25519Raw(target.public_key(), message, answer->signature);
    if (!verified) {
      refuse("bad_signature", &*answer, rtt);
      continue;
    }
    it->second.answered = true;
    if (r.at - it->second.sent > absl::ToChronoMicroseconds(options.answer_timeout)) {
      refuse("late", &*answer, rtt);
      continue;
    }
    if (valid_rtts.empty() || rtt < m.rtt_min_ms()) {
      m.set_rtt_min_ms(rtt);
      pb::ProbeAnswer* min = m.mutable_min_answer();
      min->set_nonce(answer->nonce);
      min->set_seq(answer->seq);
      min->set_signature(answer->signature);
      min->set_rtt_ms(rtt);
    }
    valid_rtts.push_back(rtt);
  }
  m.set_answers_valid(static_cast<uint32_t>(valid_rtts.size()));
  m.set_answers_invalid(invalid);
  if (!valid_rtts.empty()) {
    std::sort(valid_rtts.begin(), valid_rtts.end());
    const size_t n = valid_rtts.size();
    m.set_rtt_median_ms(n % 2 == 1 ? valid_rtts[n / 2]
                                   : (valid_rtts[n / 2 - 1] + valid_rtts[n / 2]) / 2);
  }
  return m;
}

}  // namespace prov::landmark
