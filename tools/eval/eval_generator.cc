#include "tools/eval/eval_generator.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/accelerator_catalog.h"
#include "common/csv.h"
#include "common/status_macros.h"
#include "server/inventory/inventory_parser.h"
#include "server/kyc/kyc_parser.h"
#include "server/policy/policy.h"
#include "server/screening/name_normalizer.h"
#include "server/screening/screener.h"
#include "tools/eval/flop_model.h"
#include "tools/eval/hardware_typologies.h"
#include "tools/eval/policy_text.h"
#include "tools/eval/realistic_background.h"
#include "tools/prov-sim/inventory.h"

namespace prov::eval {
namespace {

constexpr double kH100Peak = 989e12;   // common/data/accelerators.tsv, H100 SXM5
constexpr double kAccountShare = 0.8;  // an adversary account alone: 0.8 x tier 1
constexpr double kLookAlikeShare = 0.6;
constexpr double kMinScore = 0.88;
constexpr size_t kLookAlikeImage = 1;  // index into PublicImages()
constexpr uint32_t kLookAlikeFirstStart = 5;

std::string RuleTier(const std::string& tier) { return absl::StrCat("compute_tier:", tier); }

// Rounds up to 3 significant digits, so the YAML value and the ground truth agree exactly.
double RoundUp3(double x) {
  double p = std::pow(10, std::floor(std::log10(x)) - 2);
  return std::ceil(x / p) * p;
}

class Generator {
 public:
  Generator(EvalContext* ctx, double tier1, bool realistic)
      : ctx_(*ctx), tier1_(tier1), realistic_(realistic) {}

  // Tensor activity giving `flop` on `gpus` H100 accelerators over `reports` reports.
  absl::StatusOr<double> Activity(double flop, uint32_t gpus, uint32_t reports,
                                  const std::string& what) {
    double act = flop / (gpus * static_cast<double>(reports) * ctx_.interval() * kH100Peak);
    if (act > 0.95 || act <= 0) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "%s needs tensor activity %.2f (> 0.95) to reach %.3g FLOP in %d reports on %d "
          "accelerators: tier 1 is set by the largest background account; use more --reports",
          what, act, flop, reports, gpus));
    }
    return act;
  }

  int Dc(int i) { return (dc_base_ + i) % ctx_.DatacenterCount(); }
  // Datacenters in distinct regions: 2i (+ one rotating offset).
  int DcInRegion(int region) { return (2 * region + dc_base_ % 2) % ctx_.DatacenterCount(); }

  absl::Status ShellAccounts(int inst);                                        // typology a
  absl::Status LayeredResellers(int inst, const std::string& listed_variant);  // b
  absl::Status SplitPackages(int inst);                                        // c
  absl::Status Handoff(int inst);                                              // d
  absl::Status RestrictedHardware(int inst);                                   // e
  absl::Status LargeCustomer(int inst);
  absl::Status PublicImage(int inst);
  absl::Status InferenceFleet(int inst);
  absl::Status CoStart(int inst);
  // Realistic mode only (tools/eval/README.md).
  absl::Status ExternalCoordinator(int inst);  // f
  absl::Status Rhythm(int inst);               // g
  absl::Status SharedTracker(int inst);        // look-alike for f

  void NextInstance() { dc_base_ += 3; }
  int dc_base() const { return dc_base_; }
  std::vector<std::string> resellers_listed;  // accounts expected to screen positive (holder)
  // g_rhythm's exchange schedule per lineage id, for its evidence time (RhythmEvidenceOffset).
  struct RhythmPlan {
    std::vector<uint32_t> exchanges;  // report indices
    uint32_t period = 0;              // base period in reports (each interval +-period/5)
    bool direct = false;              // islands send to each other (traffic links at once)
  };
  absl::flat_hash_map<std::string, RhythmPlan> rhythm_plans;

 private:
  Lineage& Add(const std::string& typology, const char* role, int inst, std::string description) {
    Lineage l;
    l.id = absl::StrFormat("L-%s-%03d", typology, inst + 1);
    l.typology = typology;
    l.role = role;
    l.description = std::move(description);
    ctx_.truth().lineages.push_back(std::move(l));
    return ctx_.truth().lineages.back();
  }

  // Realistic mode varies a, c and d in odd instances (what a capable adversary changes).
  bool Varied(int inst) const { return realistic_ && inst % 2 == 1; }

  EvalContext& ctx_;
  double tier1_;
  bool realistic_;
  int dc_base_ = 0;
};

absl::Status Generator::ShellAccounts(int inst) {
  const uint32_t R = ctx_.reports();
  Lineage& l = Add("a_shell_accounts", kRoleAdversary, inst,
                   "one actor, 4 shell accounts with distinct identities in 4 regions, one "
                   "data-parallel job: torchrun ranks peer the master and a NCCL ring, MASTER_ADDR "
                   "is the first account's node");
  std::vector<sim::v1::SimNode*> nodes;
  for (int i = 0; i < 4; ++i) {
    std::string acct = ctx_.NewAccount();
    l.accounts.push_back(acct);
    nodes.push_back(ctx_.NewNode(DcInRegion(i), kH100));
    l.nodes.push_back(nodes.back()->node_id());
  }
  l.training_accounts = l.accounts;
  PROV_ASSIGN_OR_RETURN(double act, Activity(kAccountShare * tier1_, 8, R, l.id));
  const sim::v1::SimNode& master = *nodes[0];
  // Varied (realistic, odd instances): non-default rendezvous and ring ports, DeepSpeed, and each
  // account its own private image; what stays is the job itself (ranks, master, traffic).
  const bool varied = Varied(inst);
  const uint32_t master_port = varied ? 23456 : 29500;
  const uint32_t ring_port = varied ? 45000 + inst : 43000;
  if (varied) {
    l.description += " (varied: rendezvous port 23456, own ring port, DeepSpeed, private images)";
  }
  for (int i = 0; i < 4; ++i) {
    auto* w =
        ctx_.NewTraining(*nodes[i], l.accounts[i], 0, R, act,
                         varied ? EvalContext::PrivateImage(l.accounts[i]) : PublicImages()[1]);
    if (varied) w->set_launcher("deepspeed");
    w->set_world_size(32);
    w->set_rank(8 * i);
    // Even instances name the master by hostname, odd ones by IP.
    w->set_master_addr(inst % 2 == 0 ? master.hostname() : master.ip_address());
    w->set_master_port(master_port);
    w->add_listening_ports(ring_port);  // NCCL ring
    if (i == 0) w->add_listening_ports(master_port);
    if (i != 0) {
      auto* p = w->add_peers();
      p->set_remote_address(master.ip_address());
      p->set_remote_port(master_port);
      p->set_bytes_per_report(uint64_t{1} << 26);
    }
    auto* ring = w->add_peers();
    ring->set_remote_address(nodes[(i + 1) % 4]->ip_address());
    ring->set_remote_port(ring_port);
    ring->set_bytes_per_report(uint64_t{1} << 33);
  }
  return absl::OkStatus();
}

absl::Status Generator::LayeredResellers(int inst, const std::string& listed_variant) {
  const uint32_t R = ctx_.reports();
  Lineage& l = Add("b_layered_resellers", kRoleAdversary, inst,
                   absl::StrCat("a small trainer whose reseller chain (2 levels) ends at a "
                                "listed entity written differently: '",
                                listed_variant, "'"));
  std::string top = ctx_.NewAccount();
  std::string mid = ctx_.NewAccount();
  std::string trainer = ctx_.NewAccount();
  ctx_.Row(top).legal_entity = listed_variant;
  ctx_.Row(top).is_reseller = true;
  ctx_.Row(mid).is_reseller = true;
  ctx_.Row(mid).parent_account = top;
  ctx_.Row(trainer).parent_account = mid;
  resellers_listed.push_back(top);
  l.accounts = {trainer, mid, top};
  l.training_accounts = {trainer};
  auto* node = ctx_.NewNode(Dc(1), kH100);
  l.nodes = {node->node_id()};
  PROV_ASSIGN_OR_RETURN(double act, Activity(0.2 * tier1_, 4, R - 2, l.id));
  auto* w = ctx_.NewWorkload(*node, trainer, 2, R);
  w->set_accelerator_count(4);
  w->set_tensor_activity(act);
  w->set_image_digest(PublicImages()[0]);
  l.expected.push_back({"restricted_party_training", "bundle", "", {trainer}, {}});
  for (const auto& a : l.accounts) l.expected.push_back({"screening_hit", "account", a, {a}, {}});
  return absl::OkStatus();
}

absl::Status Generator::SplitPackages(int inst) {
  const uint32_t R = ctx_.reports();
  Lineage& l = Add("c_split_packages", kRoleAdversary, inst,
                   "one model trained as 3 task packages in 3 regions with no network link: "
                   "same dataset and checkpoint digests, synchronised checkpoint stalls");
  const std::string dataset = EvalContext::Digest(absl::StrCat("dataset:c:", inst, ctx_.Hex(8)));
  const std::string ckpt = EvalContext::Digest(absl::StrCat("checkpoint:c:", inst, ctx_.Hex(8)));
  std::vector<uint32_t> stalls;
  for (uint32_t k = 4; k + 1 < R; k += 7) stalls.push_back(k);
  if (stalls.size() < 4) {
    return absl::FailedPreconditionError("--reports too small for 4 checkpoint stalls (need 30)");
  }
  uint32_t active = R - static_cast<uint32_t>(stalls.size());
  PROV_ASSIGN_OR_RETURN(double act, Activity(kAccountShare * tier1_, 8, active, l.id));
  // Varied (realistic, odd instances): each package saves its own checkpoints (own digest) and
  // stalls one report after the previous package; only the dataset digest stays shared.
  const bool varied = Varied(inst);
  if (varied) {
    l.description += " (varied: own checkpoint digest per package, stalls staggered by a report)";
  }
  for (int i = 0; i < 3; ++i) {
    std::string acct = ctx_.NewAccount();
    l.accounts.push_back(acct);
    auto* node = ctx_.NewNode(DcInRegion(i + 1), kH100);
    l.nodes.push_back(node->node_id());
    auto* w = ctx_.NewWorkload(*node, acct, 0, R);
    w->set_launcher(i == 0 ? "deepspeed" : "torchrun");
    w->set_tensor_activity(act);
    w->set_image_digest(EvalContext::PrivateImage(acct));
    w->add_artifact_digests(dataset);
    w->add_artifact_digests(varied ? EvalContext::Digest(absl::StrCat(ckpt, ":", i)) : ckpt);
    for (uint32_t k : stalls) w->add_idle_reports(varied ? k + i : k);
  }
  l.training_accounts = l.accounts;
  return absl::OkStatus();
}

absl::Status Generator::Handoff(int inst) {
  const uint32_t R = ctx_.reports();
  const uint32_t half = R / 2;
  Lineage& l = Add("d_handoff", kRoleAdversary, inst,
                   "sequential hand-off: account A trains in one region and stops; one report "
                   "later account B resumes from the same checkpoint digest in another region");
  const std::string ckpt = EvalContext::Digest(absl::StrCat("checkpoint:d:", inst, ctx_.Hex(8)));
  // Realistic mode: B does not start exactly one report later. Even instances wait 4 reports
  // (an operator moving the checkpoint by hand), odd ones start B 2 reports before A stops (B
  // warms up from the last checkpoint while A finishes); B uses DeepSpeed.
  uint32_t b_start = half + 1;
  if (realistic_) {
    b_start = inst % 2 == 0 ? half + 4 : half - 2;
    l.description += inst % 2 == 0 ? " (varied: B starts 4 reports after A stops)"
                                   : " (varied: B starts 2 reports before A stops)";
  }
  for (int i = 0; i < 2; ++i) {
    std::string acct = ctx_.NewAccount();
    l.accounts.push_back(acct);
    uint32_t start = i == 0 ? 0 : b_start;
    uint32_t len = i == 0 ? half : R - start;
    PROV_ASSIGN_OR_RETURN(double act, Activity(kAccountShare * tier1_, 16, len, l.id));
    for (int n = 0; n < 2; ++n) {
      auto* node = ctx_.NewNode(DcInRegion(i == 0 ? 0 : 2), kH100);
      l.nodes.push_back(node->node_id());
      auto* w = ctx_.NewTraining(*node, acct, start, len, act, EvalContext::PrivateImage(acct));
      if (realistic_ && i == 1) w->set_launcher("deepspeed");
      w->add_artifact_digests(ckpt);
    }
  }
  l.training_accounts = l.accounts;
  return absl::OkStatus();
}

absl::Status Generator::RestrictedHardware(int inst) {
  const uint32_t R = ctx_.reports();
  Lineage& l = Add("e_restricted_hardware", kRoleAdversary, inst,
                   "training on Huawei Ascend 910B (PCI vendor 0x19e5) in a node whose hostname "
                   "says NVIDIA H100");
  std::string acct = ctx_.NewAccount();
  l.accounts = l.training_accounts = {acct};
  int dc = Dc(2);
  auto* node = ctx_.NewNode(dc, kAscend910B,
                            absl::StrFormat("dgx-h100-%03d.%s.cloud.example", 100 + inst,
                                            ctx_.scenario().datacenters(dc).name()));
  l.nodes = {node->node_id()};
  auto* w = ctx_.NewWorkload(*node, acct, 1, R);
  w->set_tensor_activity(0.45);
  // A private image: a digest shared by the (unrelated) instances would link them.
  w->set_image_digest(EvalContext::PrivateImage(acct));
  l.expected.push_back({"restricted_hardware:huawei-ascend", "node", node->node_id(), {acct}, {}});
  return absl::OkStatus();
}

absl::Status Generator::LargeCustomer(int inst) {
  const uint32_t R = ctx_.reports();
  Lineage& l = Add("lookalike_large_customer", kRoleLookAlike, inst,
                   "one large customer: 5 accounts with the same beneficial owner, payment "
                   "instrument and e-mail domain, unrelated jobs (no traffic, no shared "
                   "artifacts, starts minutes apart); combined above tier 1, each below");
  std::string owner_acct;
  for (int i = 0; i < 5; ++i) {
    std::string acct = ctx_.NewAccount();
    l.accounts.push_back(acct);
    if (i == 0) {
      owner_acct = acct;
    } else {
      AccountRow& first = ctx_.Row(owner_acct);
      AccountRow& row = ctx_.Row(acct);
      row.owners = first.owners;
      row.payment_fingerprint = first.payment_fingerprint;
      row.email_domains = first.email_domains;
    }
    uint32_t start = 3 * i;  // 3 reports apart: more than co_start_window
    auto* node = ctx_.NewNode(Dc(i), kH100);
    l.nodes.push_back(node->node_id());
    PROV_ASSIGN_OR_RETURN(double act, Activity(kLookAlikeShare * tier1_, 8, R - start, l.id));
    ctx_.NewTraining(*node, acct, start, R, act, EvalContext::PrivateImage(acct));
  }
  l.training_accounts = l.accounts;
  return absl::OkStatus();
}

absl::Status Generator::PublicImage(int inst) {
  const uint32_t R = ctx_.reports();
  Lineage& l = Add("lookalike_public_image", kRoleLookAlike, inst,
                   "6 unrelated teams training from the same public base image (more than "
                   "common_artifact_max_accounts = 5); combined above tier 1");
  // A popular public image: the background already uses it in more than
  // common_artifact_max_accounts accounts before these teams start (checked in GenerateEval).
  const std::string image = PublicImages()[kLookAlikeImage];
  for (int i = 0; i < 6; ++i) {
    std::string acct = ctx_.NewAccount();
    l.accounts.push_back(acct);
    uint32_t start = kLookAlikeFirstStart + i * std::max<uint32_t>(1, R / 12);
    auto* node = ctx_.NewNode(Dc(i + 3), kH100);
    l.nodes.push_back(node->node_id());
    PROV_ASSIGN_OR_RETURN(double act, Activity(kLookAlikeShare * tier1_, 8, R - start, l.id));
    ctx_.NewTraining(*node, acct, start, R, act, image);
  }
  l.training_accounts = l.accounts;
  return absl::OkStatus();
}

absl::Status Generator::InferenceFleet(int inst) {
  const uint32_t R = ctx_.reports();
  Lineage& l = Add("lookalike_inference_fleet", kRoleLookAlike, inst,
                   "a tensor-parallel vLLM serving fleet over 2 accounts (customer and managed "
                   "service provider): ranks, MASTER_ADDR and traffic across accounts, classed "
                   "inference; as training it would cross tier 1");
  std::vector<sim::v1::SimNode*> nodes;
  for (int i = 0; i < 2; ++i) {
    l.accounts.push_back(ctx_.NewAccount());
    for (int n = 0; n < 2; ++n) {
      nodes.push_back(ctx_.NewNode(Dc(4), kH100));
      l.nodes.push_back(nodes.back()->node_id());
    }
  }
  PROV_ASSIGN_OR_RETURN(double act, Activity(tier1_ / 2, 8, R, l.id));
  for (int n = 0; n < 4; ++n) {
    auto* w = ctx_.NewWorkload(*nodes[n], l.accounts[n / 2], 0, R);
    w->set_workload_class(provenance::v1::WORKLOAD_CLASS_INFERENCE);
    w->set_launcher("vllm");
    w->set_tensor_activity(act);
    w->set_image_digest(PublicImages()[4]);
    w->set_world_size(32);
    w->set_rank(8 * n);
    w->set_master_addr(nodes[0]->hostname());
    w->set_master_port(29500);
    w->add_listening_ports(8000);
    if (n == 0) {
      w->add_listening_ports(29500);
    } else {
      auto* p = w->add_peers();
      p->set_remote_address(nodes[0]->ip_address());
      p->set_remote_port(29500);
      p->set_bytes_per_report(uint64_t{1} << 30);
    }
  }
  return absl::OkStatus();
}

absl::Status Generator::CoStart(int inst) {
  const uint32_t R = ctx_.reports();
  Lineage& l = Add("lookalike_co_start", kRoleLookAlike, inst,
                   "5 unrelated accounts whose training jobs start in the same minute (same "
                   "report), in different data centres; combined above tier 1");
  const uint32_t start = 2;
  for (int i = 0; i < 5; ++i) {
    std::string acct = ctx_.NewAccount();
    l.accounts.push_back(acct);
    auto* node = ctx_.NewNode(Dc(i + 1), kH100);
    l.nodes.push_back(node->node_id());
    PROV_ASSIGN_OR_RETURN(double act, Activity(kLookAlikeShare * tier1_, 8, R - start, l.id));
    ctx_.NewTraining(*node, acct, start, R, act, EvalContext::PrivateImage(acct));
  }
  l.training_accounts = l.accounts;
  return absl::OkStatus();
}

absl::Status Generator::ExternalCoordinator(int inst) {
  const uint32_t R = ctx_.reports();
  const bool rendezvous = inst % 2 == 0;
  Lineage& l =
      Add("f_external_coordinator", kRoleAdversary, inst,
          rendezvous ? "one job over 3 accounts in 3 regions (the first on 2 nodes), no traffic "
                       "between them: every rank syncs through the same off-fleet c10d rendezvous "
                       "(MASTER_ADDR = the external IP, port 29400)"
                     : "one job over 4 accounts in 4 regions, no traffic between them and no "
                       "distributed markers: parameter-server style, every worker exchanges "
                       "gradients with the same off-fleet endpoint over port 443");
  // Synthetic off-fleet address (TEST-NET-2), one per instance, used by nobody else.
  const std::string endpoint = absl::StrFormat("198.51.100.%d", 10 + inst % 200);
  const uint32_t port = rendezvous ? 29400 : 443;
  const int accounts = rendezvous ? 3 : 4;
  for (int i = 0; i < accounts; ++i) l.accounts.push_back(ctx_.NewAccount());
  l.training_accounts = l.accounts;
  for (int n = 0; n < 4; ++n) {
    const int a = rendezvous ? std::max(0, n - 1) : n;  // rendezvous: account 0 on 2 nodes
    const int nodes_of_a = rendezvous && a == 0 ? 2 : 1;
    auto* node = ctx_.NewNode(DcInRegion(a), kH100);
    l.nodes.push_back(node->node_id());
    PROV_ASSIGN_OR_RETURN(double act, Activity(kAccountShare * tier1_, 8 * nodes_of_a, R, l.id));
    auto* w =
        ctx_.NewTraining(*node, l.accounts[a], 0, R, act, EvalContext::PrivateImage(l.accounts[a]));
    if (rendezvous) {
      w->set_world_size(32);
      w->set_rank(8 * n);
      w->set_master_addr(endpoint);
      w->set_master_port(port);
    } else {
      w->set_launcher("python");
    }
    auto* p = w->add_peers();
    p->set_remote_address(endpoint);
    p->set_remote_port(port);
    p->set_bytes_per_report(uint64_t{1} << (rendezvous ? 33 : 34));
  }
  return absl::OkStatus();
}

absl::Status Generator::Rhythm(int inst) {
  const uint32_t R = ctx_.reports();
  // Islands exchange weights every 30 to 60 minutes: at least two exchanges in the run.
  const uint32_t min_period = (30 * 60 + ctx_.interval() - 1) / ctx_.interval();
  if (R < 2 * min_period + 6) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--reports too small for the rhythm typology (two exchanges 30-60 minutes apart): need at "
        "least ",
        2 * min_period + 6, " reports of ", ctx_.interval(), " s"));
  }
  // A base period of 38-50 minutes, each interval +-20% of it: every interval within 30-60.
  uint32_t period = static_cast<uint32_t>((38 + ctx_.Uniform(13)) * 60 / ctx_.interval());
  period = std::max(min_period, std::min<uint32_t>(period, (R - 6) / 2));
  // The first exchange comes within the first period: a real run exchanges from its start.
  const uint32_t phase =
      3 + static_cast<uint32_t>(ctx_.Uniform(std::min(period, R - 2 * period - 3)));
  // Jittered like a real exchange (it waits for the slowest island; step times vary): each
  // interval is the period +-20% (clamped to 30-60 minutes only where --reports forces a
  // shorter period).
  const uint32_t max_period = std::max(min_period, 3600 / ctx_.interval());
  std::vector<uint32_t> exchanges;
  for (uint32_t k = phase; k < R;) {
    exchanges.push_back(k);
    const int64_t jitter = static_cast<int64_t>(ctx_.Uniform(2 * (period / 5) + 1)) - period / 5;
    k += static_cast<uint32_t>(
        std::clamp<int64_t>(int64_t{period} + jitter, min_period, max_period));
  }
  const bool direct = inst % 2 == 0;
  Lineage& l =
      Add("g_rhythm", kRoleAdversary, inst,
          absl::StrFormat(
              "3 islands (accounts, 2 nodes each, own NCCL ring) in 3 regions train one model and "
              "exchange weights every %d reports (%d min, +-20%% jitter) from report %d, all "
              "stalling then: %s",
              period, period * ctx_.interval() / 60, phase,
              direct ? "island 0 of each sends to the next island's first node"
                     : "each island uploads to its own off-fleet store (no shared endpoint)"));
  rhythm_plans[l.id] = RhythmPlan{exchanges, period, direct};
  std::vector<std::vector<sim::v1::SimNode*>> islands(3);
  for (int i = 0; i < 3; ++i) {
    l.accounts.push_back(ctx_.NewAccount());
    for (int n = 0; n < 2; ++n) {
      islands[i].push_back(ctx_.NewNode(DcInRegion(i + 1), kH100));
      l.nodes.push_back(islands[i].back()->node_id());
    }
  }
  l.training_accounts = l.accounts;
  const uint32_t active = R - static_cast<uint32_t>(exchanges.size());
  PROV_ASSIGN_OR_RETURN(double act, Activity(kAccountShare * tier1_, 16, active, l.id));
  for (int i = 0; i < 3; ++i) {
    const std::string& acct = l.accounts[i];
    for (int n = 0; n < 2; ++n) {
      const sim::v1::SimNode& node = *islands[i][n];
      auto* w = ctx_.NewTraining(node, acct, 0, R, act, EvalContext::PrivateImage(acct));
      w->set_launcher(i == 1 ? "deepspeed" : "torchrun");
      w->set_world_size(16);
      w->set_rank(8 * n);
      w->set_master_addr(islands[i][0]->ip_address());
      w->set_master_port(29500);
      w->add_listening_ports(43000);
      if (n == 0) w->add_listening_ports(29500);
      auto* ring = w->add_peers();
      ring->set_remote_address(islands[i][1 - n]->ip_address());
      ring->set_remote_port(43000);
      ring->set_bytes_per_report(uint64_t{1} << 32);
      for (uint32_t k : exchanges) w->add_idle_reports(k);
      if (n != 0) continue;
      // One connection per exchange (prov-sim's periodic peers cannot follow a jittered
      // schedule): a peer whose period is the whole run fires once, at its phase.
      for (uint32_t k : exchanges) {
        auto* x = w->add_peers();
        x->set_remote_address(direct ? islands[(i + 1) % 3][0]->ip_address()
                                     : absl::StrFormat("203.0.113.%d", 150 + (3 * inst + i) % 100));
        x->set_remote_port(direct ? 29600 : 443);
        x->set_bytes_per_report(uint64_t{1} << 34);
        x->set_period_reports(R);
        x->set_phase_report(k);
      }
    }
  }
  return absl::OkStatus();
}

absl::Status Generator::SharedTracker(int inst) {
  const uint32_t R = ctx_.reports();
  Lineage& l = Add("lookalike_shared_tracker", kRoleLookAlike, inst,
                   "3 unrelated teams (a university's labs) log metrics to the same self-hosted "
                   "off-fleet tracker (port 5000, 1 MiB up and 32 KiB down a report), used by "
                   "nobody else; combined above tier 1");
  const std::string tracker = absl::StrFormat("198.51.100.%d", 220 + inst % 30);
  for (int i = 0; i < 3; ++i) {
    std::string acct = ctx_.NewAccount();
    l.accounts.push_back(acct);
    const uint32_t start = 2 + 4 * i;
    auto* node = ctx_.NewNode(Dc(i + 2), kH100);
    l.nodes.push_back(node->node_id());
    PROV_ASSIGN_OR_RETURN(double act, Activity(kLookAlikeShare * tier1_, 8, R - start, l.id));
    auto* w = ctx_.NewTraining(*node, acct, start, R, act, EvalContext::PrivateImage(acct));
    auto* p = w->add_peers();
    p->set_remote_address(tracker);
    p->set_remote_port(5000);
    p->set_bytes_per_report(uint64_t{1} << 20);           // metrics and logs: 1 MiB a report
    p->set_bytes_received_per_report(uint64_t{1} << 15);  // acknowledgements: 32 KiB
  }
  l.training_accounts = l.accounts;
  return absl::OkStatus();
}

// When the evidence joining a rhythm lineage's islands exists (issue 9). Islands that send to
// each other (even instances) show it with their first exchange's traffic. Islands that only
// share their exchange times (odd instances) cannot be told from chance until their shared
// cycles are rarer than chance can explain among every pair of training workloads of the world:
// two independent series whose intervals are drawn, like the islands', uniformly from
// period +-period/5 reports agree within one report with probability a = (3W - 2) / W^2
// (W = 2 x (period/5) + 1 values); m shared intervals happen by chance to some pair with
// probability about P x a^m for P pairs. The evidence exists at the exchange ending the m-th
// shared interval with P x a^m <= 0.1 (at most one chance in ten that any pair of the world
// looks as aligned). This is the typology's own statistics, not provd's threshold. Returns the
// report index, or nullopt when the run ends first (the note says what it would need).
std::optional<uint32_t> RhythmEvidenceReport(const Generator::RhythmPlan& plan,
                                             double training_pairs, std::string* note) {
  if (plan.direct) {
    *note = absl::StrFormat("islands send to each other from their first exchange (report %d)",
                            plan.exchanges.front());
    return plan.exchanges.front();
  }
  const double w = 2.0 * (plan.period / 5) + 1;
  const double a = (3 * w - 2) / (w * w);
  const int m =
      static_cast<int>(std::ceil(std::log(0.1 / std::max(training_pairs, 1.0)) / std::log(a)));
  if (static_cast<size_t>(m) >= plan.exchanges.size()) {
    *note = absl::StrFormat(
        "only their exchange times link them: %d shared intervals (chance agreement %.3f each) "
        "are needed to be rarer than 1 in 10 among %.3g pairs of training workloads; the run has "
        "%d exchanges (%d intervals): NOT linkable by anyone in this world (more --reports)",
        m, a, training_pairs, plan.exchanges.size(), plan.exchanges.size() - 1);
    return std::nullopt;
  }
  *note = absl::StrFormat(
      "only their exchange times link them: %d shared intervals (chance agreement %.3f each) are "
      "rarer than 1 in 10 among %.3g pairs of training workloads; the %d-th exchange (report %d) "
      "completes them",
      m, a, training_pairs, m + 1, plan.exchanges[m]);
  return plan.exchanges[m];
}

// Listed entities usable for the reseller typology: Entity List names with 2+ core tokens.
std::vector<const screening::CslEntry*> ListedEntities(const screening::CslList& csl,
                                                       const screening::NameNormalizer& norm) {
  std::vector<const screening::CslEntry*> out;
  for (const auto& e : csl.entries) {
    if (e.source.find("Entity List") == std::string::npos) continue;
    auto n = norm.Normalize(e.name);
    int long_tokens = 0;
    for (const auto& t : n.tokens) long_tokens += t.size() >= 3 ? 1 : 0;
    if (long_tokens >= 2) out.push_back(&e);
  }
  return out;
}

// The listed name written differently: token order, punctuation, legal form, case.
std::string Variant(const screening::CslEntry& e, const screening::NameNormalizer& norm, int v) {
  auto n = norm.Normalize(e.name);
  std::vector<std::string> core = n.tokens;
  switch (v % 3) {
    case 0:
      std::reverse(core.begin(), core.end());
      return absl::AsciiStrToUpper(absl::StrCat(absl::StrJoin(core, " "), " COMPANY LIMITED"));
    case 1:
      return absl::StrCat(absl::StrJoin(core, " "), ", l.l.c.");
    default: {
      for (auto& t : core) t[0] = absl::ascii_toupper(t[0]);
      std::string joined = core.size() >= 2 ? absl::StrCat(core[0], "-", core[1]) : core[0];
      for (size_t i = 2; i < core.size(); ++i) absl::StrAppend(&joined, " ", core[i]);
      return absl::StrCat(joined, " Co., Ltd");
    }
  }
}

}  // namespace

std::string AccountsCsv(const std::vector<AccountRow>& rows) {
  auto q = [](const std::string& s) { return CsvField(s); };
  std::string out =
      "account_id,legal_entity,country_of_incorporation,beneficial_owners,addresses,"
      "payment_fingerprint,email_domains,source_ips,parent_account,is_reseller\n";
  for (const auto& r : rows) {
    absl::StrAppend(&out, q(r.account_id), ",", q(r.legal_entity), ",", q(r.country), ",",
                    q(absl::StrJoin(r.owners, ";")), ",", q(absl::StrJoin(r.addresses, ";")), ",",
                    q(r.payment_fingerprint), ",", q(absl::StrJoin(r.email_domains, ";")), ",",
                    q(absl::StrJoin(r.source_ips, ";")), ",", q(r.parent_account), ",",
                    r.is_reseller ? "true" : "false", "\n");
  }
  return out;
}

absl::StatusOr<EvalOutput> GenerateEval(const EvalOptions& o, const screening::CslList& csl,
                                        const TraceData& traces) {
  if (o.reports < 30) return absl::InvalidArgumentError("--reports: must be >= 30");
  if (o.interval_seconds < 10 || o.interval_seconds > 600) {
    return absl::InvalidArgumentError("--interval: must be 10..600 seconds");
  }
  if (o.realistic && o.names == nullptr) {
    return absl::InvalidArgumentError("realistic: name tables are required");
  }
  const uint32_t instances = o.instances != 0 ? o.instances : std::max<uint32_t>(1, o.nodes / 400);
  const uint32_t hardware_nodes = o.hardware ? kHardwareNodesPerInstance * instances : 0;
  const uint32_t lineage_nodes =
      (kNodesPerInstance + (o.realistic ? kRealisticNodesPerInstance : 0)) * instances +
      hardware_nodes;
  if (o.nodes < lineage_nodes + 10) {
    return absl::InvalidArgumentError(absl::StrCat("--nodes: ", o.nodes, " is too few for ",
                                                   instances, " instance(s): need at least ",
                                                   lineage_nodes + 10));
  }
  const uint32_t bg_nodes = o.nodes - lineage_nodes;
  // The hardware lineages run few workloads: only the others count against --workloads.
  const uint32_t workload_nodes = lineage_nodes - hardware_nodes;
  const uint32_t bg_workloads =
      std::max<uint32_t>(bg_nodes, o.workloads > workload_nodes ? o.workloads - workload_nodes : 0);

  EvalOutput out;
  EvalContext ctx(o.seed, o.interval_seconds, o.reports);
  if (o.realistic) ctx.set_population(o.names);
  // Realistic: about 15% of the background nodes carry multi-node runs that are then re-let.
  uint32_t multi_nodes = o.realistic ? bg_nodes * 15 / 100 : 0;
  if (multi_nodes < 2) multi_nodes = 0;
  AddBackground(&ctx, {.nodes = bg_nodes - multi_nodes, .workloads = bg_workloads}, traces);
  if (o.realistic) {
    AddRealisticBackground(&ctx, {.nodes = multi_nodes, .dormant_accounts = o.dormant_accounts},
                           traces);
  }

  // Tier 1: above every background account (x1.25) and such that one H100 node training at
  // tensor activity 0.45 for the whole run reaches 0.8 of it.
  const AcceleratorCatalog& catalog = AcceleratorCatalog::Builtin();
  double max_bg = 0;
  {
    FlopModel bg = FlopModel::Compute(ctx.scenario(), catalog);
    for (const auto& [acct, flop] : bg.totals()) max_bg = std::max(max_bg, flop);
  }
  const double design = 8.0 * o.reports * o.interval_seconds * kH100Peak * 0.45 / kAccountShare;
  const double tier1 = RoundUp3(std::max(1.25 * max_bg, design));

  screening::NameNormalizer norm;
  screening::Screener screener(csl, norm, {.threshold = kMinScore});
  std::vector<const screening::CslEntry*> listed = ListedEntities(csl, norm);
  if (listed.empty()) {
    return absl::InvalidArgumentError(
        "--csl: the screening list has no Entity List entry with a multi-word name");
  }

  {
    // The public-image look-alike must meet an image that is already common when it starts.
    absl::flat_hash_set<std::string> users;
    for (const auto& w : ctx.scenario().workloads()) {
      if (w.image_digest() == PublicImages()[kLookAlikeImage] &&
          w.start_report() < kLookAlikeFirstStart) {
        users.insert(w.account());
      }
    }
    if (users.size() <= 5) {
      return absl::FailedPreconditionError(absl::StrCat(
          "only ", users.size(), " background accounts use the public image before report ",
          kLookAlikeFirstStart, ": too few background nodes (need more than 5 users)"));
    }
    out.checks.push_back(absl::StrCat("the public-image look-alike's image is used by ",
                                      users.size(), " background accounts before it starts"));
  }
  Generator gen(&ctx, tier1, o.realistic);
  int variant = 0;
  for (uint32_t inst = 0; inst < instances; ++inst) {
    PROV_RETURN_IF_ERROR(gen.ShellAccounts(inst));
    // A variant of a listed name that the screener still matches at the policy's min_score.
    std::string name;
    for (size_t tries = 0; tries < 3 * listed.size() && name.empty(); ++tries, ++variant) {
      const auto* entry = listed[(inst + tries) % listed.size()];
      std::string v = Variant(*entry, norm, variant);
      for (const auto& hit : screener.Screen(v)) {
        if (hit.entry == entry && v != entry->name) name = v;
      }
    }
    if (name.empty()) {
      return absl::FailedPreconditionError(
          "--csl: no variant of a listed entity name screens at min_score 0.88");
    }
    PROV_RETURN_IF_ERROR(gen.LayeredResellers(inst, name));
    PROV_RETURN_IF_ERROR(gen.SplitPackages(inst));
    PROV_RETURN_IF_ERROR(gen.Handoff(inst));
    PROV_RETURN_IF_ERROR(gen.RestrictedHardware(inst));
    PROV_RETURN_IF_ERROR(gen.LargeCustomer(inst));
    PROV_RETURN_IF_ERROR(gen.PublicImage(inst));
    PROV_RETURN_IF_ERROR(gen.InferenceFleet(inst));
    PROV_RETURN_IF_ERROR(gen.CoStart(inst));
    if (o.hardware) {
      PROV_RETURN_IF_ERROR(AddHardwareTypologies(&ctx, static_cast<int>(inst), gen.dc_base()));
    }
    if (o.realistic) {
      PROV_RETURN_IF_ERROR(gen.ExternalCoordinator(inst));
      PROV_RETURN_IF_ERROR(gen.Rhythm(inst));
      PROV_RETURN_IF_ERROR(gen.SharedTracker(inst));
    }
    gen.NextInstance();
  }

  GroundTruth& truth = ctx.truth();
  truth.tiers = {{"eval-tier-1", tier1}, {"eval-tier-2", tier1 * 10}, {"eval-tier-3", tier1 * 100}};
  truth.screening_min_score = kMinScore;
  truth.seed = o.seed;
  truth.interval_seconds = o.interval_seconds;
  truth.reports_per_node = o.reports;

  // Ground truth from the FLOP provd's own ledger code will count, and the checks.
  FlopModel model = FlopModel::Compute(ctx.scenario(), catalog);
  double max_background = 0;
  absl::flat_hash_set<std::string> listed_holders(gen.resellers_listed.begin(),
                                                  gen.resellers_listed.end());
  // Pairs of training workloads of the world (the chance a rhythm must beat; see above).
  double training_workloads = 0;
  for (const auto& w : ctx.scenario().workloads()) {
    training_workloads += w.workload_class() == provenance::v1::WORKLOAD_CLASS_TRAINING;
  }
  const double training_pairs = training_workloads * (training_workloads - 1) / 2;
  for (Lineage& l : truth.lineages) {
    l.combined_flop_low = model.TotalTrainingFlop(l.training_accounts);
    for (const auto& a : l.training_accounts) {
      l.max_account_flop_low = std::max(l.max_account_flop_low, model.AccountTrainingFlop(a));
    }
    if (l.max_account_flop_low >= tier1) {
      return absl::InternalError(absl::StrCat(l.id, ": one account alone reaches tier 1 (",
                                              l.max_account_flop_low, " >= ", tier1, ")"));
    }
    if (l.role == kRoleBackground) {
      max_background = std::max(max_background, l.combined_flop_low);
      continue;
    }
    bool compute_lineage = l.typology == "a_shell_accounts" || l.typology == "c_split_packages" ||
                           l.typology == "d_handoff" || l.typology == "f_external_coordinator" ||
                           l.typology == "g_rhythm";
    if (auto plan = gen.rhythm_plans.find(l.id); plan != gen.rhythm_plans.end()) {
      std::optional<uint32_t> k =
          RhythmEvidenceReport(plan->second, training_pairs, &l.evidence_note);
      // Beyond the run when the world is too short: the flag is still expected (and missed).
      l.evidence_offset_s = static_cast<double>(k ? *k : o.reports) * o.interval_seconds;
      if (!k) out.checks.push_back(absl::StrCat("WARNING ", l.id, ": ", l.evidence_note));
    }
    if (compute_lineage) {
      for (const auto& tier : truth.tiers) {
        if (l.combined_flop_low >= tier.flop) {
          l.expected.push_back({RuleTier(tier.name), "bundle", "", l.training_accounts, {}});
        }
      }
      if (l.combined_flop_low < tier1) {
        return absl::InternalError(absl::StrCat(l.id, ": combined FLOP ", l.combined_flop_low,
                                                " stays below tier 1 ", tier1));
      }
    }
    if (l.role == kRoleLookAlike && l.typology != "lookalike_inference_fleet" &&
        !IsHardwareTypology(l.typology) && l.combined_flop_low < tier1) {
      return absl::InternalError(absl::StrCat(l.id,
                                              ": look-alike's combined FLOP is below tier "
                                              "1, so it would test nothing"));
    }
    if (l.typology == "d_handoff") {
      auto cross = model.CrossingOffset(l.training_accounts, tier1);
      auto b_start = model.FirstTrainingOffset({l.training_accounts[1]});
      if (!cross || !b_start || *cross <= *b_start) {
        return absl::InternalError(absl::StrCat(l.id, ": crosses tier 1 before the hand-off"));
      }
    }
  }
  truth.max_background_account_flop_low = max_background;
  out.checks.push_back(absl::StrFormat(
      "tier 1 = %.3g FLOP; largest background account %.3g FLOP (%.0f%% of tier 1): every "
      "background account stays below the lowest tier",
      tier1, max_background, 100 * max_background / tier1));
  out.checks.push_back(
      "every adversary and look-alike account alone is below tier 1; compute lineages (a, c, d, "
      "and f, g when realistic) and look-alikes (large customer, public image, co-start, shared "
      "tracker) are above it combined");

  // Screening: only the listed resellers' names may hit. In the realistic mode benign accounts
  // whose owner or company shares a name with a listed party (homonyms) are expected, counted and
  // named in their lineage's description; they remain benign (no flag expected).
  absl::flat_hash_map<std::string, std::string> homonyms;  // account -> "name ~ listed name"
  for (const auto& row : ctx.accounts()) {
    std::vector<std::string> names = {row.legal_entity};
    for (const auto& owner : row.owners) names.push_back(owner.substr(0, owner.rfind(" (")));
    bool hit = false;
    for (const auto& n : names) {
      auto hits = screener.Screen(n);
      if (!hits.empty() && !homonyms.contains(row.account_id)) {
        homonyms[row.account_id] =
            absl::StrCat("'", n, "' ~ '", hits[0].entry->name, "' (", hits[0].entry->source, ")");
      }
      hit = hit || !hits.empty();
    }
    if (listed_holders.contains(row.account_id)) {
      if (!hit) {
        return absl::InternalError(absl::StrCat("account ", row.account_id, " ('", row.legal_entity,
                                                "'): screening misses"));
      }
      homonyms.erase(row.account_id);
    } else if (hit && !o.realistic) {
      return absl::InternalError(absl::StrCat("account ", row.account_id, " ('", row.legal_entity,
                                              "'): screening hits unexpectedly"));
    }
  }
  if (o.realistic) {
    size_t benign_homonyms = 0;
    for (Lineage& l : truth.lineages) {
      for (const auto& a : l.accounts) {
        auto it = homonyms.find(a);
        if (it == homonyms.end()) continue;
        absl::StrAppend(&l.description, "; homonym of a listed party: ", it->second);
        benign_homonyms += l.role != kRoleAdversary;
      }
    }
    out.checks.push_back(absl::StrFormat(
        "screened %d accounts against %s (min_score %.2f): the %d listed resellers hit, and %d "
        "benign accounts (%.1f per 1,000) share a name with a listed party (homonyms: no flag "
        "expected)",
        ctx.accounts().size(), csl.version, kMinScore, listed_holders.size(), benign_homonyms,
        1000.0 * benign_homonyms / ctx.accounts().size()));
  } else {
    out.checks.push_back(absl::StrFormat(
        "screened %d accounts against %s (min_score %.2f): only the %d listed resellers hit",
        ctx.accounts().size(), csl.version, kMinScore, listed_holders.size()));
  }

  sim::v1::Scenario& s = ctx.scenario();
  s.set_name(absl::StrFormat("eval-seed%d-n%d-w%d", o.seed, s.nodes_size(), s.workloads_size()));
  s.set_provenance_note(absl::StrCat(
      "EVALUATION scenario (prov-eval-gen): adversaries, look-alikes, accounts, identities, "
      "regions, sites, models, classes, digests and activity pauses are a SYNTHETIC overlay; ",
      o.hardware ? "so are the hardware events, card serials and UUIDs and the declared inventory; "
                 : "",
      o.traces_note.empty() ? "background job shapes and utilisation are synthetic too"
                            : o.traces_note,
      o.realistic ? absl::StrCat("; REALISTIC background (synthetic overlay: re-let multi-node "
                                 "runs, gradually adopted public artifacts, checkpoint stalls, "
                                 "popular off-fleet endpoints, dormant accounts); ",
                                 o.names->note)
                  : ""));
  truth.scenario = s.name();
  truth.provenance_note = s.provenance_note();

  out.accounts_csv = AccountsCsv(ctx.accounts());
  auto kyc = kyc::ParseKyc(out.accounts_csv, kyc::KycFormat::kCsv, "accounts.csv");
  if (!kyc.ok()) return kyc.status();
  if (!kyc->errors.empty()) {
    return absl::InternalError(absl::StrCat("accounts.csv: ", kyc->errors[0].message));
  }
  out.checks.push_back(
      absl::StrFormat("accounts.csv: %d rows parse with provd's KYC parser", kyc->accounts.size()));
  out.policy_yaml = EvalPolicyYaml(truth, o);
  auto policy = policy::ParsePolicy(out.policy_yaml, "policy.yaml");
  if (!policy.ok()) return policy.status();
  out.checks.push_back(absl::StrCat("policy.yaml parses with provd's policy loader (version ",
                                    policy->version, ")"));
  // The declared inventory, read back with provd's own parser.
  {
    sim::HardwarePlan plan(s);
    std::vector<std::pair<uint32_t, std::string>> files = {{0, "inventory.csv"}};
    for (uint32_t k : sim::InventoryUpdateReports(s)) {
      files.emplace_back(k, sim::InventoryUpdatePath("inventory.csv", k));
    }
    size_t rows = 0;
    for (const auto& [k, name] : files) {
      std::string csv = sim::InventoryCsv(k == 0 ? sim::DeclaredInventory(s, plan, catalog, 0)
                                                 : sim::InventoryUpdate(s, plan, catalog, k));
      auto parsed = inventory::ParseInventory(csv, inventory::InventoryFormat::kCsv, name);
      if (!parsed.ok()) return parsed.status();
      if (!parsed->errors.empty()) {
        return absl::InternalError(absl::StrCat(name, ": ", parsed->errors[0].message));
      }
      rows += parsed->rows.size();
      out.inventory_files.emplace_back(name, std::move(csv));
    }
    out.checks.push_back(absl::StrFormat(
        "declared inventory: %d files (%d rows, %d hardware events) parse with provd's inventory "
        "parser",
        files.size(), rows, s.hardware_events_size()));
  }
  out.scenario = std::move(s);
  out.truth = std::move(truth);
  return out;
}

}  // namespace prov::eval
