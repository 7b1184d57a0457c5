// IngestWriteCaches: what the ingest writer last wrote of the rows that rarely change, so that an
// unchanged row is not written again. Engine-free: the ingest planner (ingest_planner.h) reads and
// updates them while it plans a batch, and an engine's writer updates the node hardware and
// location responder entries when it resolves a cache miss against the stored row.
//
//   IngestWriteCaches caches;                      // owned by the repository, one per writer
//   planner.Plan(batch, received_at, state, caches, plan);
//   if (commit failed) caches.clear();              // they may describe rolled-back rows
//   if (caches.size() > kMaxCached) caches.clear(); // bounded: the next batches rewrite rows
//
// Valid only while their owner is the one writer of the rows they describe, and only while every
// write they describe was committed: the owner drops them when a transaction fails.
// Thread-compatible: one thread (the ingest writer) uses them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"

namespace prov::server {

using RowKey = std::pair<int64_t, std::string>;  // (node handle, pci address / boot / workload id)
using RowKeyView = std::pair<int64_t, absl::string_view>;
// Hash and equality for RowKey maps that also look up by RowKeyView (no string copy).
struct RowKeyHash {
  using is_transparent = void;
  size_t operator()(const RowKey& k) const { return (*this)(RowKeyView(k.first, k.second)); }
  size_t operator()(const RowKeyView& k) const { return absl::HashOf(k.first, k.second); }
};
struct RowKeyEq {
  using is_transparent = void;
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    return a.first == b.first && absl::string_view(a.second) == absl::string_view(b.second);
  }
};
template <typename V>
using RowMap = absl::flat_hash_map<RowKey, V, RowKeyHash, RowKeyEq>;

// A written row: the hash of its serialized bytes and the report time it was written for.
struct CachedRow {
  size_t hash = 0;
  int64_t seen_us = 0;
};

// node handle -> identity key of the stored node_hardware row (NodeHardwareKey,
// node_hardware_key.h).
using NodeHardwareCache = absl::flat_hash_map<int64_t, std::string>;
// node handle -> the responder address written last, or "" for a node with no row that reports
// none (location_store.h).
using LocationResponderCache = absl::flat_hash_map<int64_t, std::string>;

struct IngestWriteCaches {
  RowMap<CachedRow> accelerators;      // (node, pci) -> written facts
  RowMap<CachedRow> workload_details;  // (node, workload id) -> written Workload proto
  NodeHardwareCache node_hardware;
  LocationResponderCache location_responders;

  size_t size() const {
    return accelerators.size() + workload_details.size() + node_hardware.size() +
           location_responders.size();
  }
  void clear() {
    accelerators.clear();
    workload_details.clear();
    node_hardware.clear();
    location_responders.clear();
  }
};

}  // namespace prov::server
