// The realistic part of the evaluation's background (prov-eval-gen --preset realistic), added on
// top of AddBackground's one-tenant-per-node tenants: what a real provider's fleet has and a clean
// background does not.
//   - multi-node runs (2-4 nodes, ranks across nodes, NCCL ring) that end, after which their
//     nodes are re-let to new tenants (the former master's IP and port 29500 reappear under
//     another account);
//   - public checkpoints and datasets adopted gradually by unrelated teams (a training job that
//     starts after the team adopted it reports the digest; some stay rare, some become common);
//   - checkpointing jobs (idle every 5-15 reports, random phase) besides the bursty real
//     duty-cycle series;
//   - popular off-fleet endpoints (experiment tracker, model hub, object store) that hundreds of
//     unrelated training jobs talk to;
//   - dormant accounts: KYC only, nothing running (they are screened like the others).
// Every tenant is its own background lineage (no flag expected).
//
//   AddRealisticBackground(&ctx, {.nodes = 150, .dormant_accounts = 1500}, traces);
//   PublicArtifactAdopters(ctx.scenario());   // digest -> accounts in adoption order
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "tools/eval/background.h"
#include "tools/eval/eval_context.h"

namespace prov::eval {

struct RealisticOptions {
  uint32_t nodes = 0;  // nodes for multi-node runs (then re-let)
  uint32_t dormant_accounts = 0;
};

// Adds re-let multi-node runs, dormant accounts, and decorates the background training workloads
// already in ctx (public artifacts, checkpoint stalls, off-fleet endpoints). Call after
// AddBackground and before any adversary or look-alike is added.
void AddRealisticBackground(EvalContext* ctx, const RealisticOptions& options,
                            const TraceData& traces);

// Off-fleet endpoints many unrelated background jobs use ("203.0.113.10", 443), ...
const std::vector<std::pair<std::string, uint32_t>>& PopularOffFleetEndpoints();
// The public checkpoint / dataset digests AddRealisticBackground hands out.
const std::vector<std::string>& PublicArtifacts();

}  // namespace prov::eval
