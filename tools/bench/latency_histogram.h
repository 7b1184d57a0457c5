// LatencyHistogram: lock-free log-bucketed latency histogram for ack latencies.
//
//   LatencyHistogram h;
//   h.Record(absl::Milliseconds(3));      // from any thread
//   absl::Duration p99 = h.Percentile(99);  // upper edge of the bucket, within ~5 %
//   h.Max(); h.Count();
//
// Buckets grow by 5 % from 1 us to beyond 100 s, so a percentile is never reported lower than the
// true value and at most 5 % above it. Max is exact. Thread-safety: Record is safe from any thread;
// read the figures after the recorders are done (reads are racy but never undefined).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "absl/time/time.h"

namespace prov::bench {

class LatencyHistogram {
 public:
  static constexpr int kBuckets = 400;

  void Record(absl::Duration latency);
  uint64_t Count() const;
  // percentile in (0, 100]; zero duration when empty.
  absl::Duration Percentile(double percentile) const;
  absl::Duration Max() const;

 private:
  static int BucketFor(int64_t micros);
  static int64_t BucketUpperMicros(int bucket);

  std::array<std::atomic<uint64_t>, kBuckets> counts_{};
  std::atomic<int64_t> max_micros_{0};
};

}  // namespace prov::bench
