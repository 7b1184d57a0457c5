#include "tools/prov-sim/hardware_plan.h"

#include <algorithm>
#include <numeric>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/sha256.h"

namespace prov::sim {
namespace {

using Kind = v1::SimHardwareEvent;

bool NeedsSlot(v1::SimHardwareEvent::Kind kind, bool one_slot) {
  switch (kind) {
    case Kind::KIND_MOVE_CARD:
    case Kind::KIND_CLONE_CARD:
    case Kind::KIND_CARD_SILENT:
    case Kind::KIND_SWAP_CARD:
      return true;
    case Kind::KIND_RELABEL:
      return one_slot;
    default:
      return false;
  }
}

bool MayBeDeclared(v1::SimHardwareEvent::Kind kind) {
  return kind == Kind::KIND_MOVE_CARD || kind == Kind::KIND_SWAP_CARD ||
         kind == Kind::KIND_NODE_SILENT || kind == Kind::KIND_CARD_SILENT ||
         kind == Kind::KIND_UNDECLARED_CARD;
}

}  // namespace

std::string CardSerial(const std::string& node_id, uint32_t slot) {
  return absl::StrFormat("SIMSN%s%02d", Sha256Hex(node_id).substr(0, 10), slot);
}

std::string CardUuid(const std::string& serial) {
  std::string h = Sha256Hex(absl::StrCat("uuid:", serial));
  return absl::StrCat("GPU-", h.substr(0, 8), "-", h.substr(8, 4), "-", h.substr(12, 4), "-",
                      h.substr(16, 4), "-", h.substr(20, 12));
}

std::string AddedCardSerial(const std::string& node_id, size_t event) {
  return CardSerial(absl::StrCat(node_id, "#event", event), 0);
}

std::string PciAddress(uint32_t slot) { return absl::StrFormat("0000:%02x:00.0", 0x10 + slot); }

namespace {

// Builds the plan; with `error` set, stops at the first invalid event and says why.
class PlanBuilder {
 public:
  PlanBuilder(const v1::Scenario& s, std::vector<std::vector<SimCard>>* cards,
              std::vector<uint32_t>* silent_from, std::vector<std::vector<uint32_t>>* reboots,
              std::vector<uint32_t>* next_slot, std::vector<EventCards>* events)
      : s_(s),
        cards_(*cards),
        silent_from_(*silent_from),
        reboots_(*reboots),
        next_slot_(*next_slot),
        events_(*events) {}

  absl::Status Build() {
    const size_t n = s_.nodes_size();
    cards_.assign(n, {});
    silent_from_.assign(n, kForever);
    reboots_.assign(n, {});
    next_slot_.assign(n, 0);
    events_.assign(s_.hardware_events_size(), {});
    for (size_t i = 0; i < n; ++i) {
      const auto& node = s_.nodes(i);
      index_[node.node_id()] = i;
      for (uint32_t a = 0; a < node.accelerator_count(); ++a) {
        SimCard c;
        c.serial = CardSerial(node.node_id(), a);
        c.uuid = CardUuid(c.serial);
        c.slot = a;
        c.vendor_id = node.vendor_id();
        c.device_id = node.device_id();
        cards_[i].push_back(std::move(c));
      }
      next_slot_[i] = node.accelerator_count();
    }
    std::vector<int> order(s_.hardware_events_size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
      return s_.hardware_events(a).at_report() < s_.hardware_events(b).at_report();
    });
    for (int e : order) {
      absl::Status st = Apply(e);
      if (!st.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("hardware_events[", e, "].", st.message()));
      }
    }
    return absl::OkStatus();
  }

 private:
  SimCard* Find(size_t node, uint32_t slot, uint32_t k) {
    for (auto& c : cards_[node]) {
      if (c.slot == slot && c.Active(k)) return &c;
    }
    return nullptr;
  }

  absl::Status Apply(int e) {
    const auto& ev = s_.hardware_events(e);
    auto node_it = index_.find(ev.node_id());
    if (node_it == index_.end()) {
      return absl::InvalidArgumentError(absl::StrCat("node_id: unknown node '", ev.node_id(), "'"));
    }
    const size_t a = node_it->second;
    const uint32_t k = ev.at_report();
    if (ev.declared() && !MayBeDeclared(ev.kind())) {
      return absl::InvalidArgumentError(
          "declared: only a move, swap, silent node or card, or added card can be declared");
    }
    const std::string& st = ev.declared_status();
    if (!st.empty() && st != "in_service" && st != "spare" && st != "rma" && st != "retired") {
      return absl::InvalidArgumentError(absl::StrCat(
          "declared_status: '", st, "' is not one of in_service, spare, rma, retired"));
    }
    if (ev.vendor_id() > 0xffff || ev.device_id() > 0xffff) {
      return absl::InvalidArgumentError("vendor_id/device_id: must be at most 0xffff");
    }
    SimCard* card = nullptr;
    if (NeedsSlot(ev.kind(), ev.one_slot())) {
      card = Find(a, ev.slot(), k);
      if (card == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat(
            "slot: node '", ev.node_id(), "' has no card in slot ", ev.slot(), " at report ", k));
      }
      events_[e].serial = card->serial;
    }
    size_t b = a;
    if (ev.kind() == Kind::KIND_MOVE_CARD || ev.kind() == Kind::KIND_CLONE_CARD) {
      auto to = index_.find(ev.to_node_id());
      if (to == index_.end()) {
        return absl::InvalidArgumentError(
            absl::StrCat("to_node_id: unknown node '", ev.to_node_id(), "'"));
      }
      if (to->second == a) return absl::InvalidArgumentError("to_node_id: the same node");
      b = to->second;
    }
    switch (ev.kind()) {
      case Kind::KIND_MOVE_CARD:
      case Kind::KIND_CLONE_CARD: {
        SimCard copy = *card;
        if (ev.kind() == Kind::KIND_MOVE_CARD) card->until_report = k;
        copy.slot = next_slot_[b]++;
        copy.from_report = k;
        copy.until_report = kForever;
        cards_[b].push_back(std::move(copy));
        break;
      }
      case Kind::KIND_RELABEL: {
        if (ev.vendor_id() == 0) return absl::InvalidArgumentError("vendor_id: needed to relabel");
        const size_t spans = cards_[a].size();
        for (size_t c = 0; c < spans; ++c) {
          if (!cards_[a][c].Active(k) || (ev.one_slot() && cards_[a][c].slot != ev.slot())) {
            continue;
          }
          SimCard relabelled = cards_[a][c];
          relabelled.vendor_id = ev.vendor_id();
          relabelled.device_id = ev.device_id();
          relabelled.from_report = k;
          if (cards_[a][c].from_report == k) {
            cards_[a][c] = std::move(relabelled);
          } else {
            cards_[a][c].until_report = k;
            cards_[a].push_back(std::move(relabelled));
          }
        }
        break;
      }
      case Kind::KIND_NODE_SILENT:
        silent_from_[a] = std::min(silent_from_[a], k);
        break;
      case Kind::KIND_CARD_SILENT:
        card->until_report = k;
        break;
      case Kind::KIND_UNDECLARED_CARD:
      case Kind::KIND_SWAP_CARD: {
        const auto& node = s_.nodes(a);
        SimCard added;
        added.serial = AddedCardSerial(node.node_id(), e);
        added.uuid = CardUuid(added.serial);
        added.from_report = k;
        if (ev.kind() == Kind::KIND_SWAP_CARD) {
          card->until_report = k;
          added.slot = card->slot;
          added.vendor_id = card->vendor_id;
          added.device_id = card->device_id;
        } else {
          added.slot = next_slot_[a]++;
          added.vendor_id = ev.vendor_id() != 0 ? ev.vendor_id() : node.vendor_id();
          added.device_id = ev.vendor_id() != 0 ? ev.device_id() : node.device_id();
        }
        events_[e].new_serial = added.serial;
        cards_[a].push_back(std::move(added));
        break;
      }
      case Kind::KIND_REBOOT:
        reboots_[a].push_back(k);
        break;
      default:
        return absl::InvalidArgumentError("kind: missing or unknown");
    }
    if (next_slot_[b] > 64) return absl::InvalidArgumentError("node has more than 64 cards");
    return absl::OkStatus();
  }

  const v1::Scenario& s_;
  std::vector<std::vector<SimCard>>& cards_;
  std::vector<uint32_t>& silent_from_;
  std::vector<std::vector<uint32_t>>& reboots_;
  std::vector<uint32_t>& next_slot_;
  std::vector<EventCards>& events_;
  absl::flat_hash_map<std::string, size_t> index_;
};

}  // namespace

absl::Status ValidateHardwareEvents(const v1::Scenario& scenario) {
  std::vector<std::vector<SimCard>> cards;
  std::vector<uint32_t> silent_from, next_slot;
  std::vector<std::vector<uint32_t>> reboots;
  std::vector<EventCards> events;
  return PlanBuilder(scenario, &cards, &silent_from, &reboots, &next_slot, &events).Build();
}

HardwarePlan::HardwarePlan(const v1::Scenario& scenario) {
  // Validated scenarios only (ValidateScenario): an invalid event stops the plan there.
  PlanBuilder(scenario, &cards_, &silent_from_, &reboots_, &next_slot_, &events_)
      .Build()
      .IgnoreError();
}

uint32_t HardwarePlan::Boot(size_t node, uint32_t k) const {
  uint32_t boot = 0;
  for (uint32_t r : reboots_[node]) boot += r <= k;
  return boot;
}

std::vector<const SimCard*> HardwarePlan::CardsAt(size_t node, uint32_t k) const {
  std::vector<const SimCard*> out;
  for (const auto& c : cards_[node]) {
    if (c.Active(k)) out.push_back(&c);
  }
  std::sort(out.begin(), out.end(),
            [](const SimCard* a, const SimCard* b) { return a->slot < b->slot; });
  return out;
}

}  // namespace prov::sim
