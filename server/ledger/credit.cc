#include "server/ledger/credit.h"

#include <algorithm>

namespace prov::server {

Credit CreditReport(const StreamCredit& stream, const CreditInput& in,
                    const CreditOptions& options) {
  constexpr int64_t kMicros = 1'000'000;
  const int64_t interval_us = static_cast<int64_t>(in.interval_seconds) * kMicros;
  const int64_t r = options.report_clock ? in.collected_us : in.received_us;
  const int64_t max_lag_us = absl::ToInt64Microseconds(options.max_report_lag);
  Credit credit;
  credit.clock_bound = in.collected_us > r;
  int64_t start = 0;
  int64_t end = 0;
  bool stale_boot = false;
  if (stream.credited_until_us == 0 && in.node_credited_until_us == 0) {
    // A node never credited: its claimed interval, ending at its timestamp as provd allows.
    end = std::min(in.collected_us, r);
    if (end < r - max_lag_us) {
      end = r - max_lag_us;
      credit.lag_floor = true;
    }
    start = end - interval_us;
  } else {
    // A new boot continues from the node's horizon and is the newest; the newest boot may not
    // trail provd's clock by more than max_report_lag. An older boot replaying its spool gets its
    // own timestamps, bounded by provd's clock and by the newest boot's start.
    const bool fresh = stream.credited_until_us == 0;
    start = fresh ? in.node_credited_until_us : stream.credited_until_us;
    // A boot provd first hears of with a report older than the node's horizon is an old one
    // (its time is credited already); it never becomes the newest.
    stale_boot = fresh && in.collected_us < in.node_credited_until_us;
    const bool newest = fresh ? !stale_boot : stream.first_credit_us >= in.node_newest_boot_us;
    const int64_t limit = newest ? r : std::min(r, in.node_newest_boot_us);
    end = std::clamp(in.collected_us, start, std::max(start, limit));
    if (newest && end < r - max_lag_us) {
      end = r - max_lag_us;
      credit.lag_floor = true;
    }
  }
  credit.start_us = start;
  credit.end_us = end;
  credit.elapsed_seconds = static_cast<double>(end - start) / kMicros;
  const double claimed = in.interval_seconds;
  if (credit.elapsed_seconds > options.gap_intervals * claimed) {
    credit.observed_seconds = claimed;
    credit.gap_seconds = credit.elapsed_seconds - claimed;
  } else {
    credit.observed_seconds = credit.elapsed_seconds;
  }
  credit.next.credited_until_us = std::max(end, stream.credited_until_us);
  credit.next.last_collected_us = std::max(in.collected_us, stream.last_collected_us);
  if (stream.first_credit_us != 0) {
    credit.next.first_credit_us = stream.first_credit_us;
  } else {
    credit.next.first_credit_us = stale_boot ? in.collected_us - interval_us : start;
  }
  return credit;
}

void ApplyCredit(const Credit& credit, uint32_t interval_seconds, bool continued,
                 WorkloadUsage* usage) {
  const double claimed = interval_seconds > 0 ? interval_seconds : 1;
  const double covered = continued ? credit.elapsed_seconds : credit.observed_seconds;
  const double rate_seconds = usage->accelerator_seconds / claimed;  // accelerators in use
  usage->gap_seconds = continued ? credit.gap_seconds * rate_seconds : 0;
  usage->accelerator_seconds = covered * rate_seconds;
  usage->flop_low = covered * (usage->flop_low / claimed);
  usage->flop_high = credit.elapsed_seconds * (usage->flop_high / claimed);
  if (credit.gap_seconds > 0 && usage->accelerator_count > 0) {
    usage->method = MergeMethods(usage->method, kMethodEvidenceGap);
  }
}

}  // namespace prov::server
