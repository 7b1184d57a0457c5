// Cgroup parser: which workload a process belongs to, from its cgroup path. Pure functions.
//
//   CgroupInfo info = ParseCgroupFile("0::/kubepods.slice/kubepods-burstable.slice/"
//       "kubepods-burstable-pod1234_ab.slice/cri-containerd-abc.scope\n");
//   info.kind == CgroupKind::kK8sPod; info.pod_uid == "1234-ab"; info.container_id == "abc";
//
// Layouts recognised (see shared/docs/domain.md section 5):
//  - Kubernetes, systemd driver: .../kubepods[-<qos>]-pod<uid_with_underscores>.slice/
//    {cri-containerd,crio,docker}-<id>.scope; cgroupfs driver: /kubepods[/<qos>]/pod<uid>/<id>.
//  - Slurm cgroup v2: .../<x>slurmstepd.scope/job_<id>/step_<n|batch|extern|interactive>/...
//    and v1: .../slurm/uid_<uid>/job_<id>/step_<id>/...
//  - Docker: /system.slice/docker-<id>.scope, /docker/<id>. Podman: libpod-<id>.scope.
//  - anything else: a bare process.
// ParseCgroupFile reads /proc/<pid>/cgroup text (v1 "N:controllers:/path" lines and/or the v2
// "0::/path" line) and returns the most specific result over all lines, preferring the v2 line.
#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace prov::agent {

enum class CgroupKind { kBare, kK8sPod, kSlurmJob, kContainer };

struct CgroupInfo {
  CgroupKind kind = CgroupKind::kBare;
  std::string path;     // the cgroup path the result came from
  std::string pod_uid;  // with dashes
  std::string qos;      // "burstable", "besteffort", "guaranteed"
  std::string container_id;
  std::string container_runtime;  // "containerd", "cri-o", "docker", "podman"; "" if unknown
  std::string slurm_job_id;
  std::string slurm_step;  // "0", "batch", "extern", "interactive"
  std::string slurm_uid;   // v1 only
};

CgroupInfo ParseCgroupPath(absl::string_view path);
CgroupInfo ParseCgroupFile(absl::string_view text);

}  // namespace prov::agent
