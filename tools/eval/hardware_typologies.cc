#include "tools/eval/hardware_typologies.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/prov-sim/hardware_plan.h"

namespace prov::eval {
namespace {

using sim::CardSerial;
using sim::v1::SimHardwareEvent;

constexpr double kLightActivity = 0.15;  // far below tier 1: these lineages test hardware only
constexpr char kSynthetic[] = " (SYNTHETIC overlay: the event is simulated by prov-sim)";

class HardwareGenerator {
 public:
  HardwareGenerator(EvalContext* ctx, int inst, int dc_base)
      : ctx_(*ctx), inst_(inst), dc_base_(dc_base) {}

  absl::Status Run() {
    const uint32_t R = ctx_.reports();
    event_at_ = R / 4;
    declared_at_ = R / 2;
    Relabelled();
    Moved();
    Cloned();
    SilentNode();
    SilentCard();
    UndeclaredCard();
    UndeclaredNode();
    Assignment();
    RmaSwap();
    PlannedMove();
    Maintenance();
    Reboot();
    return absl::OkStatus();
  }

 private:
  Lineage& Add(const std::string& typology, const char* role, std::string description) {
    Lineage l;
    l.id = absl::StrFormat("L-%s-%03d", typology, inst_ + 1);
    l.typology = typology;
    l.role = role;
    l.description = absl::StrCat(description, kSynthetic);
    ctx_.truth().lineages.push_back(std::move(l));
    return ctx_.truth().lineages.back();
  }
  // A new node (its id; the SimNode pointer does not survive the next NewNode) in the lineage.
  std::string Node(Lineage& l, int dc, const NodeModel& model = kH100) {
    sim::v1::SimNode* node = ctx_.NewNode((dc_base_ + dc) % ctx_.DatacenterCount(), model);
    std::string id = node->node_id();
    l.nodes.push_back(id);
    for (uint32_t s = 0; s < model.count; ++s) l.serials.push_back(CardSerial(id, s));
    return id;
  }
  sim::v1::SimNode& Find(const std::string& node_id) {
    for (auto& n : *ctx_.scenario().mutable_nodes()) {
      if (n.node_id() == node_id) return n;
    }
    return *ctx_.scenario().mutable_nodes()->rbegin();  // not reached: ids come from Node()
  }
  // The node rented to `account`, which trains lightly on `count` cards from `first`.
  std::string Rent(Lineage& l, const std::string& node_id, uint32_t first = 0, uint32_t count = 8,
                   uint32_t start = 0) {
    std::string acct = ctx_.NewAccount();
    l.accounts.push_back(acct);
    Find(node_id).set_rented_to(acct);
    Train(node_id, acct, first, count, start);
    return acct;
  }
  void Train(const std::string& node_id, const std::string& acct, uint32_t first, uint32_t count,
             uint32_t start) {
    auto* w = ctx_.NewTraining(Find(node_id), acct, start, ctx_.reports() - start, kLightActivity,
                               EvalContext::PrivateImage(acct));
    w->set_first_accelerator(first);
    w->set_accelerator_count(count);
  }
  SimHardwareEvent* Event(SimHardwareEvent::Kind kind, const std::string& node_id, uint32_t at) {
    auto* e = ctx_.scenario().add_hardware_events();
    e->set_kind(kind);
    e->set_node_id(node_id);
    e->set_at_report(at);
    return e;
  }
  size_t LastEventIndex() const { return ctx_.scenario().hardware_events_size() - 1; }
  static ExpectedFlag OnCard(const std::string& rule, const std::string& serial,
                             std::vector<std::string> nodes,
                             std::vector<std::string> accounts = {}) {
    return {rule, "accelerator", serial, std::move(accounts), std::move(nodes)};
  }
  static ExpectedFlag OnNode(const std::string& rule, const std::string& node_id) {
    return {rule, "node", node_id, {}, {node_id}};
  }

  void Relabelled() {
    Lineage& l = Add("h_relabelled", kRoleAdversary,
                     "a node of Huawei Ascend 910B cards (PCI 0x19e5:0xd802) that the declared "
                     "inventory lists as A100 SXM4 80GB (0x10de:0x20b2), training from the start");
    std::string node = Node(l, 0, kA100);
    std::string acct = Rent(l, node);
    auto* e = Event(SimHardwareEvent::KIND_RELABEL, node, 0);
    e->set_vendor_id(kAscend910B.vendor_id);
    e->set_device_id(kAscend910B.device_id);
    for (uint32_t s = 0; s < kA100.count; ++s) {
      l.expected.push_back(OnCard("hardware_relabelled", CardSerial(node, s), {node}));
    }
    l.expected.push_back({"restricted_hardware:huawei-ascend", "node", node, {acct}, {}});
  }
  void Moved() {
    Lineage& l = Add("h_moved", kRoleAdversary,
                     absl::StrFormat("a card moved to a node in another data centre at report %d; "
                                     "the inventory still declares it in its old node",
                                     event_at_));
    std::string a = Node(l, 1), b = Node(l, 2);
    auto* e = Event(SimHardwareEvent::KIND_MOVE_CARD, a, event_at_);
    e->set_slot(7);
    e->set_to_node_id(b);
    l.expected.push_back(OnCard("hardware_moved", CardSerial(a, 7), {a, b}));
  }
  void Cloned() {
    Lineage& l = Add("h_cloned_identity", kRoleAdversary,
                     absl::StrFormat("from report %d a second node reports a card with the serial "
                                     "and UUID of a card still reporting in its declared node",
                                     event_at_));
    std::string a = Node(l, 3), b = Node(l, 4);
    auto* e = Event(SimHardwareEvent::KIND_CLONE_CARD, a, event_at_);
    e->set_slot(0);
    e->set_to_node_id(b);
    l.expected.push_back(OnCard("hardware_cloned_identity", CardSerial(a, 0), {a, b}));
  }
  void SilentNode() {
    Lineage& l = Add("h_silent_node", kRoleAdversary,
                     absl::StrFormat("an in-service node stops reporting at report %d (kept "
                                     "offline); the inventory still declares it in service",
                                     event_at_));
    std::string a = Node(l, 5);
    Event(SimHardwareEvent::KIND_NODE_SILENT, a, event_at_);
    l.expected.push_back(OnNode("hardware_silent", a));
  }
  void SilentCard() {
    Lineage& l = Add("h_silent_card", kRoleAdversary,
                     absl::StrFormat("an in-service card disappears from its node's reports at "
                                     "report %d (pulled or hidden); the node keeps reporting",
                                     event_at_));
    std::string a = Node(l, 6);
    Event(SimHardwareEvent::KIND_CARD_SILENT, a, event_at_)->set_slot(3);
    l.expected.push_back(OnCard("hardware_silent", CardSerial(a, 3), {a}));
  }
  void UndeclaredCard() {
    Lineage& l = Add("h_undeclared_card", kRoleAdversary,
                     absl::StrFormat("a declared node reports a ninth card from report %d that "
                                     "has no inventory row (dark hardware)",
                                     event_at_));
    std::string a = Node(l, 7);
    Event(SimHardwareEvent::KIND_UNDECLARED_CARD, a, event_at_);
    l.serials.push_back(sim::AddedCardSerial(a, LastEventIndex()));
    l.expected.push_back(OnNode("hardware_undeclared", a));
  }
  void UndeclaredNode() {
    Lineage& l = Add("h_undeclared_node", kRoleAdversary,
                     "a node that the declared inventory does not know at all reports 8 cards "
                     "(dark node)");
    std::string a = Node(l, 8);
    Find(a).set_undeclared(true);
    l.expected.push_back(OnNode("hardware_undeclared", a));
  }
  void Assignment() {
    Lineage& l = Add("h_assignment", kRoleAdversary,
                     absl::StrFormat("a node rented to one account (training on cards 2-7) runs "
                                     "another account's workload on cards 0-1 from report %d "
                                     "(fibre to the next rack)",
                                     event_at_));
    std::string a = Node(l, 9);
    std::string renter = Rent(l, a, 2, 6);
    std::string other = ctx_.NewAccount();
    l.accounts.push_back(other);
    Train(a, other, 0, 2, event_at_);
    for (uint32_t s = 0; s < 2; ++s) {
      l.expected.push_back(OnCard("hardware_assignment", CardSerial(a, s), {a}, {renter, other}));
    }
  }
  void RmaSwap() {
    Lineage& l = Add("lookalike_rma_swap", kRoleLookAlike,
                     absl::StrFormat("a failed card replaced under RMA at report %d: new serial "
                                     "and UUID in the same slot, recorded by a re-imported "
                                     "inventory (old serial rma, new one in service) before the "
                                     "new card first reports",
                                     declared_at_));
    std::string a = Node(l, 10);
    Rent(l, a);
    auto* e = Event(SimHardwareEvent::KIND_SWAP_CARD, a, declared_at_);
    e->set_slot(2);
    e->set_declared(true);
    l.serials.push_back(sim::AddedCardSerial(a, LastEventIndex()));
  }
  void PlannedMove() {
    Lineage& l = Add("lookalike_planned_move", kRoleLookAlike,
                     absl::StrFormat("a card moved to another node at report %d as planned: the "
                                     "re-imported inventory declares its new node first",
                                     declared_at_));
    std::string a = Node(l, 11), b = Node(l, 12);
    auto* e = Event(SimHardwareEvent::KIND_MOVE_CARD, a, declared_at_);
    e->set_slot(5);
    e->set_to_node_id(b);
    e->set_declared(true);
  }
  void Maintenance() {
    Lineage& l = Add("lookalike_maintenance", kRoleLookAlike,
                     absl::StrFormat("a node taken out for maintenance at report %d: re-imported "
                                     "as spare, then silent",
                                     declared_at_));
    std::string a = Node(l, 13);
    auto* e = Event(SimHardwareEvent::KIND_NODE_SILENT, a, declared_at_);
    e->set_declared(true);
    e->set_declared_status("spare");
  }
  void Reboot() {
    Lineage& l = Add("lookalike_reboot", kRoleLookAlike,
                     absl::StrFormat("a rented node used by its renter reboots at report %d: new "
                                     "boot id, the same cards",
                                     declared_at_));
    std::string a = Node(l, 14);
    Rent(l, a);
    Event(SimHardwareEvent::KIND_REBOOT, a, declared_at_);
  }

  EvalContext& ctx_;
  int inst_;
  int dc_base_;
  uint32_t event_at_ = 0, declared_at_ = 0;
};

}  // namespace

absl::Status AddHardwareTypologies(EvalContext* ctx, int inst, int dc_base) {
  if (ctx->reports() < 8) {
    return absl::InvalidArgumentError("--reports: hardware typologies need at least 8");
  }
  return HardwareGenerator(ctx, inst, dc_base).Run();
}

bool IsHardwareTypology(const std::string& typology) {
  return absl::StartsWith(typology, "h_") || typology == "lookalike_rma_swap" ||
         typology == "lookalike_planned_move" || typology == "lookalike_maintenance" ||
         typology == "lookalike_reboot";
}

}  // namespace prov::eval
