// HardwarePlan: which cards each simulated node reports in each report, after the scenario's
// hardware events (scenario.proto SimHardwareEvent): moved, cloned, relabelled, silent, added and
// swapped cards, silent nodes and reboots. ReportBuilder reports from it; the declared inventory
// (inventory.h) and prov-eval-gen's ground truth name cards by the same serials.
//
//   HardwarePlan plan(scenario);                      // the scenario must be valid
//   if (!plan.Reports(i, k)) ...                      // node i silent in report k
//   for (const SimCard* c : plan.CardsAt(i, k)) ...   // by slot; c->serial, c->uuid, PciAddress
//
// Identities are stable: a node's card in slot s has serial CardSerial(node_id, s) and UUID
// CardUuid(serial) ("GPU-" and a UUID-shaped digest, as NVIDIA's), whatever the node's index in
// the file. A card added by event e (undeclared card, swap replacement) is named after the event.
// Thread-safety: const after construction.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "tools/prov-sim/scenario.pb.h"

namespace prov::sim {

inline constexpr uint32_t kForever = std::numeric_limits<uint32_t>::max();

std::string CardSerial(const std::string& node_id, uint32_t slot);
std::string CardUuid(const std::string& serial);
// The serial of the card hardware_events[event] adds (undeclared card, swap replacement).
std::string AddedCardSerial(const std::string& node_id, size_t event);
// "0000:10:00.0" for slot 0: bus 0x10 + slot.
std::string PciAddress(uint32_t slot);

// One card as one node reports it over reports [from_report, until_report).
struct SimCard {
  std::string serial;
  std::string uuid;
  uint32_t slot = 0;
  uint32_t vendor_id = 0;
  uint32_t device_id = 0;
  uint32_t from_report = 0;
  uint32_t until_report = kForever;
  bool Active(uint32_t k) const { return k >= from_report && k < until_report; }
};

// What an event did to which card (for the inventory and the ground truth).
struct EventCards {
  std::string serial;      // the card moved, cloned, silenced or swapped out; "" for node events
  std::string new_serial;  // the card added (undeclared card, swap replacement)
};

// Errors name the event ("hardware_events[2].to_node_id: unknown node 'n9'").
absl::Status ValidateHardwareEvents(const v1::Scenario& scenario);

class HardwarePlan {
 public:
  explicit HardwarePlan(const v1::Scenario& scenario);

  bool Reports(size_t node, uint32_t k) const { return k < silent_from_[node]; }
  // The boot of node `node` in report k: 0, then +1 per reboot event at or before k.
  uint32_t Boot(size_t node, uint32_t k) const;
  // Cards node `node` reports in report k, in slot order.
  std::vector<const SimCard*> CardsAt(size_t node, uint32_t k) const;
  // Every card span of the node (declared ones first, slots 0..count-1, from report 0).
  const std::vector<SimCard>& Cards(size_t node) const { return cards_[node]; }
  const EventCards& Event(size_t event) const { return events_[event]; }

 private:
  std::vector<std::vector<SimCard>> cards_;
  std::vector<uint32_t> silent_from_;
  std::vector<std::vector<uint32_t>> reboots_;
  std::vector<uint32_t> next_slot_;
  std::vector<EventCards> events_;
};

}  // namespace prov::sim
