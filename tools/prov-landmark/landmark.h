// Landmark: one prov-landmark round. GetAssignment -> the landmark targets' keys go to this
// landmark's own responder (landmarks probe each other both ways, so whoever this one probes
// also probes it) -> bursts to all targets, 64 at a time (Prober::BurstMany) -> each Measurement
// signed -> SubmitMeasurements.
//
//   Landmark landmark(client, prober, signer, responder.get() /* may be null */, extra_keys,
//                     answer_timeout);
//   PROV_ASSIGN_OR_RETURN(RoundSummary round, landmark.RunRound());
//   absl::SleepFor(round.interval);
//
// A target that cannot be probed (bad address) is logged (common/log) and skipped; its record is
// not sent.
// Not thread-safe: the main thread runs rounds.
#pragma once

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/location/landmark_keys.h"
#include "agent/location/responder.h"
#include "tools/prov-landmark/gateway_client.h"
#include "tools/prov-landmark/prober.h"
#include "tools/prov-landmark/record_signer.h"

namespace prov::landmark {

struct RoundSummary {
  size_t targets = 0;
  size_t skipped = 0;       // not probed: unusable address or id
  uint64_t duplicates = 0;  // byte-identical repeats of accepted answers (Prober), not counted
  SubmitSummary submitted;
  absl::Duration interval = absl::Seconds(60);  // from the assignment
};

class Landmark {
 public:
  Landmark(GatewayClient& client, Prober& prober, RecordSigner& signer, agent::Responder* responder,
           agent::LandmarkKeys extra_keys, absl::Duration answer_timeout)
      : client_(client),
        prober_(prober),
        signer_(signer),
        responder_(responder),
        extra_keys_(std::move(extra_keys)),
        answer_timeout_(answer_timeout) {}

  absl::StatusOr<RoundSummary> RunRound(const std::string& landmark_id);

 private:
  GatewayClient& client_;
  Prober& prober_;
  RecordSigner& signer_;
  agent::Responder* responder_;
  agent::LandmarkKeys extra_keys_;
  absl::Duration answer_timeout_;
};

}  // namespace prov::landmark
