#include "agent/collect/cgroup_parser.h"

#include "gtest/gtest.h"

namespace prov::agent {
namespace {

TEST(CgroupParserTest, KubernetesSystemdContainerd) {
  CgroupInfo c = ParseCgroupPath(
      "/kubepods.slice/kubepods-burstable.slice/"
      "kubepods-burstable-pod3f2c1a4e_9b7d_4c1e_8a2b_0123456789ab.slice/"
      "cri-containerd-4f8e9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f.scope");
  EXPECT_EQ(c.kind, CgroupKind::kK8sPod);
  EXPECT_EQ(c.pod_uid, "3f2c1a4e-9b7d-4c1e-8a2b-0123456789ab");
  EXPECT_EQ(c.qos, "burstable");
  EXPECT_EQ(c.container_runtime, "containerd");
  EXPECT_EQ(c.container_id, "4f8e9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f");
}

TEST(CgroupParserTest, KubernetesSystemdCrioAndDockerAndGuaranteed) {
  CgroupInfo crio = ParseCgroupPath(
      "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-podaa_bb.slice/"
      "crio-abc123.scope");
  EXPECT_EQ(crio.kind, CgroupKind::kK8sPod);
  EXPECT_EQ(crio.pod_uid, "aa-bb");
  EXPECT_EQ(crio.qos, "besteffort");
  EXPECT_EQ(crio.container_runtime, "cri-o");
  EXPECT_EQ(crio.container_id, "abc123");

  CgroupInfo docker =
      ParseCgroupPath("/kubepods.slice/kubepods-podcc_dd.slice/docker-0123456789ab.scope");
  EXPECT_EQ(docker.kind, CgroupKind::kK8sPod);
  EXPECT_EQ(docker.pod_uid, "cc-dd");
  EXPECT_EQ(docker.qos, "guaranteed");
  EXPECT_EQ(docker.container_runtime, "docker");
  EXPECT_EQ(docker.container_id, "0123456789ab");
}

TEST(CgroupParserTest, KubernetesCgroupfsDriver) {
  CgroupInfo c = ParseCgroupPath("/kubepods/burstable/pod3f2c1a4e-9b7d-4c1e/0123abcd");
  EXPECT_EQ(c.kind, CgroupKind::kK8sPod);
  EXPECT_EQ(c.pod_uid, "3f2c1a4e-9b7d-4c1e");
  EXPECT_EQ(c.qos, "burstable");
  EXPECT_EQ(c.container_id, "0123abcd");
  EXPECT_EQ(c.container_runtime, "");

  CgroupInfo g = ParseCgroupPath("/kubepods/podabcd-ef/fedcba98");
  EXPECT_EQ(g.kind, CgroupKind::kK8sPod);
  EXPECT_EQ(g.pod_uid, "abcd-ef");
  EXPECT_EQ(g.qos, "guaranteed");
  EXPECT_EQ(g.container_id, "fedcba98");
}

TEST(CgroupParserTest, SlurmV2) {
  for (const char* step : {"0", "batch", "extern", "interactive"}) {
    CgroupInfo c = ParseCgroupPath(std::string("/system.slice/slurmstepd.scope/job_4242/step_") +
                                   step + "/user/task_0");
    EXPECT_EQ(c.kind, CgroupKind::kSlurmJob) << step;
    EXPECT_EQ(c.slurm_job_id, "4242");
    EXPECT_EQ(c.slurm_step, step);
  }
  // multi-slurmd names the scope <node>_slurmstepd.scope
  EXPECT_EQ(ParseCgroupPath("/system.slice/n1_slurmstepd.scope/job_9/step_batch").slurm_job_id,
            "9");
}

TEST(CgroupParserTest, SlurmV1) {
  CgroupInfo c = ParseCgroupFile(
      "12:memory:/slurm/uid_1000/job_77/step_3/task_0\n"
      "11:devices:/slurm/uid_1000/job_77/step_3\n"
      "1:name=systemd:/system.slice/slurmd.service\n");
  EXPECT_EQ(c.kind, CgroupKind::kSlurmJob);
  EXPECT_EQ(c.slurm_job_id, "77");
  EXPECT_EQ(c.slurm_step, "3");
  EXPECT_EQ(c.slurm_uid, "1000");
  EXPECT_EQ(c.path, "/slurm/uid_1000/job_77/step_3/task_0");
}

TEST(CgroupParserTest, DockerAndPodman) {
  CgroupInfo a = ParseCgroupPath("/system.slice/docker-0123456789abcdef.scope");
  EXPECT_EQ(a.kind, CgroupKind::kContainer);
  EXPECT_EQ(a.container_runtime, "docker");
  EXPECT_EQ(a.container_id, "0123456789abcdef");
  CgroupInfo b = ParseCgroupFile("4:cpu,cpuacct:/docker/fedcba9876543210\n");
  EXPECT_EQ(b.kind, CgroupKind::kContainer);
  EXPECT_EQ(b.container_id, "fedcba9876543210");
  EXPECT_EQ(b.container_runtime, "docker");
  CgroupInfo c = ParseCgroupPath("/machine.slice/libpod-aaaabbbbcccc.scope/container");
  EXPECT_EQ(c.kind, CgroupKind::kContainer);
  EXPECT_EQ(c.container_runtime, "podman");
  EXPECT_EQ(c.container_id, "aaaabbbbcccc");
}

TEST(CgroupParserTest, BareProcessAndV2Preference) {
  CgroupInfo c = ParseCgroupFile("0::/user.slice/user-1000.slice/session-3.scope\n");
  EXPECT_EQ(c.kind, CgroupKind::kBare);
  EXPECT_EQ(c.path, "/user.slice/user-1000.slice/session-3.scope");
  // Hybrid: the v2 line wins a tie; a more specific v1 line wins over a bare v2 line.
  CgroupInfo h = ParseCgroupFile("1:name=systemd:/a\n0::/b\n");
  EXPECT_EQ(h.path, "/b");
  CgroupInfo k = ParseCgroupFile("0::/\n3:memory:/kubepods/besteffort/pod12/ab12\n");
  EXPECT_EQ(k.kind, CgroupKind::kK8sPod);
}

TEST(CgroupParserTest, GarbageIsBareNotACrash) {
  for (const char* text : {"", "\n\n", "no colons here", "0::", "::::::", "0::/kubepods-pod.slice",
                           "0::/kubepods/pod/", "0::/system.slice/slurmstepd.scope/job_",
                           "0::/slurm/uid_/", "0::/docker/"}) {
    CgroupInfo c = ParseCgroupFile(text);
    EXPECT_EQ(c.kind, CgroupKind::kBare) << text;
  }
}

}  // namespace
}  // namespace prov::agent
