// Location probe datagrams (issue 11): what any host can send to an agent's UDP responder or a
// landmark's prober. ParseProbe and ParseAnswer (common/location/probe_wire.h) on the raw bytes;
// a datagram that parses must re-encode to the same bytes. Then the responder's whole decision
// (agent/location/probe_handler.h) on the same bytes, with one configured landmark and limits
// high enough never to cut the fuzzer off; a datagram that parses as a probe is also re-signed
// with that landmark's key and handled again, so the verify-and-sign path is reached too.
#include <cstdint>
#include <cstdlib>

#include "absl/strings/string_view.h"
#include "agent/location/probe_handler.h"
#include "common/clock.h"
#include "common/integrity/ed25519.h"
#include "common/location/probe_sig.h"
#include "common/location/probe_wire.h"
#include "common/node_key.h"

namespace {

const prov::integrity::SigningKey& LandmarkKey() {
  static const prov::integrity::SigningKey key = [] {
    auto k = prov::integrity::SigningKeyFromSeed(std::string(32, '\x11'));
    if (!k.ok()) std::abort();
    return *k;
  }();
  return key;
}

prov::agent::ProbeHandler& Handler() {
  static prov::agent::ProbeHandler* handler = [] {
    auto pem = prov::GenerateNodeKeyPem();
    auto signer = prov::agent::NodeKeyAnswerSigner::FromKeyPem(*pem);
    if (!signer.ok()) std::abort();
    prov::agent::ProbeHandlerOptions options;
    options.self_id = "gpu-017";
    options.landmark_keys = {{"lm-fra-1", LandmarkKey().public_key}};
    options.limits = {.per_source_rate = 1e12,
                      .per_source_burst = 1e12,
                      .global_rate = 1e12,
                      .global_burst = 1e12,
                      .max_sources = 16};
    return new prov::agent::ProbeHandler(std::move(options), std::move(*signer),
                                         prov::agent::SteadyClock::Get());
  }();
  return *handler;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  if (auto probe = prov::location::ParseProbe(bytes); probe.ok()) {
    auto again = prov::location::EncodeProbe(*probe);
    if (!again.ok() || *again != bytes) std::abort();
    probe->signature = prov::location::SignEd25519Raw(
        LandmarkKey().secret_key, prov::location::ProbeMessage(probe->nonce, probe->landmark_id,
                                                               probe->target_id, probe->seq));
    if (auto signed_probe = prov::location::EncodeProbe(*probe); signed_probe.ok()) {
      auto answer = Handler().Handle(*signed_probe, "192.0.2.2");
      if (probe->landmark_id == "lm-fra-1" && probe->target_id == "gpu-017" &&
          (!answer.has_value() || !prov::location::ParseAnswer(*answer).ok())) {
        std::abort();  // a correctly signed probe for this node must get a well-formed answer
      }
    }
  }
  if (auto answer = prov::location::ParseAnswer(bytes); answer.ok()) {
    auto again = prov::location::EncodeAnswer(*answer);
    if (!again.ok() || *again != bytes) std::abort();
  }
  (void)Handler().Handle(bytes, "192.0.2.1");
  return 0;
}
