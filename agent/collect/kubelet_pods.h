// Kubelet pod metadata from a PodList JSON file (what the kubelet's read-only `/pods` endpoint
// returns; `--kubelet-pods-file`). Used for pod name/namespace, the account label/annotation and
// container image digests (status.containerStatuses[].imageID).
//
//   absl::StatusOr<PodIndex> pods = ParseKubeletPods(json_text, "pods.json");
//   if (const PodMeta* pod = pods->Find("3f2c...")) pod->labels.at("team.example/account");
//
// Errors name the file and what is wrong; pods lacking metadata.uid are skipped.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace prov::agent {

struct PodContainer {
  std::string name;
  std::string container_id;  // without the "containerd://" prefix
  std::string runtime;       // "containerd", "cri-o", "docker"
  std::string image_digest;  // "sha256:..." from imageID; empty when not a digest
};

struct PodMeta {
  std::string uid, name, namespace_;
  std::map<std::string, std::string> labels, annotations;
  std::vector<PodContainer> containers;
};

class PodIndex {
 public:
  const PodMeta* Find(const std::string& uid) const {
    auto it = pods_.find(uid);
    return it == pods_.end() ? nullptr : &it->second;
  }
  size_t size() const { return pods_.size(); }
  void Add(PodMeta pod) { pods_[pod.uid] = std::move(pod); }

 private:
  std::map<std::string, PodMeta> pods_;
};

absl::StatusOr<PodIndex> ParseKubeletPods(absl::string_view json, absl::string_view source_name);
absl::StatusOr<PodIndex> LoadKubeletPods(const std::string& path);

}  // namespace prov::agent
