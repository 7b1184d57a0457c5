#include "tools/prov-landmark/record_signer.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/fs.h"
#include "common/location/probe_sig.h"

namespace prov::landmark {

absl::StatusOr<RecordSigner> RecordSigner::Open(std::string landmark_id, std::string secret_key,
                                                std::string state_file, const Clock& clock) {
  if (secret_key.size() != 64) {
    return absl::InvalidArgumentError("landmark secret key must be 64 bytes");
  }
  uint64_t last = 0;
  auto text = ReadFileToString(state_file, 4096);
  if (text.ok()) {
    absl::string_view v = absl::StripAsciiWhitespace(*text);
    if (!absl::ConsumePrefix(&v, "landmark_seq ") || !absl::SimpleAtoi(v, &last)) {
      return absl::InvalidArgumentError(
          absl::StrCat(state_file,
                       ": not \"landmark_seq <n>\" (fix or restore it; starting over at 0 would "
                       "make provd refuse every record as a replay)"));
    }
  } else if (!absl::IsNotFound(text.status())) {
    return text.status();
  }
  return RecordSigner(std::move(landmark_id), std::move(secret_key), std::move(state_file), clock,
                      last);
}

absl::StatusOr<provenance::v1::SignedMeasurement> RecordSigner::Sign(
    provenance::v1::Measurement measurement) {
  const uint64_t seq = last_seq_ + 1;
  if (auto s = WriteFileAtomically(state_file_, absl::StrCat("landmark_seq ", seq, "\n"),
                                   /*sync=*/true);
      !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("landmark state file: ", s.message()));
  }
  last_seq_ = seq;
  measurement.set_landmark_id(landmark_id_);
  measurement.set_landmark_seq(seq);
  const absl::Time now = clock_->Now();
  const int64_t nanos = absl::ToUnixNanos(now);
  measurement.mutable_measured_at()->set_seconds(nanos / 1'000'000'000);
  measurement.mutable_measured_at()->set_nanos(static_cast<int32_t>(nanos % 1'000'000'000));
  provenance::v1::SignedMeasurement record;
  if (!measurement.SerializeToString(record.mutable_measurement())) {
    return absl::InternalError("serializing the measurement failed");
  }
  record.set_landmark_signature(location::SignEd25519Raw(
      secret_key_, location::MeasurementSigningMessage(record.measurement())));
  return record;
}

}  // namespace prov::landmark
