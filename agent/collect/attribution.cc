#include "agent/collect/attribution.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace prov::agent {
namespace {

using provenance::v1::Attribution;

Attribution Make(std::string account, provenance::v1::AttributionSource source, double confidence,
                 std::string detail) {
  Attribution a;
  a.set_account(std::move(account));
  a.set_source(source);
  a.set_confidence(confidence);
  a.set_detail(std::move(detail));
  return a;
}

std::optional<Attribution> FromPodMap(const std::map<std::string, std::string>& values,
                                      const std::string& key, const PodMeta& pod,
                                      provenance::v1::AttributionSource source, double confidence,
                                      const char* what) {
  auto it = values.find(key);
  if (it == values.end() || it->second.empty()) return std::nullopt;
  return Make(it->second, source, confidence,
              absl::StrCat(what, " ", key, " of pod ", pod.namespace_, "/", pod.name));
}

std::optional<Attribution> FromStatic(const AccountMap& map, const AttributionSubject& s,
                                      const std::map<uint32_t, std::string>* users) {
  std::vector<std::pair<const char*, std::string>> keys;
  if (!s.slurm_account.empty()) keys.emplace_back("slurm-account", s.slurm_account);
  if (!s.pod_namespace.empty()) keys.emplace_back("namespace", s.pod_namespace);
  if (s.uid && users) {
    if (auto it = users->find(*s.uid); it != users->end()) keys.emplace_back("user", it->second);
  }
  if (s.uid) keys.emplace_back("uid", std::to_string(*s.uid));
  for (const auto& [kind, key] : keys) {
    if (const AccountMapEntry* e = map.Find(kind, key)) {
      return Make(e->account, provenance::v1::ATTRIBUTION_SOURCE_STATIC_MAP, 0.8,
                  absl::StrCat("account map line ", e->line, " (", kind, ":", key, ")"));
    }
  }
  return std::nullopt;
}

}  // namespace

absl::StatusOr<std::vector<AttributionStep>> ParseAttributionChain(absl::string_view text) {
  std::vector<AttributionStep> chain;
  for (absl::string_view raw : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    absl::string_view name = absl::StripAsciiWhitespace(raw);
    if (name == "slurm") {
      chain.push_back(AttributionStep::kSlurm);
    } else if (name == "k8s-label") {
      chain.push_back(AttributionStep::kK8sLabel);
    } else if (name == "k8s-annotation") {
      chain.push_back(AttributionStep::kK8sAnnotation);
    } else if (name == "static") {
      chain.push_back(AttributionStep::kStatic);
    } else if (name == "unix-user") {
      chain.push_back(AttributionStep::kUnixUser);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("--attribution-chain: unknown source '", name,
                       "' (expected slurm, k8s-label, k8s-annotation, static, unix-user)"));
    }
  }
  if (chain.empty()) return absl::InvalidArgumentError("--attribution-chain: empty");
  return chain;
}

Attribution Attribute(const AttributionConfig& config, const AttributionSubject& s) {
  for (AttributionStep step : config.chain) {
    std::optional<Attribution> a;
    switch (step) {
      case AttributionStep::kSlurm:
        if (!s.slurm_account.empty()) {
          a = Make(s.slurm_account, provenance::v1::ATTRIBUTION_SOURCE_SLURM_ENV, 0.9,
                   absl::StrCat("SLURM_JOB_ACCOUNT of pid ", s.slurm_account_pid));
        }
        break;
      case AttributionStep::kK8sLabel:
        if (s.pod) {
          a = FromPodMap(s.pod->labels, config.label_key, *s.pod,
                         provenance::v1::ATTRIBUTION_SOURCE_K8S_LABEL, 0.85, "label");
        }
        break;
      case AttributionStep::kK8sAnnotation:
        if (s.pod) {
          a = FromPodMap(s.pod->annotations, config.annotation_key, *s.pod,
                         provenance::v1::ATTRIBUTION_SOURCE_K8S_ANNOTATION, 0.8, "annotation");
        }
        break;
      case AttributionStep::kStatic:
        if (config.account_map) a = FromStatic(*config.account_map, s, config.users);
        break;
      case AttributionStep::kUnixUser:
        if (s.uid) {
          std::string name;
          if (config.users) {
            if (auto it = config.users->find(*s.uid); it != config.users->end()) name = it->second;
          }
          a = Make(name.empty() ? absl::StrCat("uid:", *s.uid) : name,
                   provenance::v1::ATTRIBUTION_SOURCE_UNIX_USER, 0.4,
                   absl::StrCat("owner uid ", *s.uid, name.empty() ? " (not in passwd file)" : ""));
        }
        break;
    }
    if (a) return *a;
  }
  return Make("", provenance::v1::ATTRIBUTION_SOURCE_UNSPECIFIED, 0,
              "no attribution source answered");
}

}  // namespace prov::agent
