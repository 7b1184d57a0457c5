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
  uint64_t seq = 0;
  Steady::time_point sent;
  bool seen = false;      // a datagram with this nonce came back (ends the window early)
  bool answered = false;  // a valid answer was counted for it
};

struct Received {
  std::string bytes;
  Steady::time_point at;
};

constexpr size_t kNonceOffset = 4 + 1 + 1;  // magic, version, kind (probe_wire.h)

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

// One target of a window: its probes (signed before the window starts) and what came back.
struct Prober::TargetRun {
  size_t index;  // into the caller's targets
  location::UdpAddress address;
  std::vector<std::string> datagrams;              // probe k, encoded
  std::map<std::string, Outstanding> outstanding;  // nonce -> probe
  std::vector<Received> received;
  uint32_t sent = 0;
};

absl::StatusOr<pb::Measurement> Prober::Burst(const pb::ProbeTarget& target,
                                              const BurstOptions& options) {
  return std::move(BurstMany({target}, options)[0]);
}

std::vector<absl::StatusOr<pb::Measurement>> Prober::BurstMany(
    const std::vector<pb::ProbeTarget>& targets, const BurstOptions& options) {
  std::vector<absl::StatusOr<pb::Measurement>> results(targets.size(),
                                                       absl::InternalError("not probed"));
  const size_t window = std::max<size_t>(1, options.concurrency);
  for (size_t begin = 0; begin < targets.size(); begin += window) {
    const size_t end = std::min(targets.size(), begin + window);
    std::vector<TargetRun> runs;
    for (size_t i = begin; i < end; ++i) {
      absl::StatusOr<TargetRun> run = Prepare(targets[i], i, options);
      if (run.ok()) {
        runs.push_back(std::move(*run));
      } else {
        results[i] = run.status();
      }
    }
    if (runs.empty()) continue;
    RunWindow(runs, options);
    for (TargetRun& run : runs) {
      results[run.index] = Evaluate(targets[run.index], run, options);
    }
  }
  return results;
}

absl::StatusOr<Prober::TargetRun> Prober::Prepare(const pb::ProbeTarget& target, size_t index,
                                                  const BurstOptions& options) {
  if (auto s = location::ValidateWireId(target.target_id(), "target id"); !s.ok()) return s;
  // Numeric only (udp_socket.h): a target advertising a host name is an error, never a DNS
  // lookup that could stall the round.
  auto address = location::ResolveUdpAddress(target.udp_address());
  if (address.ok() && location::IsWildcardAddress(target.udp_address())) {
    address = absl::InvalidArgumentError(
        absl::StrCat("address '", target.udp_address(), "' is a wildcard, not a target"));
  }
  if (!address.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("target ", target.target_id(), ": ", address.status().message()));
  }
  if (target.kind() != pb::PROBE_TARGET_KIND_NODE &&
      target.kind() != pb::PROBE_TARGET_KIND_LANDMARK) {
    return absl::InvalidArgumentError(
        absl::StrCat("target ", target.target_id(), ": unknown target kind"));
  }
  TargetRun run{index, *address, {}, {}, {}, 0};
  uint64_t& seq = next_seq_.try_emplace(target.target_id(), seq_base_).first->second;
  for (uint32_t k = 0; k < options.probes; ++k) {
    location::ProbeDatagram probe{nonces_(), ++seq, landmark_id_, target.target_id(), {}};
    probe.signature = location::SignEd25519Raw(
        secret_key_,
        location::ProbeMessage(probe.nonce, probe.landmark_id, probe.target_id, probe.seq));
    auto bytes = location::EncodeProbe(probe);
    if (!bytes.ok()) return bytes.status();
    run.outstanding[probe.nonce] = Outstanding{probe.seq, {}};
    run.datagrams.push_back(std::move(*bytes));
  }
  return run;
}

// Sends probe k to every target of the window at start + k * spacing, reads everything that
// comes back (timestamped at once; checked later), and stops when every probe had an answer with
// its nonce or answer_timeout after the last probe.
void Prober::RunWindow(std::vector<TargetRun>& runs, const BurstOptions& options) {
  // Drop anything left over from an earlier window before this one starts.
  while (true) {
    auto stale = socket_.Receive(absl::ZeroDuration());
    if (!stale.ok() || !stale->has_value()) break;
  }
  std::map<std::string, size_t> by_address;  // "host:port" -> first run with that address
  std::map<std::string, size_t> by_nonce;    // nonce -> run
  size_t total = 0;
  for (size_t r = 0; r < runs.size(); ++r) {
    by_address.try_emplace(runs[r].address.ToString(), r);
    for (const auto& [nonce, unused] : runs[r].outstanding) by_nonce[nonce] = r;
    total += runs[r].datagrams.size();
  }
  size_t seen = 0;  // probes with an answer carrying their nonce
  auto read_one = [&](absl::Duration wait) {
    auto got = socket_.Receive(wait);
    const Steady::time_point at = Steady::now();
    if (!got.ok() || !got->has_value()) return false;
    auto it = by_address.find((*got)->from.ToString());
    if (it == by_address.end()) return true;  // not a target: not an answer
    size_t r = it->second;
    auto answer = location::ParseAnswer((*got)->bytes);
    if (answer.ok()) {
      // Several targets behind one address: the answer's nonce says whose it is.
      if (auto n = by_nonce.find(answer->nonce);
          n != by_nonce.end() && runs[n->second].address == (*got)->from) {
        r = n->second;
        Outstanding& o = runs[r].outstanding[answer->nonce];
        if (!o.seen) {
          o.seen = true;
          ++seen;
        }
      }
    }
    runs[r].received.push_back(Received{std::move((*got)->bytes), at});
    return true;
  };

  const auto spacing = absl::ToChronoMicroseconds(options.spacing);
  const auto timeout = absl::ToChronoMicroseconds(options.answer_timeout);
  Steady::time_point next_send = Steady::now();
  Steady::time_point deadline = next_send;
  for (uint32_t k = 0; k < options.probes;) {
    const Steady::time_point now = Steady::now();
    if (now < next_send) {
      read_one(ToAbsl(next_send - now));
      continue;
    }
    for (TargetRun& run : runs) {
      const std::string& bytes = run.datagrams[k];
      const Steady::time_point at = Steady::now();
      (void)socket_.SendTo(bytes, run.address);  // a lost probe is a lost answer, nothing more
      // The nonce sits at a fixed offset of the probe datagram (probe_wire.h).
      run.outstanding[bytes.substr(kNonceOffset, location::kNonceSize)].sent = at;
      ++run.sent;
      while (read_one(absl::ZeroDuration())) {
      }
    }
    const Steady::time_point last = Steady::now();
    next_send = last + spacing;
    deadline = last + timeout;
    ++k;
  }
  while (seen < total) {
    const Steady::time_point now = Steady::now();
    if (now >= deadline) break;
    read_one(ToAbsl(deadline - now));
  }
}

pb::Measurement Prober::Evaluate(const pb::ProbeTarget& target, TargetRun& run,
                                 const BurstOptions& options) {
  const bool node = target.kind() == pb::PROBE_TARGET_KIND_NODE;
  pb::Measurement m;
  m.set_landmark_id(landmark_id_);
  m.set_target_kind(target.kind());
  m.set_target_id(target.target_id());
  m.set_probes_sent(run.sent);
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
  std::map<std::string, Outstanding>& outstanding = run.outstanding;
  std::map<std::string, const std::string*> accepted;  // nonce -> the datagram that answered it
  for (const Received& r : run.received) {
    auto answer = location::ParseAnswer(r.bytes);
    if (!answer.ok()) {
      refuse("malformed", nullptr, 0);
      continue;
    }
    // The network (or the target's stack) delivered an accepted answer twice: not a second
    // answer, not evidence of anything. Counted apart, never a sample.
    if (auto a = accepted.find(answer->nonce); a != accepted.end() && *a->second == r.bytes) {
      ++duplicate_answers_;
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
    accepted[answer->nonce] = &r.bytes;
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
