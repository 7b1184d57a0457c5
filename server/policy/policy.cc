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
  static const auto* kinds = [] {
    auto* v = new std::vector<std::string>;
    for (const auto& [kind, weight] : DefaultLinkWeights()) v->push_back(kind);
    return v;
  }();
  return *kinds;
}

const std::vector<std::pair<std::string, double>>& DefaultLinkWeights() {
  static const auto* weights =
      new std::vector<std::pair<std::string, double>>{{"network_peer", 0.7},
                                                      {"master_addr", 0.9},
                                                      {"artifact", 0.6},
                                                      {"image", 0.3},
                                                      {"identity_payment", 0.8},
                                                      {"identity_owner", 0.8},
                                                      {"identity_email", 0.4},
                                                      {"identity_address", 0.4},
                                                      {"identity_source_ip", 0.5},
                                                      {"identity_reseller", 0.3},
                                                      {"co_start", 0.15},
                                                      {"synchronised_activity", 0.7},
                                                      {"handoff", 0.7},
                                                      {"external_peer", 0.6}};
  return *weights;
}

bool IsSupportingLinkKind(absl::string_view kind) {
  return kind == "co_start" || kind == "image" || absl::StartsWith(kind, "identity_");
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

bool LocationPolicy::ProofRequired(absl::string_view datacenter, absl::string_view region) const {
  for (const std::string& id : require_proof) {
    if (id == "*" || (!datacenter.empty() && id == datacenter) ||
        (!region.empty() && id == region)) {
      return true;
    }
  }
  return false;
}

}  // namespace prov::policy
