#include "agent/collect/pod_resources.h"

#include <grpcpp/grpcpp.h>

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "kubelet/podresources/v1/api.grpc.pb.h"

namespace prov::agent {
namespace {

// Bounds on one List answer: a node runs at most a few hundred pods (kubelet default max 110).
constexpr int kMaxPods = 4096;
constexpr int kMaxContainers = 64;
constexpr int kMaxDevicesPerContainer = 256;
constexpr size_t kMaxString = 253;  // DNS subdomain length; device plugin ids are at most 63

bool IsHex(char c) { return absl::ascii_isxdigit(static_cast<unsigned char>(c)); }

// "3b:00.0" or "0000:3b:00.0" (any case).
bool LooksLikePci(absl::string_view s) {
  auto bdf = [](absl::string_view t) {
    return t.size() == 7 && IsHex(t[0]) && IsHex(t[1]) && t[2] == ':' && IsHex(t[3]) &&
           IsHex(t[4]) && t[5] == '.' && t[6] >= '0' && t[6] <= '7';
  };
  if (bdf(s)) return true;
  return s.size() == 12 && IsHex(s[0]) && IsHex(s[1]) && IsHex(s[2]) && IsHex(s[3]) &&
         s[4] == ':' && bdf(s.substr(5));
}

class GrpcPodResources : public PodResourcesSource {
 public:
  GrpcPodResources(std::string socket_path, absl::Duration timeout)
      : socket_path_(std::move(socket_path)),
        timeout_(timeout),
        stub_(v1::PodResourcesLister::NewStub(grpc::CreateChannel(
            absl::StrCat("unix://", socket_path_), grpc::InsecureChannelCredentials()))) {}

  absl::StatusOr<DeviceOwnerIndex> List() override {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
    v1::ListPodResourcesRequest request;
    v1::ListPodResourcesResponse response;
    grpc::Status status = stub_->List(&context, request, &response);
    if (!status.ok()) {
      const std::string what =
          absl::StrCat("kubelet pod resources at ", socket_path_, ": ", status.error_message());
      if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
        return absl::DeadlineExceededError(what);
      }
      return absl::UnavailableError(what);
    }
    return IndexPodResources(response);
  }

 private:
  std::string socket_path_;
  absl::Duration timeout_;
  std::unique_ptr<v1::PodResourcesLister::Stub> stub_;
};

}  // namespace

std::string CanonicalDeviceId(absl::string_view id) {
  if (!LooksLikePci(id)) return std::string(id);
  std::string out = absl::AsciiStrToLower(id);
  if (out.size() == 7) out = "0000:" + out;
  return out;
}

void DeviceOwnerIndex::Add(absl::string_view device_id, DeviceOwner owner) {
  auto [it, inserted] = owners_.try_emplace(CanonicalDeviceId(device_id), std::move(owner));
  if (!inserted) ++conflicts;
}

const DeviceOwner* DeviceOwnerIndex::Find(absl::string_view device_id) const {
  auto it = owners_.find(CanonicalDeviceId(device_id));
  return it == owners_.end() ? nullptr : &it->second;
}

DeviceOwnerIndex IndexPodResources(const v1::ListPodResourcesResponse& response) {
  DeviceOwnerIndex index;
  int pods = 0;
  for (const v1::PodResources& pod : response.pod_resources()) {
    if (++pods > kMaxPods || pod.name().empty() || pod.name().size() > kMaxString ||
        pod.namespace_().size() > kMaxString) {
      ++index.skipped;
      continue;
    }
    int containers = 0;
    for (const v1::ContainerResources& c : pod.containers()) {
      if (++containers > kMaxContainers || c.name().size() > kMaxString) {
        ++index.skipped;
        continue;
      }
      int devices = 0;
      for (const v1::ContainerDevices& d : c.devices()) {
        for (const std::string& id : d.device_ids()) {
          if (++devices > kMaxDevicesPerContainer || id.empty() || id.size() > kMaxString ||
              d.resource_name().size() > kMaxString) {
            ++index.skipped;
            continue;
          }
          index.Add(id, {.pod_namespace = pod.namespace_(),
                         .pod_name = pod.name(),
                         .container = c.name(),
                         .resource_name = d.resource_name()});
        }
      }
    }
  }
  return index;
}

std::unique_ptr<PodResourcesSource> PodResourcesClient(const std::string& socket_path,
                                                       absl::Duration timeout) {
  return std::make_unique<GrpcPodResources>(socket_path, timeout);
}

}  // namespace prov::agent
