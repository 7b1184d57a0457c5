// Which pod holds which device, from the kubelet's PodResources API (v1.PodResourcesLister/List on
// `/var/lib/kubelet/pod-resources/kubelet.sock`; `--kubelet-pod-resources-socket`). This is the
// kubelet's own allocation record: what the device plugin handed to each container. It needs no
// API server credentials and no pods file, so it is what the agent uses in a Kubernetes DaemonSet
// (deploy/kubernetes/).
//
//   std::unique_ptr<PodResourcesSource> source =
//       PodResourcesClient("/var/lib/kubelet/pod-resources/kubelet.sock", absl::Seconds(2));
//   absl::StatusOr<DeviceOwnerIndex> owners = source->List();
//   if (const DeviceOwner* o = owners->Find("GPU-6f1c...")) o->pod_namespace ...
//
// Device ids are the device plugin's: NVIDIA's are GPU UUIDs ("GPU-..."), AMD's and others' are
// often PCI addresses; Find matches either form (PCI addresses case-insensitively, with or without
// the "0000:" domain). Responses are bounded (pods, containers, devices, string lengths): what is
// beyond is skipped and counted in `skipped`. Thread-compatible.
#pragma once

#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace v1 {
class ListPodResourcesResponse;
}

namespace prov::agent {

struct DeviceOwner {
  std::string pod_namespace = "";
  std::string pod_name = "";
  std::string container = "";
  std::string resource_name = "";  // "nvidia.com/gpu"
};

class DeviceOwnerIndex {
 public:
  // The pod holding `device_id` (a device plugin id, a GPU UUID or a PCI address), or nullptr.
  const DeviceOwner* Find(absl::string_view device_id) const;
  size_t size() const { return owners_.size(); }
  size_t skipped = 0;  // entries over the bounds, or with an empty pod name or device id
  // Devices claimed by two containers (should not happen; kept: the first, counted here).
  size_t conflicts = 0;

  void Add(absl::string_view device_id, DeviceOwner owner);

 private:
  absl::flat_hash_map<std::string, DeviceOwner> owners_;
};

// Canonical form used as the index key: PCI addresses "0000:3b:00.0" (domain added, lower case),
// anything else unchanged.
std::string CanonicalDeviceId(absl::string_view id);

// The index of a List answer.
DeviceOwnerIndex IndexPodResources(const v1::ListPodResourcesResponse& response);

class PodResourcesSource {
 public:
  virtual ~PodResourcesSource() = default;
  // UNAVAILABLE naming the socket when the kubelet cannot be reached; DEADLINE_EXCEEDED after the
  // client's timeout.
  virtual absl::StatusOr<DeviceOwnerIndex> List() = 0;
};

// gRPC over the Unix socket at `socket_path`, one List call per collection, `timeout` each.
std::unique_ptr<PodResourcesSource> PodResourcesClient(const std::string& socket_path,
                                                       absl::Duration timeout);

}  // namespace prov::agent
