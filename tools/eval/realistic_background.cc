#include "tools/eval/realistic_background.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace prov::eval {
namespace {

// Per-report utilisation from a real duty-cycle series (or synthetic), as AddBackground does.
void SetUtilisation(EvalContext* ctx, sim::v1::SimWorkload* w, uint32_t len,
                    const TraceData& traces) {
  if (traces.duty_cycles.empty()) {
    w->set_utilization_pct(ctx->Real(55, 100));
    w->set_origin("synthetic");
    return;
  }
  const auto& series = traces.duty_cycles[ctx->Uniform(traces.duty_cycles.size())];
  size_t step = std::max<size_t>(1, ctx->interval() / 60);
  size_t offset = ctx->Uniform(series.size());
  double sum = 0;
  for (uint32_t k = 0; k < std::min<uint32_t>(len, 240); ++k) {
    float v = series[(offset + k * step) % series.size()];
    w->add_utilization_series(v);
    sum += v;
  }
  w->set_utilization_pct(sum / w->utilization_series_size());
  w->set_origin("synthetic-shape+alibaba_genai_v2026_duty_cycle");
}

Lineage& AddTenant(EvalContext* ctx, const std::string& account, std::string description) {
  Lineage l;
  l.id = absl::StrCat("L-bg-", account);
  l.typology = "background";
  l.role = kRoleBackground;
  l.description = std::move(description);
  l.accounts = {account};
  l.training_accounts = {account};
  ctx->truth().lineages.push_back(std::move(l));
  return ctx->truth().lineages.back();
}

uint32_t EndOf(const sim::v1::SimWorkload& w, uint32_t reports) {
  return w.duration_reports() == 0 ? reports : w.start_report() + w.duration_reports();
}

// One multi-node run of `account` on `nodes` over [start, start + len): ranks across nodes,
// master on the first node (IP:29500, listening), a NCCL ring between the nodes.
void MultiNodeRun(EvalContext* ctx, const std::vector<sim::v1::SimNode*>& nodes,
                  const std::string& account, uint32_t start, uint32_t len,
                  const TraceData& traces) {
  const double act = ctx->Real(0.1, 0.25);
  const std::string image = ctx->Uniform(2) == 0
                                ? PublicImages()[ctx->Uniform(PublicImages().size())]
                                : EvalContext::PrivateImage(account);
  const sim::v1::SimNode& master = *nodes[0];
  for (size_t i = 0; i < nodes.size(); ++i) {
    auto* w = ctx->NewTraining(*nodes[i], account, start, len, act, image);
    w->set_world_size(static_cast<int32_t>(8 * nodes.size()));
    w->set_rank(static_cast<int32_t>(8 * i));
    w->set_master_addr(master.ip_address());
    w->set_master_port(29500);
    w->add_listening_ports(43000);
    if (i == 0) w->add_listening_ports(29500);
    if (i != 0) {
      auto* p = w->add_peers();
      p->set_remote_address(master.ip_address());
      p->set_remote_port(29500);
      p->set_bytes_per_report(uint64_t{1} << 24);
    }
    auto* ring = w->add_peers();
    ring->set_remote_address(nodes[(i + 1) % nodes.size()]->ip_address());
    ring->set_remote_port(43000);
    ring->set_bytes_per_report(uint64_t{1} << 32);
    SetUtilisation(ctx, w, len, traces);
  }
}

}  // namespace

const std::vector<std::pair<std::string, uint32_t>>& PopularOffFleetEndpoints() {
  // Synthetic addresses (TEST-NET-3) standing for an experiment tracker, a model hub and an
  // object store that most teams use.
  static const auto* e = new std::vector<std::pair<std::string, uint32_t>>{
      {"203.0.113.10", 443}, {"203.0.113.20", 443}, {"203.0.113.30", 443}};
  return *e;
}

const std::vector<std::string>& PublicArtifacts() {
  static const auto* a = new std::vector<std::string>{
      EvalContext::Digest("public-checkpoint:meta-llama/Meta-Llama-3-8B"),
      EvalContext::Digest("public-checkpoint:mistralai/Mistral-7B-v0.3"),
      EvalContext::Digest("public-checkpoint:Qwen/Qwen2-1.5B"),
      EvalContext::Digest("public-checkpoint:EleutherAI/pythia-410m"),
      EvalContext::Digest("public-dataset:HuggingFaceFW/fineweb-edu"),
      EvalContext::Digest("public-dataset:allenai/c4"),
      EvalContext::Digest("public-dataset:bigcode/the-stack-smol"),
      EvalContext::Digest("public-dataset:openslr/librispeech"),
  };
  return *a;
}

void AddRealisticBackground(EvalContext* ctx, const RealisticOptions& o, const TraceData& traces) {
  const uint32_t R = ctx->reports();
  auto& workloads = *ctx->scenario().mutable_workloads();
  // Background training workloads so far, by account.
  std::vector<int> training;
  absl::flat_hash_map<std::string, std::vector<int>> by_account;
  for (int i = 0; i < workloads.size(); ++i) {
    const auto& w = workloads[i];
    if (w.workload_class() != provenance::v1::WORKLOAD_CLASS_TRAINING) continue;
    training.push_back(i);
    by_account[w.account()].push_back(i);
  }
  // Popular off-fleet endpoints (40% of training jobs) and checkpoint stalls (30%).
  for (int i : training) {
    auto* w = &workloads[i];
    if (ctx->Uniform(10) < 4) {
      const auto& endpoints = PopularOffFleetEndpoints();
      size_t e = ctx->Uniform(endpoints.size());
      auto* p = w->add_peers();
      p->set_remote_address(endpoints[e].first);
      p->set_remote_port(endpoints[e].second);
      // Tracker: 1 MiB up, 32 KiB down; model hub: 256 KiB up, 32 MiB down; object store
      // (checkpoints): 1 GiB up, 64 MiB down. All one-sided, none a coordinator.
      const uint64_t sent[] = {uint64_t{1} << 20, uint64_t{1} << 18, uint64_t{1} << 30};
      const uint64_t received[] = {uint64_t{1} << 15, uint64_t{1} << 25, uint64_t{1} << 26};
      p->set_bytes_per_report(sent[e]);
      p->set_bytes_received_per_report(received[e]);
    }
    if (ctx->Uniform(10) < 3) {
      const uint32_t periods[] = {5, 7, 10, 15};
      uint32_t period = periods[ctx->Uniform(std::size(periods))];
      uint32_t end = EndOf(*w, R);
      for (uint32_t k = w->start_report() + ctx->Uniform(period); k < end; k += period) {
        w->add_idle_reports(k);
      }
    }
  }
  // Public checkpoints and datasets, adopted gradually: each adopter's first job that uses it is a
  // random training job of that account (so adoption times spread over the run), and its later
  // jobs keep using it. Adopter counts from rare (2) to common.
  const uint32_t adopters[] = {2, 3, 4, 6, 9, 15, 40, 120};
  const auto& artifacts = PublicArtifacts();
  for (size_t a = 0; a < artifacts.size() && !training.empty(); ++a) {
    absl::flat_hash_set<std::string> done;
    uint32_t want = adopters[a % std::size(adopters)];
    for (uint32_t tries = 0; done.size() < want && tries < 20 * want; ++tries) {
      const auto& first = workloads[training[ctx->Uniform(training.size())]];
      if (!done.insert(first.account()).second) continue;
      for (int j : by_account[first.account()]) {
        if (workloads[j].start_report() >= first.start_report()) {
          workloads[j].add_artifact_digests(artifacts[a]);
        }
      }
    }
  }
  // Multi-node runs that end; their nodes are then re-let.
  uint32_t left = o.nodes;
  while (left >= 2) {
    uint32_t n = std::min<uint32_t>(left, 2 + ctx->Uniform(3));
    if (left - n == 1) ++n;
    left -= n;
    int dc = static_cast<int>(ctx->Uniform(ctx->DatacenterCount()));
    std::vector<sim::v1::SimNode*> nodes;
    std::vector<std::string> node_ids;
    for (uint32_t i = 0; i < n; ++i) {
      nodes.push_back(ctx->NewNode(dc, ctx->Uniform(2) == 0 ? kH100 : kA100));
      node_ids.push_back(nodes.back()->node_id());
    }
    const std::string first = ctx->NewAccount();
    const uint32_t end = R / 4 + static_cast<uint32_t>(ctx->Uniform(R / 4));
    MultiNodeRun(ctx, nodes, first, 0, end, traces);
    AddTenant(ctx, first,
              absl::StrFormat("multi-node run on %d nodes, ends at report %d; its nodes are "
                              "re-let afterwards",
                              n, end))
        .nodes = node_ids;
    const uint32_t relet = end + static_cast<uint32_t>(ctx->Uniform(3));
    if (ctx->Uniform(10) < 3) {  // one new tenant takes the whole group for its own run
      const std::string next = ctx->NewAccount();
      MultiNodeRun(ctx, nodes, next, relet, R - relet, traces);
      AddTenant(ctx, next,
                absl::StrFormat("re-let tenant: its own multi-node run from report %d "
                                "on nodes a previous tenant used (same master IP:29500)",
                                relet))
          .nodes = node_ids;
      continue;
    }
    for (auto* node : nodes) {
      const std::string next = ctx->NewAccount();
      auto* w = ctx->NewTraining(*node, next, relet, R - relet, ctx->Real(0.2, 0.5),
                                 EvalContext::PrivateImage(next));
      if (ctx->Uniform(3) == 0) {
        w->set_workload_class(provenance::v1::WORKLOAD_CLASS_INFERENCE);
        w->set_launcher("vllm");
        w->add_listening_ports(8000);
      } else {  // single-node data parallel: master is this node, port 29500 as before
        w->set_world_size(8);
        w->set_rank(0);
        w->set_master_addr(node->ip_address());
        w->set_master_port(29500);
        w->add_listening_ports(29500);
      }
      SetUtilisation(ctx, w, R - relet, traces);
      AddTenant(ctx, next,
                absl::StrFormat("re-let tenant: one node from report %d that another tenant's "
                                "multi-node run used before",
                                relet))
          .nodes = {node->node_id()};
    }
  }
  for (uint32_t i = 0; i < o.dormant_accounts; ++i) {
    AddTenant(ctx, ctx->NewAccount(), "dormant account: KYC only, nothing running")
        .training_accounts.clear();
  }
}

}  // namespace prov::eval
