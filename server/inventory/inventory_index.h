// InventoryIndex: the current declared inventory in memory, for the reconciliation rules (issue 10
// §3): a serial's or UUID's declared row in O(1), and a node's declared accelerators.
//
//   PROV_ASSIGN_OR_RETURN(auto entries, LoadInventory(db));     // server/store/inventory_store.h
//   InventoryIndex index(std::move(entries));
//   if (const InventoryEntry* e = index.BySerial(acc.serial())) ... e->declared().node_id() ...
//   for (const InventoryEntry* e : index.OnNode("gpu-17")) ...
//
// Immutable after construction: build a new one after each import and swap it in (a
// shared_ptr<const InventoryIndex>), so readers on other threads never see a half-built index.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "provenance/v1/inventory.pb.h"

namespace prov::inventory {

class InventoryIndex {
 public:
  explicit InventoryIndex(std::vector<provenance::v1::InventoryEntry> entries)
      : entries_(std::move(entries)) {
    by_serial_.reserve(entries_.size());
    for (const auto& e : entries_) {
      by_serial_.emplace(e.declared().serial(), &e);
      if (!e.declared().uuid().empty()) by_uuid_.emplace(e.declared().uuid(), &e);
      if (!e.declared().node_id().empty()) by_node_[e.declared().node_id()].push_back(&e);
    }
  }
  InventoryIndex(const InventoryIndex&) = delete;
  InventoryIndex& operator=(const InventoryIndex&) = delete;

  // nullptr when the inventory does not declare it.
  const provenance::v1::InventoryEntry* BySerial(const std::string& serial) const {
    auto it = by_serial_.find(serial);
    return it == by_serial_.end() ? nullptr : it->second;
  }
  const provenance::v1::InventoryEntry* ByUuid(const std::string& uuid) const {
    auto it = by_uuid_.find(uuid);
    return it == by_uuid_.end() ? nullptr : it->second;
  }
  const std::vector<const provenance::v1::InventoryEntry*>& OnNode(const std::string& node) const {
    static const std::vector<const provenance::v1::InventoryEntry*> kNone;
    auto it = by_node_.find(node);
    return it == by_node_.end() ? kNone : it->second;
  }
  // Declared node -> its rows.
  const absl::flat_hash_map<std::string, std::vector<const provenance::v1::InventoryEntry*>>&
  Nodes() const {
    return by_node_;
  }
  const std::vector<provenance::v1::InventoryEntry>& entries() const { return entries_; }
  size_t size() const { return entries_.size(); }

 private:
  const std::vector<provenance::v1::InventoryEntry> entries_;  // never resized: pointers stay valid
  absl::flat_hash_map<std::string, const provenance::v1::InventoryEntry*> by_serial_;
  absl::flat_hash_map<std::string, const provenance::v1::InventoryEntry*> by_uuid_;
  absl::flat_hash_map<std::string, std::vector<const provenance::v1::InventoryEntry*>> by_node_;
};

}  // namespace prov::inventory
