// Account attribution: which customer account a workload is charged to, by a configurable chain
// of sources tried in order
// (`--attribution-chain=slurm,k8s-label,k8s-annotation,static,unix-user`).
//
//   auto chain = ParseAttributionChain("slurm,static,unix-user");   // errors name the bad entry
//   AttributionConfig config{.chain = *chain, .account_map = &map, .users = &users};
//   provenance::v1::Attribution a = Attribute(config, subject);
//   a.source(), a.confidence(), a.detail()   // e.g. SLURM_ENV, 0.9, "SLURM_JOB_ACCOUNT of pid 42"
//
// Sources and confidence: slurm (SLURM_JOB_ACCOUNT in the job's environment, 0.9); k8s-label
// (0.85) and k8s-annotation (0.8) on the pod, keys configurable; static map (0.8; tried as
// slurm-account:, namespace:, user:, uid: in that order); unix-user (owner uid -> name from the
// passwd file, 0.4; "uid:<n>" when the name is unknown). The first source that answers wins;
// when none does the result has source UNSPECIFIED and an empty account.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "agent/collect/account_map.h"
#include "agent/collect/kubelet_pods.h"
#include "provenance/v1/report.pb.h"

namespace prov::agent {

enum class AttributionStep { kSlurm, kK8sLabel, kK8sAnnotation, kStatic, kUnixUser };

inline constexpr char kDefaultAttributionChain[] =
    "slurm,k8s-label,k8s-annotation,static,unix-user";
inline constexpr char kDefaultAccountKey[] = "provenance.io/account";

absl::StatusOr<std::vector<AttributionStep>> ParseAttributionChain(absl::string_view text);

struct AttributionConfig {
  std::vector<AttributionStep> chain;
  std::string label_key = kDefaultAccountKey;
  std::string annotation_key = kDefaultAccountKey;
  const AccountMap* account_map = nullptr;                 // nullptr: static step never answers
  const std::map<uint32_t, std::string>* users = nullptr;  // uid -> name
};

struct AttributionSubject {
  std::string slurm_account = "";  // SLURM_JOB_ACCOUNT, empty when absent
  uint32_t slurm_account_pid = 0;
  const PodMeta* pod = nullptr;
  std::string pod_namespace = "";  // from the pod, when known
  std::optional<uint32_t> uid = std::nullopt;
};

provenance::v1::Attribution Attribute(const AttributionConfig& config,
                                      const AttributionSubject& subject);

}  // namespace prov::agent
