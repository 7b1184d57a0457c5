// The kubelet PodResources client against a fake PodResourcesLister on a real Unix socket, and the
// device-to-pod index it builds.
#include "agent/collect/pod_resources.h"

#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "kubelet/podresources/v1/api.grpc.pb.h"

namespace prov::agent {
namespace {

// The test thread sets the answer, the server's thread reads it: under a lock, because the RPC
// that orders them in time passes through gRPC's uninstrumented core, where tsan cannot see it.
class FakeKubelet final : public v1::PodResourcesLister::Service {
 public:
  grpc::Status List(grpc::ServerContext*, const v1::ListPodResourcesRequest*,
                    v1::ListPodResourcesResponse* response) override {
    absl::MutexLock lock(&mu_);
    ++calls_;
    if (!fail_.empty()) return grpc::Status(grpc::StatusCode::INTERNAL, fail_);
    *response = answer_;
    return grpc::Status::OK;
  }
  void AddPod(const std::string& ns, const std::string& name, const std::string& container,
              const std::string& resource, std::initializer_list<std::string> ids);
  void Fail(std::string why) {
    absl::MutexLock lock(&mu_);
    fail_ = std::move(why);
  }
  int calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }

 private:
  absl::Mutex mu_;
  v1::ListPodResourcesResponse answer_ ABSL_GUARDED_BY(mu_);
  std::string fail_ ABSL_GUARDED_BY(mu_);
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
};

void AddPod(v1::ListPodResourcesResponse* r, const std::string& ns, const std::string& name,
            const std::string& container, const std::string& resource,
            std::initializer_list<std::string> ids) {
  auto* pod = r->add_pod_resources();
  pod->set_namespace_(ns);
  pod->set_name(name);
  auto* c = pod->add_containers();
  c->set_name(container);
  auto* d = c->add_devices();
  d->set_resource_name(resource);
  for (const std::string& id : ids) d->add_device_ids(id);
}

void FakeKubelet::AddPod(const std::string& ns, const std::string& name,
                         const std::string& container, const std::string& resource,
                         std::initializer_list<std::string> ids) {
  absl::MutexLock lock(&mu_);
  prov::agent::AddPod(&answer_, ns, name, container, resource, ids);
}

class PodResourcesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/podres-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    socket_ = dir_ + "/kubelet.sock";
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix:" + socket_, grpc::InsecureServerCredentials());
    builder.RegisterService(&kubelet_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
    std::filesystem::remove_all(dir_);
  }

  std::string dir_, socket_;
  FakeKubelet kubelet_;
  std::unique_ptr<grpc::Server> server_;
};

TEST_F(PodResourcesTest, ListsWhichPodHoldsWhichDevice) {
  kubelet_.AddPod(
      "ml", "train-0", "trainer", "nvidia.com/gpu",
      {"GPU-11111111-2222-3333-4444-555555555555", "GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"});
  kubelet_.AddPod("infer", "vllm-0", "server", "amd.com/gpu", {"0000:C1:00.0"});
  auto client = PodResourcesClient(socket_, absl::Seconds(2));
  absl::StatusOr<DeviceOwnerIndex> owners = client->List();
  ASSERT_TRUE(owners.ok()) << owners.status();
  EXPECT_EQ(kubelet_.calls(), 1);
  EXPECT_EQ(owners->size(), 3u);
  const DeviceOwner* o = owners->Find("GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee");
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(o->pod_namespace, "ml");
  EXPECT_EQ(o->pod_name, "train-0");
  EXPECT_EQ(o->container, "trainer");
  EXPECT_EQ(o->resource_name, "nvidia.com/gpu");
  // PCI ids match in any case, with or without the domain.
  for (const char* id : {"0000:c1:00.0", "c1:00.0", "C1:00.0"}) {
    const DeviceOwner* amd = owners->Find(id);
    ASSERT_NE(amd, nullptr) << id;
    EXPECT_EQ(amd->pod_name, "vllm-0");
  }
  EXPECT_EQ(owners->Find("GPU-not-allocated"), nullptr);
}

TEST_F(PodResourcesTest, KubeletErrorsAndAMissingSocketNameTheSocket) {
  kubelet_.Fail("pod resources endpoint disabled");
  auto client = PodResourcesClient(socket_, absl::Seconds(2));
  absl::StatusOr<DeviceOwnerIndex> owners = client->List();
  ASSERT_FALSE(owners.ok());
  EXPECT_EQ(owners.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(owners.status().message().find(socket_), std::string::npos) << owners.status();
  EXPECT_NE(owners.status().message().find("endpoint disabled"), std::string::npos);

  auto missing = PodResourcesClient(dir_ + "/absent.sock", absl::Milliseconds(300));
  owners = missing->List();
  ASSERT_FALSE(owners.ok());
  EXPECT_NE(owners.status().message().find("absent.sock"), std::string::npos) << owners.status();
}

TEST(PodResourcesIndexTest, BoundsAndConflictsAreCountedNotTrusted) {
  v1::ListPodResourcesResponse r;
  AddPod(&r, "a", "", "c", "nvidia.com/gpu", {"GPU-1"});                  // no pod name: skipped
  AddPod(&r, "a", "p1", "c", "nvidia.com/gpu", {"GPU-2", ""});            // empty id: skipped
  AddPod(&r, "b", "p2", "c", "nvidia.com/gpu", {"GPU-2"});                // allocated twice
  AddPod(&r, "b", "p3", "c", "nvidia.com/gpu", {std::string(300, 'x')});  // too long
  DeviceOwnerIndex index = IndexPodResources(r);
  EXPECT_EQ(index.size(), 1u);
  EXPECT_EQ(index.skipped, 3u);
  EXPECT_EQ(index.conflicts, 1u);
  ASSERT_NE(index.Find("GPU-2"), nullptr);
  EXPECT_EQ(index.Find("GPU-2")->pod_name, "p1");  // the first claim is kept
  EXPECT_EQ(index.Find("GPU-1"), nullptr);
}

TEST(PodResourcesIndexTest, CanonicalDeviceIds) {
  EXPECT_EQ(CanonicalDeviceId("3B:00.0"), "0000:3b:00.0");
  EXPECT_EQ(CanonicalDeviceId("0000:3B:00.1"), "0000:3b:00.1");
  EXPECT_EQ(CanonicalDeviceId("GPU-ABC"), "GPU-ABC");  // UUIDs are kept as they are
  EXPECT_EQ(CanonicalDeviceId("3b:00.9"), "3b:00.9");  // not a PCI function number
}

}  // namespace
}  // namespace prov::agent
