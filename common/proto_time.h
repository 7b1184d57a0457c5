// absl::Time <-> google.protobuf.Timestamp, at microsecond precision (what every stored time has).
//
//   absl::Time collected = prov::FromProtoTime(report.collected_at());
//   prov::SetProtoTime(clock.Now(), response->mutable_loaded_at());
//
// SetProtoTime floors to the second below, so a time before the epoch gets nanos in [0, 1e9) as
// Timestamp requires.
#pragma once

#include <cstdint>

#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"

namespace prov {

inline absl::Time FromProtoTime(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

inline void SetProtoTime(absl::Time t, google::protobuf::Timestamp* ts) {
  const int64_t us = absl::ToUnixMicros(t);
  int64_t seconds = us / 1'000'000;
  int64_t rest = us % 1'000'000;
  if (rest < 0) {
    rest += 1'000'000;
    --seconds;
  }
  ts->set_seconds(seconds);
  ts->set_nanos(static_cast<int32_t>(rest * 1000));
}

}  // namespace prov
