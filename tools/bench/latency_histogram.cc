#include "tools/bench/latency_histogram.h"

#include <algorithm>
#include <cmath>

namespace prov::bench {
namespace {
constexpr double kGrowth = 1.05;
}  // namespace

int LatencyHistogram::BucketFor(int64_t micros) {
  if (micros <= 1) return 0;
  const int b =
      static_cast<int>(std::ceil(std::log(static_cast<double>(micros)) / std::log(kGrowth)));
  // Guard against rounding: the bucket's upper edge must be >= the value.
  int bucket = std::clamp(b, 0, kBuckets - 1);
  while (bucket + 1 < kBuckets && BucketUpperMicros(bucket) < micros) ++bucket;
  return bucket;
}

int64_t LatencyHistogram::BucketUpperMicros(int bucket) {
  return static_cast<int64_t>(std::ceil(std::pow(kGrowth, bucket)));
}

void LatencyHistogram::Record(absl::Duration latency) {
  const int64_t micros = std::max<int64_t>(0, absl::ToInt64Microseconds(latency));
  counts_[BucketFor(micros)].fetch_add(1, std::memory_order_relaxed);
  int64_t seen = max_micros_.load(std::memory_order_relaxed);
  while (micros > seen &&
         !max_micros_.compare_exchange_weak(seen, micros, std::memory_order_relaxed)) {
  }
}

uint64_t LatencyHistogram::Count() const {
  uint64_t n = 0;
  for (const auto& c : counts_) n += c.load(std::memory_order_relaxed);
  return n;
}

absl::Duration LatencyHistogram::Percentile(double percentile) const {
  const uint64_t total = Count();
  if (total == 0) return absl::ZeroDuration();
  const double rank = std::ceil(percentile / 100.0 * static_cast<double>(total));
  const uint64_t target = std::max<uint64_t>(1, static_cast<uint64_t>(rank));
  uint64_t seen = 0;
  for (int b = 0; b < kBuckets; ++b) {
    seen += counts_[b].load(std::memory_order_relaxed);
    if (seen >= target) {
      if (b == kBuckets - 1) return Max();  // the overflow bucket has no upper edge
      // Never above the exact maximum.
      return absl::Microseconds(std::min(BucketUpperMicros(b), max_micros_.load()));
    }
  }
  return Max();
}

absl::Duration LatencyHistogram::Max() const {
  return absl::Microseconds(max_micros_.load(std::memory_order_relaxed));
}

}  // namespace prov::bench
