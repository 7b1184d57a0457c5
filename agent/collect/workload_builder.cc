#include "agent/collect/workload_builder.h"

#include <unistd.h>

#include <algorithm>
#include <set>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/collect/cgroup_parser.h"
#include "agent/collect/classifier.h"
#include "agent/collect/device_files.h"
#include "agent/collect/net_peers.h"
#include "common/sha256.h"

namespace prov::agent {
namespace {

using provenance::v1::Workload;

struct Group {
  CgroupInfo cgroup;
  std::vector<const ProcessInfo*> procs;
};

std::string GroupKey(const CgroupInfo& c, const ProcessInfo& p, const std::string& boot_id) {
  switch (c.kind) {
    case CgroupKind::kK8sPod:
      return "k8s:" + c.pod_uid;
    case CgroupKind::kSlurmJob:
      return "slurm-job:" + c.slurm_job_id;  // replaced by the real id once the cluster is known
    case CgroupKind::kContainer:
      return "container:" + c.container_id;
    case CgroupKind::kBare:
      break;
  }
  return absl::StrCat("proc:", boot_id, ":", p.pid, ":", p.start_ticks);
}

std::string EnvOf(const std::vector<const ProcessInfo*>& procs, const char* name, uint32_t* pid) {
  for (const ProcessInfo* p : procs) {
    if (auto it = p->env.find(name); it != p->env.end() && !it->second.empty()) {
      if (pid) *pid = p->pid;
      return it->second;
    }
  }
  return "";
}

void FillIdentity(const Group& g, const WorkloadContext& ctx, Workload* w) {
  const CgroupInfo& c = g.cgroup;
  w->set_cgroup_path(c.path);
  if (!c.container_id.empty()) w->add_container_ids(c.container_id);
  w->set_container_runtime(c.container_runtime);
  switch (c.kind) {
    case CgroupKind::kK8sPod:
      w->set_kind(provenance::v1::WORKLOAD_KIND_K8S_POD);
      w->set_pod_uid(c.pod_uid);
      break;
    case CgroupKind::kSlurmJob: {
      w->set_kind(provenance::v1::WORKLOAD_KIND_SLURM_JOB);
      w->set_slurm_job_id(c.slurm_job_id);
      w->set_slurm_step(c.slurm_step);
      std::string cluster = EnvOf(g.procs, "SLURM_CLUSTER_NAME", nullptr);
      w->set_workload_id(cluster.empty() ? "slurm:" + c.slurm_job_id
                                         : absl::StrCat("slurm:", cluster, ":", c.slurm_job_id));
      break;
    }
    case CgroupKind::kContainer:
      w->set_kind(provenance::v1::WORKLOAD_KIND_CONTAINER);
      break;
    case CgroupKind::kBare:
      w->set_kind(provenance::v1::WORKLOAD_KIND_BARE_PROCESS);
      break;
  }
  const PodMeta* pod = ctx.pods && !c.pod_uid.empty() ? ctx.pods->Find(c.pod_uid) : nullptr;
  if (!pod) return;
  w->set_pod_name(pod->name);
  w->set_pod_namespace(pod->namespace_);
  for (const PodContainer& pc : pod->containers) {
    // Image digest only for the container the processes run in (or a single-container pod).
    bool match = !c.container_id.empty() && pc.container_id == c.container_id;
    if (match || (c.container_id.empty() && pod->containers.size() == 1)) {
      w->set_image_digest(pc.image_digest);
      if (w->container_runtime().empty()) w->set_container_runtime(pc.runtime);
    }
  }
}

// The kubelet's allocation of the workload's accelerators (pod_resources.h): names the pod when the
// cgroup and pods file did not, and notes any disagreement (a card used by a process of a pod the
// kubelet did not give it to is evidence a person wants to see).
void ApplyDeviceOwners(const DeviceOwnerIndex& owners,
                       const std::vector<provenance::v1::Accelerator>& accelerators,
                       const std::set<std::string>& pcis, Workload* w,
                       std::set<std::string>* notes) {
  std::set<std::pair<std::string, std::string>> pods;  // (namespace, name)
  std::vector<std::string> unallocated;
  for (const std::string& pci : pcis) {
    const DeviceOwner* owner = owners.Find(pci);
    for (const auto& acc : accelerators) {
      if (owner == nullptr && acc.pci_address() == pci && !acc.uuid().empty()) {
        owner = owners.Find(acc.uuid());
      }
    }
    if (owner == nullptr) {
      unallocated.push_back(pci);
      continue;
    }
    pods.insert({owner->pod_namespace, owner->pod_name});
  }
  if (pods.size() == 1) {
    const auto& [ns, name] = *pods.begin();
    if (w->pod_name().empty()) {
      w->set_pod_namespace(ns);
      w->set_pod_name(name);
    } else if (w->pod_name() != name || w->pod_namespace() != ns) {
      notes->insert(absl::StrCat("the kubelet allocated its accelerators to pod ", ns, "/", name,
                                 ", not to this workload's pod ", w->pod_namespace(), "/",
                                 w->pod_name()));
    }
  } else if (pods.size() > 1) {
    std::vector<std::string> names;
    for (const auto& [ns, name] : pods) names.push_back(absl::StrCat(ns, "/", name));
    notes->insert(absl::StrCat("its accelerators are allocated to ", pods.size(),
                               " pods by the kubelet: ", absl::StrJoin(names, ", ")));
  }
  if (!unallocated.empty() && w->kind() == provenance::v1::WORKLOAD_KIND_K8S_POD) {
    notes->insert(absl::StrCat("accelerators in use but allocated to no pod by the kubelet: ",
                               absl::StrJoin(unallocated, ", ")));
  }
}

}  // namespace

std::vector<Workload> BuildWorkloads(const WorkloadContext& ctx,
                                     const std::vector<ProcessInfo>& processes,
                                     std::vector<std::string>* errors) {
  std::map<std::string, Group> groups;
  for (const ProcessInfo& p : processes) {
    CgroupInfo c = ParseCgroupFile(p.cgroup);
    Group& g = groups[GroupKey(c, p, ctx.boot_id)];
    if (g.procs.empty()) g.cgroup = c;
    g.procs.push_back(&p);
  }
  static const std::vector<provenance::v1::Accelerator> kNone;
  const auto& accelerators = ctx.accelerators ? *ctx.accelerators : kNone;
  std::vector<Workload> out;
  for (auto& [key, g] : groups) {
    std::sort(g.procs.begin(), g.procs.end(),
              [](const ProcessInfo* a, const ProcessInfo* b) { return a->pid < b->pid; });
    Workload w;
    w.set_workload_id(key);
    FillIdentity(g, ctx, &w);
    const ProcessInfo& main = *g.procs.front();
    w.set_cmdline_digest(Sha256Hex(absl::StrJoin(main.argv, absl::string_view("\0", 1))));
    if (main.uid) w.set_unix_uid(*main.uid);
    std::set<std::string> pcis, notes;
    absl::flat_hash_set<uint64_t> inodes;
    std::optional<uint64_t> memory;
    uint64_t earliest_start = main.start_ticks;
    bool specific = false, control_only = false;
    for (const ProcessInfo* p : g.procs) {
      w.add_pids(p->pid);
      earliest_start = std::min(earliest_start, p->start_ticks);
      inodes.insert(p->socket_inodes.begin(), p->socket_inodes.end());
      for (const DeviceRef& ref : p->devices) {
        std::string note;
        std::vector<std::string> mapped =
            MapDeviceToAccelerators(ref, ctx.sysfs_root, accelerators, &note);
        pcis.insert(mapped.begin(), mapped.end());
        if (!note.empty()) notes.insert(note);
        if (ref.kind == DeviceKind::kNvidiaControl) control_only = true;
        if (!mapped.empty()) specific = true;
      }
      if (auto it = ctx.nvml_pids.find(p->pid); it != ctx.nvml_pids.end()) {
        pcis.insert(it->second.begin(), it->second.end());
        specific = specific || !it->second.empty();
      }
      if (auto it = ctx.nvml_memory.find(p->pid); it != ctx.nvml_memory.end()) {
        memory = memory.value_or(0) + it->second;
      }
    }
    for (const std::string& pci : pcis) w.add_accelerator_pci_addresses(pci);
    if (ctx.device_owners != nullptr) {
      ApplyDeviceOwners(*ctx.device_owners, accelerators, pcis, &w, &notes);
    }
    if (ctx.boot_time_unix && earliest_start > 0) {
      int64_t secs =
          *ctx.boot_time_unix +
          static_cast<int64_t>(earliest_start / static_cast<uint64_t>(::sysconf(_SC_CLK_TCK)));
      w.mutable_started_at()->set_seconds(secs);
    }
    // Attribution.
    AttributionSubject subject;
    subject.slurm_account = EnvOf(g.procs, "SLURM_JOB_ACCOUNT", &subject.slurm_account_pid);
    subject.pod = ctx.pods && !w.pod_uid().empty() ? ctx.pods->Find(w.pod_uid()) : nullptr;
    subject.pod_namespace = w.pod_namespace();
    subject.uid = main.uid;
    if (ctx.attribution) *w.mutable_attribution() = Attribute(*ctx.attribution, subject);
    // Network and classification.
    std::vector<uint32_t> pids(w.pids().begin(), w.pids().end());
    NetSummary net = CollectNetPeers(ctx.procfs_root, pids, inodes, errors, ctx.tcp_volume);
    for (auto& peer : net.peers) *w.add_peers() = std::move(peer);
    for (uint32_t port : net.listening_ports) w.add_listening_ports(port);
    Classification c = Classify({.processes = g.procs,
                                 .inbound_peer_addresses = net.inbound_peer_addresses,
                                 .memory_used_bytes = memory});
    w.set_workload_class(c.workload_class);
    w.set_class_confidence(c.confidence);
    w.set_launcher(c.launcher);
    *w.mutable_distributed() = c.markers;
    for (const std::string& r : c.reasons) w.add_class_reasons(r);
    if (control_only && !specific) {
      notes.insert("only node-level NVIDIA devices open (nvidiactl/uvm); no specific GPU");
    }
    for (const std::string& n : notes) w.add_class_reasons("device mapping: " + n);
    out.push_back(std::move(w));
  }
  std::sort(out.begin(), out.end(),
            [](const Workload& a, const Workload& b) { return a.workload_id() < b.workload_id(); });
  return out;
}

}  // namespace prov::agent
