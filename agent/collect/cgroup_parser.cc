#include "agent/collect/cgroup_parser.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace prov::agent {
namespace {

bool IsIdChar(char c) { return absl::ascii_isalnum(c) || c == '-' || c == '_'; }

bool ValidId(absl::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s) {
    if (!IsIdChar(c)) return false;
  }
  return true;
}

// "<prefix><id>.scope" -> id.
bool ScopeId(absl::string_view seg, absl::string_view prefix, std::string* id) {
  if (!absl::ConsumePrefix(&seg, prefix) || !absl::ConsumeSuffix(&seg, ".scope")) return false;
  if (!ValidId(seg)) return false;
  *id = std::string(seg);
  return true;
}

// Container scope under a pod or systemd slice.
bool ContainerScope(absl::string_view seg, std::string* id, std::string* runtime) {
  if (ScopeId(seg, "cri-containerd-", id)) return (*runtime = "containerd", true);
  if (ScopeId(seg, "crio-", id)) return (*runtime = "cri-o", true);
  if (ScopeId(seg, "docker-", id)) return (*runtime = "docker", true);
  if (ScopeId(seg, "libpod-", id)) return (*runtime = "podman", true);
  return false;
}

bool ParseK8s(const std::vector<absl::string_view>& segs, CgroupInfo* out) {
  for (size_t i = 0; i < segs.size(); ++i) {
    absl::string_view s = segs[i];
    // systemd driver: kubepods-<qos>-pod<uid>.slice or kubepods-pod<uid>.slice (guaranteed)
    if (absl::StartsWith(s, "kubepods-") && absl::EndsWith(s, ".slice")) {
      size_t pod = s.rfind("-pod");
      if (pod == absl::string_view::npos) continue;
      absl::string_view uid = s.substr(pod + 4, s.size() - pod - 4 - 6);
      if (!ValidId(uid)) continue;
      out->kind = CgroupKind::kK8sPod;
      out->pod_uid = absl::StrReplaceAll(uid, {{"_", "-"}});
      absl::string_view qos = s.substr(9, pod > 9 ? pod - 9 : 0);
      out->qos = qos.empty() ? "guaranteed" : std::string(qos);
      if (i + 1 < segs.size())
        ContainerScope(segs[i + 1], &out->container_id, &out->container_runtime);
      return true;
    }
    // cgroupfs driver: kubepods/[qos/]pod<uid>/<id>
    if (s == "kubepods") {
      size_t j = i + 1;
      std::string qos = "guaranteed";
      if (j < segs.size() && (segs[j] == "burstable" || segs[j] == "besteffort")) {
        qos = std::string(segs[j++]);
      }
      if (j >= segs.size() || !absl::StartsWith(segs[j], "pod")) continue;
      absl::string_view uid = segs[j].substr(3);
      if (!ValidId(uid)) continue;
      out->kind = CgroupKind::kK8sPod;
      out->pod_uid = std::string(uid);
      out->qos = qos;
      if (j + 1 < segs.size() && ValidId(segs[j + 1])) out->container_id = std::string(segs[j + 1]);
      return true;
    }
  }
  return false;
}

bool ParseSlurm(const std::vector<absl::string_view>& segs, CgroupInfo* out) {
  for (size_t i = 0; i + 1 < segs.size(); ++i) {
    bool v2 = absl::EndsWith(segs[i], "slurmstepd.scope");
    bool v1 = segs[i] == "slurm" && i + 2 < segs.size() && absl::StartsWith(segs[i + 1], "uid_");
    if (!v2 && !v1) continue;
    size_t j = i + 1;
    if (v1) out->slurm_uid = std::string(segs[j++].substr(4));
    absl::string_view job = segs[j];
    if (!absl::ConsumePrefix(&job, "job_") || !ValidId(job)) continue;
    out->kind = CgroupKind::kSlurmJob;
    out->slurm_job_id = std::string(job);
    if (j + 1 < segs.size()) {
      absl::string_view step = segs[j + 1];
      if (absl::ConsumePrefix(&step, "step_")) out->slurm_step = std::string(step);
    }
    return true;
  }
  return false;
}

bool ParseContainer(const std::vector<absl::string_view>& segs, CgroupInfo* out) {
  for (size_t i = 0; i < segs.size(); ++i) {
    if (ContainerScope(segs[i], &out->container_id, &out->container_runtime)) {
      out->kind = CgroupKind::kContainer;
      return true;
    }
    if (segs[i] == "docker" && i + 1 < segs.size() && ValidId(segs[i + 1])) {
      out->kind = CgroupKind::kContainer;
      out->container_id = std::string(segs[i + 1]);
      out->container_runtime = "docker";
      return true;
    }
  }
  return false;
}

int Rank(CgroupKind k) {
  switch (k) {
    case CgroupKind::kK8sPod:
      return 3;
    case CgroupKind::kSlurmJob:
      return 2;
    case CgroupKind::kContainer:
      return 1;
    case CgroupKind::kBare:
      return 0;
  }
  return 0;
}

}  // namespace

CgroupInfo ParseCgroupPath(absl::string_view path) {
  CgroupInfo out;
  out.path = std::string(path);
  std::vector<absl::string_view> segs = absl::StrSplit(path, '/', absl::SkipEmpty());
  CgroupInfo candidate = out;
  if (ParseK8s(segs, &candidate)) return candidate;
  candidate = out;
  if (ParseSlurm(segs, &candidate)) return candidate;
  candidate = out;
  if (ParseContainer(segs, &candidate)) return candidate;
  return out;
}

CgroupInfo ParseCgroupFile(absl::string_view text) {
  CgroupInfo best;
  bool have = false;
  bool best_v2 = false;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    // hierarchy-ID:controller-list:path (the path itself may contain ':').
    std::vector<absl::string_view> parts = absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (parts.size() != 3) continue;
    absl::string_view path = absl::StripTrailingAsciiWhitespace(parts[2]);
    bool v2 = parts[0] == "0" && parts[1].empty();
    CgroupInfo info = ParseCgroupPath(path);
    // A more specific kind wins; on a tie the v2 line wins, else the first line.
    int rank = Rank(info.kind), best_rank = Rank(best.kind);
    if (!have || rank > best_rank || (rank == best_rank && v2 && !best_v2)) {
      best = std::move(info);
      best_v2 = v2;
      have = true;
    }
  }
  return best;
}

}  // namespace prov::agent
