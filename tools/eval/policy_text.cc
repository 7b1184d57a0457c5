#include "tools/eval/policy_text.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace prov::eval {

std::string EvalPolicyYaml(const GroundTruth& t, const EvalOptions& o) {
  constexpr const char* kStandIn[] = {"1e24 (early warning)", "1e25 (EU AI Act systemic risk)",
                                      "1e26 (frontier)"};
  constexpr const char* kSeverity[] = {"medium", "high", "critical"};
  std::string out = absl::StrFormat(
      "# EVALUATION policy written by prov-eval-gen (tools/eval). The compute tiers are SCALED\n"
      "# down so that a %d-report x %d s simulation crosses them; they are not legal thresholds.\n"
      "version: \"eval-%s\"\n"
      "description: \"prov-eval: compute tiers SCALED DOWN for a short simulation (%d reports x "
      "%d s), not the legal thresholds; projection off; everything else as "
      "deploy/policy/default.yaml\"\n\n"
      "compute_tiers:\n",
      o.reports, o.interval_seconds, t.scenario, o.reports, o.interval_seconds);
  for (size_t i = 0; i < t.tiers.size(); ++i) {
    absl::StrAppendFormat(&out,
                          "  - name: %s\n    flop: %.6g\n    severity: %s\n"
                          "    basis: \"SCALED stand-in for %s in a short simulation\"\n",
                          t.tiers[i].name, t.tiers[i].flop, kSeverity[i % 3], kStandIn[i % 3]);
  }
  absl::StrAppendFormat(&out, R"(
projection:
  horizon: 0h          # off in the evaluation
  severity: medium

restricted_jurisdictions:
  countries: [CN, RU, IR, KP, CU, SY, BY, MO]
  severity: high

screening:
  min_score: %.2f
  severity: high

restricted_hardware:
  - name: huawei-ascend
    vendor_id: 0x19e5
    families: [ascend]
    severity: critical

restricted_party_training:
  severity: critical

correlation:
  bundle_threshold: 0.6
  weights:
    network_peer: 0.7
    master_addr: 0.9
    artifact: 0.6
    image: 0.3
    identity_payment: 0.8
    identity_owner: 0.8
    identity_email: 0.4
    identity_address: 0.4
    identity_source_ip: 0.5
    identity_reseller: 0.3
    co_start: 0.15
    synchronised_activity: 0.7
    handoff: 0.7
  common_artifact_max_accounts: 5
  handoff_window: 6h
  co_start_window: 2m
  activity_window: 5m
  activity_tolerance: 1m
  min_shared_transitions: 3
  min_aligned_cycles: 2
  min_surprise: 6
  full_surprise: 8
  max_bucket_workloads: 64
  identity_max_accounts: 20
)",
                        t.screening_min_score);
  return out;
}

}  // namespace prov::eval
