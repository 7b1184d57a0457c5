// hardware_silent: a declared in_service accelerator not reported for the policy's silence
// (hardware.silent_after_intervals of its node's report interval, at least hardware.silent_min, on
// the silence clock of hardware_facts.h). Two cases, as a person needs them told apart:
//   node:<id>            the whole node stopped reporting (kept offline, or unplugged), with every
//                        declared in_service card on it;
//   accelerator:<serial> its node still reports, complete snapshots, without this card (pulled
//                        or hidden).
// A card seen on another node within the silence is not silent (hardware_moved says where it
// is). A report whose collectors failed proves no card missing. Cards whose inventory status is
// not in_service (spare, rma, retired: maintenance) are never silent. The flag resolves itself
// when the node or the card reports again, or when a re-import stops expecting it; the time it
// was dark stays in the evidence. Many nodes silent at once (policy hardware.outage_*) is an
// outage of ingest or the network: node silence is held while it lasts (at most outage_hold),
// then every node still silent is judged on its own.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/analysis/analyzer_internal.h"
#include "server/analysis/analyzer_state.h"
#include "server/analysis/hardware_facts.h"
#include "server/analysis/rule.h"

namespace prov::server {
namespace {

using provenance::v1::Flag;
using provenance::v1::InventoryEntry;

std::string Duration(int64_t us) {
  const int64_t minutes = us / 60'000'000;
  return minutes >= 120 ? absl::StrCat(minutes / 60, " h ", minutes % 60, " min")
                        : absl::StrCat(minutes, " min");
}

// The newest silence-clock time any node reported the row's card (0: not since provd started).
int64_t LastSeen(const HardwareState& hw, const InventoryEntry& row, std::string* where) {
  int64_t best = 0;
  for (const std::string& key :
       {row.declared().serial(), row.declared().uuid().empty()
                                     ? std::string()
                                     : absl::StrCat("uuid:", row.declared().uuid())}) {
    if (key.empty()) continue;
    auto it = hw.cards.find(key);
    if (it == hw.cards.end()) continue;
    for (const CardSighting& c : it->second) {
      if (c.seen_us > best) {
        best = c.seen_us;
        if (where != nullptr) *where = c.node;
      }
    }
  }
  return best;
}

class HardwareSilentRule final : public Rule {
 public:
  absl::string_view name() const override { return kHardwareSilentRule; }
  void Evaluate(RuleContext& ctx) override {
    HardwareState& hw = ctx.s.hw;
    const int64_t clock = SilenceClock(ctx);
    for (const std::string& node_id : ctx.hardware_nodes) Recover(ctx, node_id, clock);
    if (ctx.inventory_changed) ReleaseUndeclared(ctx);
    if (hw.inventory == nullptr) return;
    if (HoldForOutage(ctx, clock)) {
      for (const std::string& node_id : ctx.silent_nodes) hw.held.insert(node_id);
    } else {
      for (const std::string& node_id : ctx.silent_nodes) NodeSilent(ctx, node_id, clock);
      // The outage ended (or its hold ran out): the nodes it held that are still silent are
      // judged one by one, dated from their own last report (NodeSilent marks them silent, so a
      // node also due now is judged once).
      for (const std::string& node_id : hw.held) {
        auto n = hw.nodes.find(node_id);
        if (hw.overdue.contains(node_id) && n != hw.nodes.end() && !n->second.silent) {
          NodeSilent(ctx, node_id, clock);
        }
      }
      hw.held.clear();
    }
    // A node's cards are checked when they changed (and after an import); after that only while
    // one of its declared cards is absent, so a steady node costs nothing here.
    for (const std::string& node_id : ctx.changed_hardware_nodes) MarkMissing(ctx, node_id);
    for (const std::string& node_id : ctx.hardware_nodes) CardsMissing(ctx, node_id, clock);
  }

 private:
  // The node reported since it was flagged, or its cards reported again.
  static void Recover(RuleContext& ctx, const std::string& node_id, int64_t clock) {
    HardwareState& hw = ctx.s.hw;
    auto n = hw.nodes.find(node_id);
    if (n == hw.nodes.end()) return;
    if (n->second.silent && n->second.due_us > clock) {
      n->second.silent = false;
      const int64_t since = n->second.dark_since_us;
      ResolveFlag(
          ctx.s, kHardwareSilentRule, absl::StrCat("node:", node_id), "recovered",
          absl::StrCat("Node ", node_id, " reported again at ", ClockText(n->second.seen_us),
                       since > 0 ? absl::StrCat(", dark for ", Duration(n->second.seen_us - since),
                                                " since ", ClockText(since))
                                 : std::string()),
          "resolved itself: the node reports again", ctx.now_us);
    }
    if (hw.silent_cards.empty() || n->second.due_us <= clock) return;
    auto facts = ctx.s.nodes.find(node_id);
    if (facts == ctx.s.nodes.end()) return;
    for (const auto& a : facts->second.accelerators()) {
      const auto* row = DeclaredRow(hw, a);
      const std::string serial = row != nullptr ? row->declared().serial() : a.serial();
      if (serial.empty() || !hw.silent_cards.erase(serial)) continue;
      ResolveFlag(ctx.s, kHardwareSilentRule, absl::StrCat("accelerator:", serial), "recovered",
                  absl::StrCat("Accelerator ", serial, " reported again by node ", node_id, " at ",
                               a.pci_address(), " (", ClockText(n->second.seen_us), ")"),
                  "resolved itself: the card reports again", ctx.now_us);
    }
  }

  // After a re-import: silence the inventory no longer expects (status spare/rma/retired, the
  // card gone from the inventory or declared elsewhere) is resolved.
  static void ReleaseUndeclared(RuleContext& ctx) {
    HardwareState& hw = ctx.s.hw;
    for (auto it = hw.silent_cards.begin(); it != hw.silent_cards.end();) {
      const InventoryEntry* row = hw.inventory ? hw.inventory->BySerial(*it) : nullptr;
      if (row != nullptr && InService(*row)) {
        ++it;
        continue;
      }
      ResolveFlag(ctx.s, kHardwareSilentRule, absl::StrCat("accelerator:", *it), "reconciled",
                  absl::StrCat("Inventory version ", hw.inventory_version,
                               " no longer expects accelerator ", *it, " in service"),
                  "resolved: the inventory no longer expects it", ctx.now_us);
      hw.silent_cards.erase(it++);
    }
    for (auto& [id, n] : hw.nodes) {
      if (!n.silent) continue;
      bool expected = false;
      if (hw.inventory != nullptr) {
        for (const auto* row : hw.inventory->OnNode(id)) expected = expected || InService(*row);
      }
      if (expected) continue;
      n.silent = false;
      ResolveFlag(ctx.s, kHardwareSilentRule, absl::StrCat("node:", id), "reconciled",
                  absl::StrCat("Inventory version ", hw.inventory_version,
                               " declares no card of node ", id, " in service"),
                  "resolved: the inventory no longer expects it", ctx.now_us);
    }
  }

  // Whether node silence is held now: at least outage_min_nodes and outage_fraction of the known
  // nodes are overdue together (an outage of ingest or the network), for at most outage_hold.
  static bool HoldForOutage(RuleContext& ctx, int64_t clock) {
    HardwareState& hw = ctx.s.hw;
    const auto& p = ctx.p.hardware;
    const size_t overdue = hw.overdue.size();
    const bool outage =
        overdue >= static_cast<size_t>(std::max(p.outage_min_nodes, 1)) &&
        static_cast<double>(overdue) >= p.outage_fraction * static_cast<double>(hw.nodes.size());
    if (outage) {
      if (hw.outage_since_us == 0) {
        hw.outage_since_us = clock;
        hw.outage_peak = 0;
        ++hw.outages;
      }
      hw.outage_peak = std::max(hw.outage_peak, overdue);
      return clock - hw.outage_since_us < absl::ToInt64Microseconds(p.outage_hold);
    }
    if (hw.outage_since_us != 0) {
      hw.last_outage = {hw.outage_since_us, clock, hw.outage_peak, hw.nodes.size()};
      hw.outage_since_us = 0;
    }
    return false;
  }

  // What a node's silence flag says of an outage that held it, or that is still going on.
  static std::string OutageNote(const HardwareState& hw, int64_t since) {
    if (hw.outage_since_us != 0) {
      return absl::StrCat(" Judged although ", hw.overdue.size(), " of ", hw.nodes.size(),
                          " nodes are silent at once since ", ClockText(hw.outage_since_us),
                          " (an outage of ingest or the network held every node's silence, up "
                          "to hardware.outage_hold).");
    }
    if (hw.last_outage.until_us != 0 && since < hw.last_outage.until_us) {
      return absl::StrCat(" Held while up to ", hw.last_outage.peak, " of ", hw.last_outage.known,
                          " nodes were silent at once (", ClockText(hw.last_outage.since_us),
                          " to ", ClockText(hw.last_outage.until_us),
                          ": an outage of ingest or the network); still silent after it.");
    }
    return "";
  }

  static void NodeSilent(RuleContext& ctx, const std::string& node_id, int64_t clock) {
    HardwareState& hw = ctx.s.hw;
    HardwareNode& n = hw.nodes[node_id];
    const int64_t after = SilenceAfter(ctx.p, n.interval_us);
    std::vector<const InventoryEntry*> dark;
    for (const InventoryEntry* row : hw.inventory->OnNode(node_id)) {
      if (!InService(*row)) continue;
      std::string where;
      if (LastSeen(hw, *row, &where) >= clock - after && where != node_id) continue;  // moved
      dark.push_back(row);
    }
    if (dark.empty()) return;
    n.silent = true;
    n.dark_since_us = n.seen_us;
    const int64_t since = n.seen_us > 0 ? n.seen_us : hw.up_since_us;
    auto facts = ctx.s.nodes.find(node_id);
    const provenance::v1::NodeFacts* node = facts == ctx.s.nodes.end() ? nullptr : &facts->second;
    std::vector<std::string> serials;
    for (const auto* row : dark) serials.push_back(row->declared().serial());
    UpsertFlag(
        ctx.s, kHardwareSilentRule, absl::StrCat("node:", node_id), ctx.p.hardware.silent_severity,
        absl::StrCat("node|", since), [&] { return since; }, since, ctx.now,
        [&](Flag& f) {
          Reopen(f);
          f.set_policy_version(ctx.p.version);
          f.clear_nodes();
          f.add_nodes(node_id);
          f.clear_datacenters();
          AddUnique(f.mutable_datacenters(), dark.front()->declared().datacenter());
          if (node != nullptr) AddUnique(f.mutable_datacenters(), node->datacenter());
          f.clear_accelerators();
          for (const auto* row : dark)
            AddUnique(f.mutable_accelerators(), row->declared().serial());
          f.clear_accounts();
          for (const auto* row : dark) AddUnique(f.mutable_accounts(), row->declared().account());
          f.set_summary(absl::StrCat("Node ", node_id, " silent: ", dark.size(),
                                     " declared in-service accelerator(s) unreported for ",
                                     Duration(clock - since),
                                     n.seen_us > 0 ? "" : " (not heard from since provd started)"));
          auto* e = f.add_evidence();
          e->set_kind("silence");
          e->set_sentence(absl::StrCat(
              "Node ", node_id,
              n.seen_us > 0 ? absl::StrCat(" last reported at ", ClockText(n.seen_us),
                                           " (its report of ", ClockText(n.last_report_us), ")")
                            : absl::StrCat(" has not reported since provd started at ",
                                           ClockText(hw.up_since_us)),
              "; silent after ", Duration(after), " (", ctx.p.hardware.silent_after_intervals,
              " report intervals, at least ",
              Duration(absl::ToInt64Microseconds(ctx.p.hardware.silent_min)),
              "). Declared in service there: ", absl::StrJoin(serials, ", "),
              ". Kept offline, unplugged, or its agent stopped.", OutageNote(hw, since)));
          SetTimestamp(e->mutable_time(), since);
        });
  }

  // Whether a declared in_service card of the node is absent from its newest cards (matched by
  // identity, or a card reporting none filling its slot); a silent card now present (by slot:
  // Recover handles those with an identity) recovers.
  static void MarkMissing(RuleContext& ctx, const std::string& node_id) {
    HardwareState& hw = ctx.s.hw;
    auto facts = ctx.s.nodes.find(node_id);
    HardwareNode& n = hw.nodes[node_id];
    n.missing_some = false;
    if (facts == ctx.s.nodes.end()) return;
    const NodeMatch match = MatchNode(hw, node_id, facts->second.accelerators());
    for (const InventoryEntry* row : match.unmatched) n.missing_some |= InService(*row);
    for (int i = 0; i < facts->second.accelerators_size(); ++i) {
      if (!match.by_slot[i]) continue;
      const std::string& serial = match.row[i]->declared().serial();
      if (!hw.silent_cards.erase(serial)) continue;
      ResolveFlag(ctx.s, kHardwareSilentRule, absl::StrCat("accelerator:", serial), "recovered",
                  absl::StrCat("Node ", node_id, " reports a card without identity at ",
                               facts->second.accelerators(i).pci_address(),
                               " in the slot of accelerator ", serial),
                  "resolved itself: its slot is filled again", ctx.now_us);
    }
  }

  // A live node whose complete reports lack one of its declared in_service cards.
  static void CardsMissing(RuleContext& ctx, const std::string& node_id, int64_t clock) {
    HardwareState& hw = ctx.s.hw;
    auto n = hw.nodes.find(node_id);
    if (n == hw.nodes.end() || !n->second.missing_some || n->second.due_us <= clock ||
        !n->second.complete) {
      return;
    }
    const int64_t after = SilenceAfter(ctx.p, n->second.interval_us);
    auto facts = ctx.s.nodes.find(node_id);
    if (facts == ctx.s.nodes.end()) return;
    for (const InventoryEntry* row :
         MatchNode(hw, node_id, facts->second.accelerators()).unmatched) {
      if (!InService(*row)) continue;
      const std::string& serial = row->declared().serial();
      if (hw.silent_cards.contains(serial)) continue;
      std::string where;
      const int64_t seen = LastSeen(hw, *row, &where);
      // Not missing from before provd was up, nor from before the inventory declared it (an RMA
      // replacement declared a moment before it first reports).
      const int64_t since = std::max({seen, hw.up_since_us, DeclaredSince(hw, *row)});
      if (clock - since < after) continue;
      hw.silent_cards.insert(serial);
      UpsertFlag(
          ctx.s, kHardwareSilentRule, absl::StrCat("accelerator:", serial),
          ctx.p.hardware.silent_severity, absl::StrCat("card|", since), [&] { return since; },
          since, ctx.now,
          [&](Flag& f) {
            Reopen(f);
            f.set_policy_version(ctx.p.version);
            f.clear_nodes();
            f.add_nodes(node_id);
            f.clear_datacenters();
            AddUnique(f.mutable_datacenters(), row->declared().datacenter());
            f.clear_accelerators();
            f.add_accelerators(serial);
            f.clear_accounts();
            AddUnique(f.mutable_accounts(), row->declared().account());
            f.set_summary(absl::StrCat("Accelerator ", serial, " missing from node ", node_id,
                                       "'s reports for ", Duration(clock - since),
                                       " while the node reports (pulled or hidden)"));
            auto* e = f.add_evidence();
            e->set_kind("silence");
            e->set_sentence(absl::StrCat(
                "Declared: ", DescribeRow(*row), ". Node ", node_id,
                " keeps reporting complete snapshots (newest ", ClockText(n->second.seen_us),
                ") without it; ",
                seen > 0
                    ? absl::StrCat("last seen at ", ClockText(seen), " on node ", where)
                    : absl::StrCat("not seen since provd started at ", ClockText(hw.up_since_us)),
                "."));
            SetTimestamp(e->mutable_time(), since);
          });
    }
  }
};

}  // namespace

std::unique_ptr<Rule> MakeHardwareSilentRule() { return std::make_unique<HardwareSilentRule>(); }

}  // namespace prov::server
