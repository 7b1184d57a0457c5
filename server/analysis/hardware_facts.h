// Hardware facts for the reconciliation rules (issue 10 §3, rule_hardware_*.cc): the declared
// inventory, where each accelerator identity (serial, else UUID) was seen, and when each node last
// reported on the silence clock. Part of Analyzer::State; updated once per evaluation by
// PrepareHardware, read by the rules.
//
// The silence clock is provd's own clock (the `now` of Analyzer::Evaluate): a node is silent when
// provd has heard nothing from it for the policy's hardware.silent_after_intervals of its own
// report interval (at least hardware.silent_min), never for a report missing from one batch. A
// replay (prov-sim at a time scale, `provd --ledger-clock report`) uses the fleet's newest report
// time instead. A node is judged silent only once this process has itself been up for that long
// (a restart does not make the fleet look silent), and silence deadlines sit in a map keyed by
// the second they fall due, so a report costs O(its own cards), whatever the fleet's size.
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "common/accelerator_catalog.h"
#include "provenance/v1/analysis_state.pb.h"
#include "provenance/v1/inventory.pb.h"
#include "server/inventory/inventory_index.h"
#include "server/policy/policy.h"

namespace prov::server {

struct RuleContext;

// One accelerator identity as seen on one node.
struct CardSighting {
  std::string node;
  std::string pci;
  // Report times (the node's clock) of its current run on this node: a sighting after a gap of
  // more than one silence window (the card left and came back) starts a new run.
  int64_t first_us = 0, last_us = 0;
  int64_t seen_us = 0;  // silence clock at the newest sighting (0: before a restart)
};

struct HardwareNode {
  int64_t seen_us = 0;         // silence clock at its newest report (0: not since this start)
  int64_t last_report_us = 0;  // report time of its newest report
  int64_t interval_us = 0;     // its report interval (0: unknown, the policy's assumed_interval)
  int64_t due_us = 0;          // silent from here on unless it reports
  bool complete = true;        // its newest report's collectors all succeeded
  int64_t queued_s = 0;        // the silence_due second its one entry sits at (0: none)
  bool judged = false;         // its cards were compared with the inventory since this start
  bool missing_some = false;   // a declared in_service card was absent from its newest cards
  bool silent = false;         // a hardware_silent flag on node:<id> is open
  int64_t dark_since_us = 0;   // while silent: the silence clock at its last report (0: unknown)
};

// One reported card as the sightings need it: its identity key (CardKey) and PCI address.
struct ReportedCard {
  std::string key;
  std::string pci;
};

struct PendingHardwareReport {
  std::string node;
  int64_t time_us = 0;
  int64_t interval_us = 0;
  bool complete = true;
  std::vector<ReportedCard> cards;  // this report's own (a spooled report lists what was then)
};

struct HardwareState {
  std::shared_ptr<const inventory::InventoryIndex> inventory;  // null: none imported
  int64_t inventory_version = 0;
  bool inventory_changed = false;
  const AcceleratorCatalog* catalog = nullptr;  // null: AcceleratorCatalog::Builtin()
  bool report_clock = false;                    // silence on the fleet's report timeline
  int64_t up_since_us = 0;                      // silence clock at the first evaluation
  absl::flat_hash_map<std::string, HardwareNode> nodes;
  // Identity ("<serial>", else "uuid:<uuid>") -> where it was seen (one node, two when moved or
  // cloned; bounded by kMaxSightings).
  absl::flat_hash_map<std::string, std::vector<CardSighting>> cards;
  absl::btree_map<int64_t, std::vector<std::string>> silence_due;  // due second -> nodes
  // Nodes past their silence deadline that have not reported since (flagged or held).
  absl::flat_hash_set<std::string> overdue;
  // Fleet-wide silence (policy hardware.outage_*): node silence held while it lasts.
  std::set<std::string> held;   // nodes whose silence waits for the outage's end (judged in order)
  int64_t outage_since_us = 0;  // silence clock at its start (0: no outage now)
  size_t outage_peak = 0;       // the most nodes overdue at once during it
  struct Outage {
    int64_t since_us = 0, until_us = 0;
    size_t peak = 0, known = 0;
  } last_outage;         // the latest one that ended (its evidence for the nodes it held)
  uint64_t outages = 0;  // outages seen by this process
  std::vector<PendingHardwareReport> pending;
  absl::flat_hash_set<std::string> silent_cards;  // serials with an open card-level silent flag
  // The inventory before the newest SetInventory, until PrepareHardware compared the two.
  std::shared_ptr<const inventory::InventoryIndex> previous_inventory;
  // Silence clock when a re-import changed each row (a card is not missing from before it was
  // declared); rows not changed since this start use their import time (DeclaredSince).
  absl::flat_hash_map<std::string, int64_t> row_changed_us;
  bool inventory_seen = false;  // an inventory was judged before (a first import is a change)
  // Serials a re-import declared on another node: where they were declared before, and when
  // (silence clock). A card still reporting from its previous node is a move not done yet, not
  // hardware_moved, for the policy's hardware.move_grace.
  struct Redeclared {
    std::string previous_node;
    int64_t at_us = 0;
  };
  absl::flat_hash_map<std::string, Redeclared> redeclared;
  // Nodes holding a card within its move grace: judged again each evaluation until it ends.
  absl::flat_hash_set<std::string> in_move_grace;
  // Nodes with hardware_relabelled flags on slot subjects ("accelerator:<node>/<pci>").
  absl::flat_hash_map<std::string, std::set<std::string>> anonymous_relabelled;
  // Identities that reached a second node's sightings since the last evaluation.
  std::vector<std::pair<std::string, std::string>> shared_touched;
};

inline constexpr size_t kMaxSightings = 4;

// A serial or UUID that identifies nothing: empty, all zeros or all F, "N/A", "[N/A]" (NVML on
// boards without one), "Not Specified", "To Be Filled By O.E.M." (SMBIOS defaults), ...
bool PlaceholderIdentity(absl::string_view value);
std::vector<ReportedCard> CardsOf(
    const google::protobuf::RepeatedPtrField<provenance::v1::AcceleratorFact>& facts);
// The identity key of a reported accelerator: its serial, else "uuid:<uuid>", else "" (both
// placeholders: the card is anonymous and judged by its node's slots).
std::string CardKey(const provenance::v1::AcceleratorFact& a);
// The declared row of a reported accelerator (by serial, then UUID), or null.
const provenance::v1::InventoryEntry* DeclaredRow(const HardwareState& hw,
                                                  const provenance::v1::AcceleratorFact& a);
const AcceleratorCatalog& Catalog(const HardwareState& hw);
// The catalog's row for the card's exact PCI ID, or null.
const CatalogEntry* CatalogRow(const HardwareState& hw, const provenance::v1::AcceleratorFact& a);
// "serial 1654... (declared A100 SXM4 80GB 0x10de:0x20b2 on node n1, fra1 rack r3, rented to acme,
// in_service; inventory version 3)"
std::string DescribeRow(const provenance::v1::InventoryEntry& row);
// "PCI 0x19e5:0xd802 (catalog: Ascend 910B), agent says \"A100-SXM4-80GB\", at n7/0000:3b:00.0"
std::string DescribeObserved(const HardwareState& hw, const std::string& node,
                             const provenance::v1::AcceleratorFact& a);
// The rack the inventory gives the node (its first declared row's), "" when none.
std::string DeclaredRack(const HardwareState& hw, const std::string& node);
bool InService(const provenance::v1::InventoryEntry& row);
// A node's reported cards matched with its declared rows: by serial or UUID (anywhere in the
// inventory), then each card reporting neither takes one of the node's rows no identity matched
// (its slot), preferring a row declaring the card's PCI ID, then in order.
struct NodeMatch {
  std::vector<const provenance::v1::InventoryEntry*> row;        // per card: its row, or null
  std::vector<bool> by_slot;                                     // per card: matched by slot
  std::vector<const provenance::v1::InventoryEntry*> unmatched;  // the node's rows left over
  size_t anonymous_unmatched = 0;  // cards with no identity and no slot left
};
NodeMatch MatchNode(
    const HardwareState& hw, const std::string& node_id,
    const google::protobuf::RepeatedPtrField<provenance::v1::AcceleratorFact>& cards);
// A digest of what a row declares (not its version: a re-import of the same row changes nothing).
std::string DeclaredDigest(const provenance::v1::InventoryEntry& row);
// Where `node` saw the identity `key` (CardKey), or null.
const CardSighting* FindSighting(const HardwareState& hw, const std::string& key,
                                 const std::string& node);
// One silence window of a node without the reboot floor (silent_after_intervals x interval).
int64_t RunWindow(const policy::Policy& p, int64_t interval_us);
// When the row's inventory version came into force here (0: loaded at start).
int64_t DeclaredSince(const HardwareState& hw, const provenance::v1::InventoryEntry& row);
// How long a node with report interval `interval_us` may stay quiet before it is silent.
int64_t SilenceAfter(const policy::Policy& p, int64_t interval_us);
// The silence clock now.
int64_t SilenceClock(const RuleContext& ctx);
// Stamps the pending reports on the silence clock, records their sightings, and fills
// ctx.hardware_nodes, ctx.silent_nodes and ctx.inventory_changed.
void PrepareHardware(RuleContext& ctx);

}  // namespace prov::server
