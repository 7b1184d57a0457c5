#include "agent/collect/kubelet_pods.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/fs.h"
#include "common/status_macros.h"

namespace prov::agent {
namespace {

using nlohmann::json;

std::string Str(const json& obj, const char* key) {
  auto it = obj.find(key);
  return (it != obj.end() && it->is_string()) ? it->get<std::string>() : "";
}

std::map<std::string, std::string> StringMap(const json& obj, const char* key) {
  std::map<std::string, std::string> out;
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_object()) return out;
  for (auto& [k, v] : it->items()) {
    if (v.is_string()) out[k] = v.get<std::string>();
  }
  return out;
}

PodContainer ParseContainerStatus(const json& cs) {
  PodContainer c;
  c.name = Str(cs, "name");
  std::string id = Str(cs, "containerID");  // "containerd://<id>"
  if (size_t sep = id.find("://"); sep != std::string::npos) {
    std::string scheme = id.substr(0, sep);
    c.runtime = scheme == "cri-o" ? "cri-o" : scheme;
    c.container_id = id.substr(sep + 3);
  } else {
    c.container_id = id;
  }
  std::string image = Str(cs, "imageID");  // "docker.io/x@sha256:..." or "sha256:..."
  if (size_t at = image.rfind("sha256:"); at != std::string::npos)
    c.image_digest = image.substr(at);
  return c;
}

}  // namespace

absl::StatusOr<PodIndex> ParseKubeletPods(absl::string_view text, absl::string_view source_name) {
  json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat(source_name, ": not valid JSON"));
  }
  if (!doc.is_object() || !doc.contains("items") || !doc["items"].is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source_name, ": expected a PodList object with an \"items\" array"));
  }
  PodIndex index;
  for (const json& item : doc["items"]) {
    if (!item.is_object()) continue;
    auto meta = item.find("metadata");
    if (meta == item.end() || !meta->is_object()) continue;
    PodMeta pod;
    pod.uid = Str(*meta, "uid");
    if (pod.uid.empty()) continue;
    pod.name = Str(*meta, "name");
    pod.namespace_ = Str(*meta, "namespace");
    pod.labels = StringMap(*meta, "labels");
    pod.annotations = StringMap(*meta, "annotations");
    auto status = item.find("status");
    if (status != item.end() && status->is_object()) {
      for (const char* key : {"containerStatuses", "initContainerStatuses"}) {
        auto list = status->find(key);
        if (list == status->end() || !list->is_array()) continue;
        for (const json& cs : *list) {
          if (cs.is_object()) pod.containers.push_back(ParseContainerStatus(cs));
        }
      }
    }
    index.Add(std::move(pod));
  }
  return index;
}

absl::StatusOr<PodIndex> LoadKubeletPods(const std::string& path) {
  PROV_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path, 256u << 20));
  return ParseKubeletPods(text, path);
}

}  // namespace prov::agent
