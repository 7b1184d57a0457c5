// RecordSigner: turns a burst's Measurement into a SignedMeasurement for provd: stamps the
// landmark id, the next landmark_seq and measured_at (wall clock, injected), serializes it once and
// signs SignEd25519Raw(secret, MeasurementSigningMessage(bytes)).
//
//   PROV_ASSIGN_OR_RETURN(auto signer, RecordSigner::Open("lm-fra-1", key.secret_key,
//                                                         "/var/lib/prov-landmark/seq", clock));
//   PROV_ASSIGN_OR_RETURN(SignedMeasurement record, signer.Sign(std::move(measurement)));
//
// landmark_seq rises across restarts: the state file ("landmark_seq <n>\n") is rewritten
// atomically (temporary file, fsync, rename) before a record with that seq leaves Sign(), so a
// crash can skip numbers but never reuse one. A missing state file starts at 0; an unreadable or
// malformed one is an error naming the file (starting again at 0 would make provd refuse every
// record as a replay). Not thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "provenance/v1/location.pb.h"

namespace prov::landmark {

class RecordSigner {
 public:
  static absl::StatusOr<RecordSigner> Open(std::string landmark_id, std::string secret_key,
                                           std::string state_file, const Clock& clock);

  absl::StatusOr<provenance::v1::SignedMeasurement> Sign(provenance::v1::Measurement measurement);
  uint64_t last_seq() const { return last_seq_; }

 private:
  RecordSigner(std::string landmark_id, std::string secret_key, std::string state_file,
               const Clock& clock, uint64_t last_seq)
      : landmark_id_(std::move(landmark_id)),
        secret_key_(std::move(secret_key)),
        state_file_(std::move(state_file)),
        clock_(&clock),
        last_seq_(last_seq) {}
  std::string landmark_id_;
  std::string secret_key_;
  std::string state_file_;
  const Clock* clock_;
  uint64_t last_seq_;
};

}  // namespace prov::landmark
