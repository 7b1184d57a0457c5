#include "server/policy/policy.h"

#include <algorithm>
#include <cstddef>

#include "absl/strings/match.h"

extern const char prov_default_policy_yaml[];
extern const std::size_t prov_default_policy_yaml_size;

namespace prov::policy {

absl::string_view DefaultPolicyYaml() {
  return absl::string_view(prov_default_policy_yaml, prov_default_policy_yaml_size);
}

absl::string_view SeverityName(Severity s) {
  switch (s) {
    case Severity::kInfo:
      return "info";
    case Severity::kLow:
      return "low";
    case Severity::kMedium:
      return "medium";
    case Severity::kHigh:
      return "high";
    case Severity::kCritical:
      return "critical";
  }
  return "unknown";
}

std::optional<Severity> ParseSeverity(absl::string_view name) {
  for (Severity s :
       {Severity::kInfo, Severity::kLow, Severity::kMedium, Severity::kHigh, Severity::kCritical}) {
    if (SeverityName(s) == name) return s;
  }
  return std::nullopt;
}

const std::vector<std::string>& KnownLinkKinds() {
  static const auto* kinds =
      new std::vector<std::string>{"network_peer",     "master_addr",           "artifact",
                                   "identity_payment", "identity_owner",        "identity_email",
                                   "identity_address", "identity_source_ip",    "identity_reseller",
                                   "co_start",         "synchronised_activity", "handoff"};
  return *kinds;
}

bool IsSupportingLinkKind(absl::string_view kind) {
  return kind == "co_start" || absl::StartsWith(kind, "identity_");
}

const ComputeTier* Policy::HighestTierReached(double flop) const {
  const ComputeTier* reached = nullptr;
  for (const ComputeTier& t : compute_tiers) {
    if (flop >= t.flop) reached = &t;
  }
  return reached;
}

const ComputeTier* Policy::NextTier(double flop) const {
  for (const ComputeTier& t : compute_tiers) {
    if (flop < t.flop) return &t;
  }
  return nullptr;
}

bool Policy::IsRestrictedJurisdiction(absl::string_view iso_code) const {
  return std::find(restricted_jurisdictions.begin(), restricted_jurisdictions.end(), iso_code) !=
         restricted_jurisdictions.end();
}

const RestrictedHardware* Policy::MatchHardware(uint32_t vendor_id, uint32_t device_id,
                                                absl::string_view family) const {
  for (const RestrictedHardware& r : restricted_hardware) {
    if (r.vendor_id != vendor_id) continue;
    if (!r.device_ids.empty() &&
        std::find(r.device_ids.begin(), r.device_ids.end(), device_id) == r.device_ids.end()) {
      continue;
    }
    if (!r.families.empty() &&
        std::find(r.families.begin(), r.families.end(), family) == r.families.end()) {
      continue;
    }
    return &r;
  }
  return nullptr;
}

}  // namespace prov::policy
