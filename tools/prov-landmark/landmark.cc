#include "tools/prov-landmark/landmark.h"

#include <vector>

#include "common/log/log.h"

namespace prov::landmark {

namespace pb = provenance::v1;

absl::StatusOr<RoundSummary> Landmark::RunRound(const std::string& landmark_id) {
  auto assignment = client_.GetAssignment(landmark_id);
  if (!assignment.ok()) return assignment.status();
  RoundSummary round;
  if (assignment->round_interval_seconds() > 0) {
    round.interval = absl::Seconds(assignment->round_interval_seconds());
  }
  BurstOptions burst;
  if (assignment->probes_per_burst() > 0) burst.probes = assignment->probes_per_burst();
  if (assignment->probe_spacing_ms() > 0) {
    burst.spacing = absl::Milliseconds(assignment->probe_spacing_ms());
  }
  burst.answer_timeout = answer_timeout_;
  if (responder_ != nullptr) {
    agent::LandmarkKeys keys = extra_keys_;
    for (const pb::ProbeTarget& t : assignment->targets()) {
      if (t.kind() == pb::PROBE_TARGET_KIND_LANDMARK && t.public_key().size() == 32) {
        keys[t.target_id()] = t.public_key();
      }
    }
    responder_->SetLandmarkKeys(std::move(keys));
  }
  const std::vector<pb::ProbeTarget> targets(assignment->targets().begin(),
                                             assignment->targets().end());
  round.targets = targets.size();
  const uint64_t duplicates_before = prober_.duplicate_answers();
  std::vector<absl::StatusOr<pb::Measurement>> measured = prober_.BurstMany(targets, burst);
  round.duplicates = prober_.duplicate_answers() - duplicates_before;
  std::vector<pb::SignedMeasurement> records;
  for (absl::StatusOr<pb::Measurement>& measurement : measured) {
    if (!measurement.ok()) {
      ++round.skipped;
      PROV_LOG_WARN("prov-landmark", "skipping target", {"error", measurement.status()});
      continue;
    }
    auto record = signer_.Sign(std::move(*measurement));
    if (!record.ok()) return record.status();  // cannot persist landmark_seq: stop, do not reuse
    records.push_back(std::move(*record));
  }
  if (records.empty()) return round;
  auto submitted = client_.Submit(records);
  if (!submitted.ok()) return submitted.status();
  round.submitted = std::move(*submitted);
  for (const auto& [index, reason] : round.submitted.refused) {
    PROV_LOG_WARN("prov-landmark", "provd refused a record", {"index", index}, {"reason", reason});
  }
  return round;
}

}  // namespace prov::landmark
