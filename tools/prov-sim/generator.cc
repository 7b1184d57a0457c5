#include "tools/prov-sim/generator.h"

#include <algorithm>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/prov-sim/scenario.h"

namespace prov::sim {
namespace {

using provenance::v1::WorkloadClass;
using provenance::v1::WorkloadKind;

struct Model {
  uint32_t vendor_id, device_id, count, weight;
};
// PCI IDs from the accelerator catalog (common/data/accelerators.tsv); weights are synthetic.
constexpr Model kModels[] = {
    {0x10de, 0x2330, 8, 40},  // H100 SXM5
    {0x10de, 0x20b2, 8, 20},  // A100 SXM4 80GB
    {0x10de, 0x2335, 8, 10},  // H200
    {0x10de, 0x2901, 8, 6},   // B200
    {0x1002, 0x74a1, 8, 8},   // MI300X
    {0x1da3, 0x1020, 8, 5},   // Gaudi2
    {0x1ae0, 0x0062, 4, 6},   // TPU v5p
    {0x19e5, 0xd802, 8, 5},   // Ascend 910B
};
constexpr const char* kRegions[] = {"us-east",      "us-west",      "eu-central", "eu-west",
                                    "ap-southeast", "ap-northeast", "me-central", "sa-east"};

}  // namespace

v1::Scenario GenerateFleet(const FleetOptions& o, const std::vector<JobShape>* shapes) {
  std::mt19937_64 rng(o.seed);
  auto uniform = [&](uint64_t n) { return n == 0 ? 0 : rng() % n; };
  auto chance = [&](double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; };
  v1::Scenario s;
  s.set_name(absl::StrCat("generated-seed", o.seed));
  s.set_interval_seconds(o.interval_seconds);
  s.set_reports_per_node(o.reports_per_node);
  s.set_start_unix_seconds(o.start_unix_seconds);
  bool traced = shapes != nullptr && !shapes->empty();
  s.set_provenance_note(
      traced ? "job shapes (num_gpu, gpu_milli, lifetime) drawn from the real Alibaba trace "
               "alibaba_gpu_v2023_pods.csv; accounts, data centres, regions, accelerator models, "
               "classes and distributed markers are a SYNTHETIC overlay"
             : "generated fleet: every node, account, data centre, region and workload is "
               "SYNTHETIC");
  uint32_t dcs = std::max<uint32_t>(1, o.datacenters);
  for (uint32_t d = 0; d < dcs; ++d) {
    auto* dc = s.add_datacenters();
    dc->set_name(absl::StrFormat("dc-%02d", d + 1));
    dc->set_region(kRegions[d % std::size(kRegions)]);
  }
  uint32_t total_weight = 0;
  for (const Model& m : kModels) total_weight += m.weight;
  for (uint32_t n = 0; n < o.nodes; ++n) {
    auto* node = s.add_nodes();
    node->set_node_id(absl::StrFormat("sim-node-%05d", n + 1));
    node->set_hostname(absl::StrFormat("gpu%05d.sim", n + 1));
    node->set_datacenter(s.datacenters(n % dcs).name());
    uint32_t pick = static_cast<uint32_t>(uniform(total_weight));
    const Model* model = &kModels[0];
    for (const Model& m : kModels) {
      if (pick < m.weight) {
        model = &m;
        break;
      }
      pick -= m.weight;
    }
    node->set_vendor_id(model->vendor_id);
    node->set_device_id(model->device_id);
    node->set_accelerator_count(model->count);
  }
  FillDefaults(&s);  // IPs, used below for master_addr
  uint32_t accounts = std::max<uint32_t>(1, o.accounts);
  for (uint32_t n = 0; n < o.nodes; ++n) {
    const auto& node = s.nodes(n);
    uint32_t free_from = 0;
    uint32_t per = std::max<uint32_t>(
        1, node.accelerator_count() / std::max<uint32_t>(1, o.workloads_per_node));
    for (uint32_t w = 0; w < o.workloads_per_node && free_from < node.accelerator_count(); ++w) {
      auto* wl = s.add_workloads();
      wl->set_node_id(node.node_id());
      wl->set_account(absl::StrFormat("acct-%03d", uniform(accounts) + 1));
      uint32_t count = per;
      if (traced) {
        const JobShape& shape = (*shapes)[uniform(shapes->size())];
        count = shape.num_gpu;
        uint64_t reports = (shape.lifetime_s + o.interval_seconds - 1) / o.interval_seconds;
        reports = std::max<uint64_t>(reports, 1);
        if (reports < o.reports_per_node) {
          wl->set_duration_reports(static_cast<uint32_t>(reports));
          wl->set_start_report(static_cast<uint32_t>(uniform(o.reports_per_node - reports + 1)));
        }
        wl->set_utilization_pct(std::min(100.0, shape.gpu_milli / 10.0));
        wl->set_origin(absl::StrCat("alibaba_gpu_v2023:", shape.name));
      } else {
        wl->set_utilization_pct(60 + uniform(41));
        wl->set_origin("synthetic");
      }
      count = std::clamp<uint32_t>(count, 1, node.accelerator_count() - free_from);
      wl->set_first_accelerator(free_from);
      wl->set_accelerator_count(count);
      free_from += count;
      int kind = static_cast<int>(uniform(4)) + 1;
      wl->set_kind(static_cast<WorkloadKind>(kind));
      std::string suffix = absl::StrFormat("%016x", rng());
      switch (wl->kind()) {
        case provenance::v1::WORKLOAD_KIND_K8S_POD:
          wl->set_workload_id("k8s:" + suffix);
          break;
        case provenance::v1::WORKLOAD_KIND_SLURM_JOB:
          wl->set_workload_id(absl::StrCat("slurm:sim:", 100000 + uniform(900000)));
          break;
        case provenance::v1::WORKLOAD_KIND_CONTAINER:
          wl->set_workload_id("container:" + suffix);
          break;
        default:
          wl->set_workload_id(absl::StrCat("proc:sim:", 1000 + uniform(60000), ":", suffix));
      }
      double roll = std::uniform_real_distribution<double>(0, 1)(rng);
      if (roll < 0.6) {
        wl->set_workload_class(provenance::v1::WORKLOAD_CLASS_TRAINING);
        wl->set_launcher(chance(0.7) ? "torchrun" : "deepspeed");
        wl->set_tensor_activity(0.25 + 0.4 * std::uniform_real_distribution<double>(0, 1)(rng));
        if (o.nodes > 1 && chance(0.5)) {
          // Distributed: the master is on another node (possibly another account or site).
          const auto& master = s.nodes((n + 1 + uniform(o.nodes - 1)) % o.nodes);
          wl->set_world_size(static_cast<int32_t>(count * (2 + uniform(3))));
          wl->set_rank(static_cast<int32_t>(count));
          wl->set_master_addr(master.ip_address());
          wl->set_master_port(29500);
          auto* peer = wl->add_peers();
          peer->set_remote_address(master.ip_address());
          peer->set_remote_port(29500);
          peer->set_bytes_per_report(uint64_t{1} << (28 + uniform(6)));
        }
      } else if (roll < 0.9) {
        wl->set_workload_class(provenance::v1::WORKLOAD_CLASS_INFERENCE);
        wl->set_launcher("vllm");
        wl->set_tensor_activity(0.05 + 0.2 * std::uniform_real_distribution<double>(0, 1)(rng));
        wl->add_listening_ports(8000);
      } else {
        wl->set_workload_class(provenance::v1::WORKLOAD_CLASS_UNKNOWN);
        wl->set_launcher("python");
        wl->set_tensor_activity(-1);  // the driver gives no tensor activity
      }
    }
  }
  FillDefaults(&s);
  return s;
}

}  // namespace prov::sim
