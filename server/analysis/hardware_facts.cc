#include "server/analysis/hardware_facts.h"

#include <algorithm>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/message_differencer.h"
#include "server/analysis/analyzer_state.h"
#include "server/analysis/rule.h"

namespace prov::server {
namespace {

constexpr int64_t kMicros = 1000000;

// A node known to the silence clock from now on (its first report, or a declared node that never
// reported), due `SilenceAfter` after `from`.
// One entry per node in silence_due: a node that reports again moves its due_us forward, and its
// entry is pushed again at the new time when its old second comes (see PrepareHardware).
void ArmSilence(HardwareState& hw, const policy::Policy& p, const std::string& id, HardwareNode& n,
                int64_t from) {
  n.due_us = std::max(from, hw.up_since_us) + SilenceAfter(p, n.interval_us);
  if (n.queued_s == 0) {
    n.queued_s = n.due_us / kMicros + 1;
    hw.silence_due[n.queued_s].push_back(id);
  }
}

// `window`: one silence window of the node (without the reboot floor); a gap longer than it
// between two sightings on the node starts a new run.
void Sight(HardwareState& hw, const std::string& node, const std::string& key,
           const std::string& pci, int64_t time_us, int64_t seen_us, int64_t window) {
  if (key.empty()) return;
  std::vector<CardSighting>& where = hw.cards[key];
  for (CardSighting& c : where) {
    if (c.node != node) continue;
    c.pci = pci;
    if (time_us > c.last_us + window) {
      c.first_us = time_us;  // back after an absence: a new run
    } else if (time_us < c.first_us && c.first_us - time_us <= window) {
      c.first_us = time_us;  // a late report of this run
    }
    c.last_us = std::max(c.last_us, time_us);
    c.seen_us = std::max(c.seen_us, seen_us);
    return;
  }
  if (where.size() >= kMaxSightings) {  // keep the newest: drop the one seen longest ago
    where.erase(std::min_element(where.begin(), where.end(), [](const auto& x, const auto& y) {
      return x.last_us < y.last_us;
    }));
  }
  where.push_back(CardSighting{node, pci, time_us, time_us, seen_us});
}

// Sight each card, and remember identities on more than one node for the clone rule.
void SightAll(HardwareState& hw, const std::string& node, const std::vector<ReportedCard>& cards,
              int64_t time_us, int64_t seen_us, int64_t window) {
  for (const ReportedCard& c : cards) {
    if (c.key.empty()) continue;
    Sight(hw, node, c.key, c.pci, time_us, seen_us, window);
    auto it = hw.cards.find(c.key);
    if (it != hw.cards.end() && it->second.size() > 1) hw.shared_touched.emplace_back(c.key, node);
  }
}

}  // namespace

bool PlaceholderIdentity(absl::string_view value) {
  const absl::string_view v = absl::StripAsciiWhitespace(value);
  if (v.empty()) return true;
  if (v.find_first_not_of("0-_:. ") == absl::string_view::npos) return true;   // "0", "0000-00"
  if (v.find_first_not_of("Ff-_:. ") == absl::string_view::npos) return true;  // "FFFFFFFF"
  static constexpr absl::string_view kPlaceholders[] = {"n/a",
                                                        "[n/a]",
                                                        "na",
                                                        "none",
                                                        "null",
                                                        "unknown",
                                                        "not specified",
                                                        "not available",
                                                        "default string",
                                                        "to be filled by o.e.m.",
                                                        "0123456789",
                                                        "serial number"};
  for (absl::string_view p : kPlaceholders) {
    if (absl::EqualsIgnoreCase(v, p)) return true;
  }
  return false;
}

std::vector<ReportedCard> CardsOf(
    const google::protobuf::RepeatedPtrField<provenance::v1::AcceleratorFact>& facts) {
  std::vector<ReportedCard> out;
  out.reserve(facts.size());
  for (const auto& a : facts) out.push_back(ReportedCard{CardKey(a), a.pci_address()});
  return out;
}

std::string CardKey(const provenance::v1::AcceleratorFact& a) {
  if (!PlaceholderIdentity(a.serial())) return a.serial();
  if (!PlaceholderIdentity(a.uuid())) return absl::StrCat("uuid:", a.uuid());
  return "";
}

const provenance::v1::InventoryEntry* DeclaredRow(const HardwareState& hw,
                                                  const provenance::v1::AcceleratorFact& a) {
  if (hw.inventory == nullptr) return nullptr;
  if (!PlaceholderIdentity(a.serial())) {
    if (const auto* e = hw.inventory->BySerial(a.serial())) return e;
  }
  if (!PlaceholderIdentity(a.uuid())) return hw.inventory->ByUuid(a.uuid());
  return nullptr;
}

const AcceleratorCatalog& Catalog(const HardwareState& hw) {
  return hw.catalog != nullptr ? *hw.catalog : AcceleratorCatalog::Builtin();
}

const CatalogEntry* CatalogRow(const HardwareState& hw, const provenance::v1::AcceleratorFact& a) {
  const auto match = Catalog(hw).Lookup(a.vendor_id(), a.device_id());
  return match.has_value() && match->exact ? match->entry : nullptr;
}

std::string DescribeRow(const provenance::v1::InventoryEntry& row) {
  const auto& d = row.declared();
  std::string out = absl::StrCat("serial ", d.serial(), " (declared ",
                                 d.declared_model().empty() ? "model unknown" : d.declared_model());
  if (d.vendor_id() != 0 || d.device_id() != 0) {
    absl::StrAppend(&out, absl::StrFormat(" %#06x:%#06x", d.vendor_id(), d.device_id()));
  }
  absl::StrAppend(&out, " on node ", d.node_id().empty() ? "(none)" : d.node_id());
  if (!d.datacenter().empty()) absl::StrAppend(&out, ", ", d.datacenter());
  if (!d.rack().empty()) absl::StrAppend(&out, " rack ", d.rack());
  if (!d.account().empty()) absl::StrAppend(&out, ", rented to ", d.account());
  absl::StrAppend(&out, ", ",
                  absl::AsciiStrToLower(absl::StripPrefix(
                      provenance::v1::InventoryStatus_Name(d.status()), "INVENTORY_STATUS_")),
                  "; inventory version ", row.version(), ")");
  return out;
}

std::string DescribeObserved(const HardwareState& hw, const std::string& node,
                             const provenance::v1::AcceleratorFact& a) {
  const CatalogEntry* known = CatalogRow(hw, a);
  std::string out = absl::StrFormat("PCI %#06x:%#06x", a.vendor_id(), a.device_id());
  absl::StrAppend(&out, " (catalog: ",
                  known != nullptr && !known->model.empty() ? known->model : "unknown", ")");
  if (!a.model().empty()) absl::StrAppend(&out, ", agent says \"", a.model(), "\"");
  absl::StrAppend(&out, ", at ", node, "/", a.pci_address());
  return out;
}

std::string DeclaredRack(const HardwareState& hw, const std::string& node) {
  if (hw.inventory == nullptr) return "";
  for (const auto* e : hw.inventory->OnNode(node)) {
    if (!e->declared().rack().empty()) return e->declared().rack();
  }
  return "";
}

bool InService(const provenance::v1::InventoryEntry& row) {
  return row.declared().status() == provenance::v1::INVENTORY_STATUS_IN_SERVICE;
}

NodeMatch MatchNode(
    const HardwareState& hw, const std::string& node_id,
    const google::protobuf::RepeatedPtrField<provenance::v1::AcceleratorFact>& cards) {
  NodeMatch m;
  m.row.assign(cards.size(), nullptr);
  m.by_slot.assign(cards.size(), false);
  if (hw.inventory == nullptr) return m;
  absl::flat_hash_set<const provenance::v1::InventoryEntry*> taken;
  for (int i = 0; i < cards.size(); ++i) {
    m.row[i] = DeclaredRow(hw, cards[i]);
    if (m.row[i] != nullptr) taken.insert(m.row[i]);
  }
  std::vector<const provenance::v1::InventoryEntry*> free;
  for (const auto* row : hw.inventory->OnNode(node_id)) {
    if (!taken.contains(row)) free.push_back(row);
  }
  for (int pass = 0; pass < 2; ++pass) {  // rows declaring the card's PCI ID first
    for (int i = 0; i < cards.size(); ++i) {
      if (m.row[i] != nullptr || !CardKey(cards[i]).empty()) continue;
      for (auto it = free.begin(); it != free.end(); ++it) {
        const auto& d = (*it)->declared();
        if (pass == 0 &&
            (d.vendor_id() != cards[i].vendor_id() || d.device_id() != cards[i].device_id())) {
          continue;
        }
        m.row[i] = *it;
        m.by_slot[i] = true;
        free.erase(it);
        break;
      }
    }
  }
  for (int i = 0; i < cards.size(); ++i) {
    m.anonymous_unmatched += m.row[i] == nullptr && CardKey(cards[i]).empty();
  }
  m.unmatched = std::move(free);
  return m;
}

std::string DeclaredDigest(const provenance::v1::InventoryEntry& row) {
  const auto& d = row.declared();
  return absl::StrCat(absl::Hex(absl::HashOf(
      d.serial(), d.uuid(), d.declared_model(), d.vendor_id(), d.device_id(), d.node_id(),
      d.datacenter(), d.rack(), d.account(), static_cast<int>(d.status()))));
}

int64_t RunWindow(const policy::Policy& p, int64_t interval_us) {
  if (interval_us <= 0) interval_us = absl::ToInt64Microseconds(p.hardware.assumed_interval);
  return p.hardware.silent_after_intervals * interval_us;
}

int64_t DeclaredSince(const HardwareState& hw, const provenance::v1::InventoryEntry& row) {
  auto it = hw.row_changed_us.find(row.declared().serial());
  if (it != hw.row_changed_us.end()) return it->second;
  // Changed before this process saw it: when the import that last changed it was made (on the
  // reports' timeline of a replay that time means nothing: up_since bounds it anyway).
  return hw.report_clock ? 0 : row.imported_at().seconds() * kMicros;
}

int64_t SilenceAfter(const policy::Policy& p, int64_t interval_us) {
  return std::max(RunWindow(p, interval_us), absl::ToInt64Microseconds(p.hardware.silent_min));
}

const CardSighting* FindSighting(const HardwareState& hw, const std::string& key,
                                 const std::string& node) {
  auto where = hw.cards.find(key);
  if (where == hw.cards.end()) return nullptr;
  for (const CardSighting& c : where->second) {
    if (c.node == node) return &c;
  }
  return nullptr;
}

int64_t SilenceClock(const RuleContext& ctx) {
  return ctx.s.hw.report_clock ? ctx.s.latest_evidence_us : ctx.now_us;
}

void PrepareHardware(RuleContext& ctx) {
  Analyzer::State& s = ctx.s;
  HardwareState& hw = s.hw;
  const int64_t clock = SilenceClock(ctx);
  ctx.hardware_nodes.clear();
  ctx.silent_nodes.clear();
  // On the reports' timeline before the first report there is no time yet: wait for one (the
  // pending inventory change and reports stay queued).
  if (clock <= 0) return;
  if (hw.up_since_us == 0) {
    // The first evaluation of this process: the nodes restored from the store are known, their
    // silence counted from now (nothing is silent for the time provd itself was down).
    hw.up_since_us = clock;
    for (const auto& [id, facts] : s.nodes) {
      HardwareNode& n = hw.nodes[id];
      n.interval_us = int64_t{facts.interval_seconds()} * kMicros;
      n.last_report_us = facts.last_time_us();
      if (n.due_us == 0) ArmSilence(hw, ctx.p, id, n, clock);
      const std::vector<ReportedCard> cards = CardsOf(facts.accelerators());
      SightAll(hw, id, cards, facts.accelerators_since_us(), 0, INT64_MAX / 2);
      SightAll(hw, id, cards, facts.last_time_us(), 0, INT64_MAX / 2);
    }
  }
  for (const PendingHardwareReport& r : hw.pending) {
    HardwareNode& n = hw.nodes[r.node];
    n.seen_us = clock;
    hw.overdue.erase(r.node);
    n.last_report_us = std::max(n.last_report_us, r.time_us);
    if (r.interval_us > 0) n.interval_us = r.interval_us;
    n.complete = r.complete;
    ArmSilence(hw, ctx.p, r.node, n, clock);
    // The report's own cards: a spooled batch's older reports list what was there then.
    SightAll(hw, r.node, r.cards, r.time_us, clock, RunWindow(ctx.p, n.interval_us));
    if (ctx.hardware_nodes.empty() || ctx.hardware_nodes.back() != r.node) {
      ctx.hardware_nodes.push_back(r.node);
    }
  }
  hw.pending.clear();
  std::sort(ctx.hardware_nodes.begin(), ctx.hardware_nodes.end());
  ctx.hardware_nodes.erase(std::unique(ctx.hardware_nodes.begin(), ctx.hardware_nodes.end()),
                           ctx.hardware_nodes.end());
  if (hw.inventory_changed) {
    hw.inventory_changed = false;
    ctx.inventory_changed = true;
    // What this import changed: when (a card is not missing from before it was declared), and
    // which cards it declared on another node (a planned move: move_grace).
    if (hw.inventory != nullptr && (hw.previous_inventory != nullptr || hw.inventory_seen)) {
      for (const auto& e : hw.inventory->entries()) {
        const auto& d = e.declared();
        const auto* before =
            hw.previous_inventory ? hw.previous_inventory->BySerial(d.serial()) : nullptr;
        if (before != nullptr &&
            google::protobuf::util::MessageDifferencer::Equals(before->declared(), d)) {
          continue;
        }
        hw.row_changed_us[d.serial()] = clock;
        if (before != nullptr && !before->declared().node_id().empty() &&
            before->declared().node_id() != d.node_id()) {
          hw.redeclared[d.serial()] = {before->declared().node_id(), clock};
        }
      }
    }
    hw.inventory_seen = hw.inventory != nullptr;
    hw.previous_inventory.reset();
    // Nodes already quiet past their deadline (before this import, or while nothing of theirs
    // was in service) are judged now.
    for (auto& [id, n] : hw.nodes) {
      if (!n.silent && n.due_us > 0 && n.due_us <= clock) {
        ctx.silent_nodes.push_back(id);
        hw.overdue.insert(id);
      }
    }
    // Every node is judged again; a declared node that never reported is due from now.
    ctx.hardware_nodes.clear();
    for (const auto& [id, n] : hw.nodes) ctx.hardware_nodes.push_back(id);
    if (hw.inventory != nullptr) {
      for (const auto& [id, rows] : hw.inventory->Nodes()) {
        auto [it, added] = hw.nodes.try_emplace(id);
        if (added) ArmSilence(hw, ctx.p, id, it->second, clock);
      }
    }
    std::sort(ctx.hardware_nodes.begin(), ctx.hardware_nodes.end());
  }
  // The nodes whose cards the inventory rules judge: changed cards or workloads, first report
  // since this start, every known node after an import, and nodes holding a card in its grace.
  ctx.changed_hardware_nodes.clear();
  for (const std::string& id : ctx.hardware_nodes) {
    HardwareNode& n = hw.nodes[id];
    if (ctx.inventory_changed || !n.judged || s.dirty_nodes.contains(id) ||
        hw.in_move_grace.contains(id)) {
      ctx.changed_hardware_nodes.push_back(id);
      n.judged = true;
    }
  }
  ctx.shared_identities.swap(hw.shared_touched);
  hw.shared_touched.clear();
  // Deadlines that fell due (entries of nodes that reported since are stale: skipped).
  const int64_t clock_s = clock / kMicros;
  while (!hw.silence_due.empty() && hw.silence_due.begin()->first <= clock_s) {
    std::vector<std::string> due = std::move(hw.silence_due.begin()->second);
    hw.silence_due.erase(hw.silence_due.begin());
    for (std::string& id : due) {
      auto n = hw.nodes.find(id);
      if (n == hw.nodes.end()) continue;
      n->second.queued_s = 0;
      if (n->second.due_us > clock) {  // it reported since: its entry moves to the new time
        n->second.queued_s = n->second.due_us / kMicros + 1;
        hw.silence_due[n->second.queued_s].push_back(std::move(id));
      } else {
        hw.overdue.insert(id);
        if (!n->second.silent) ctx.silent_nodes.push_back(std::move(id));
      }
    }
  }
  std::sort(ctx.silent_nodes.begin(), ctx.silent_nodes.end());
  ctx.silent_nodes.erase(std::unique(ctx.silent_nodes.begin(), ctx.silent_nodes.end()),
                         ctx.silent_nodes.end());
}

}  // namespace prov::server
