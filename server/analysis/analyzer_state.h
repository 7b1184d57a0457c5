// Internal to server/analysis: the Analyzer's state, shared by analyzer.cc (evidence, links,
// bundles) and analyzer_flags.cc (rules, flags, queries). Not for other users.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "provenance/v1/analysis.pb.h"
#include "provenance/v1/analysis_state.pb.h"
#include "server/analysis/analyzer.h"
#include "server/analysis/hardware_facts.h"
#include "server/analysis/rhythm.h"
#include "server/analysis/rule.h"

namespace prov::server {

using AccountPair = std::pair<std::string, std::string>;  // first < second

inline constexpr size_t kMaxHistory = 8192;  // AccountState::history entries before merging

struct PairState {
  absl::flat_hash_map<std::string, double> max_weight;  // kind -> max weight
  absl::flat_hash_map<std::string, int> count;          // kind -> links
  std::set<std::string> link_keys;
  double score = 0;
  bool joined = false;
};

struct AccountState {
  double training_low = 0, training_high = 0, training_seconds = 0;
  std::string method;
  std::set<std::string> workloads;  // keys
  int64_t first_us = 0, last_us = 0;
  bool trains = false;
  int64_t first_train_us = 0;  // earliest training report seen
  // Training FLOP (low) by report time (exact times; the oldest entries are merged pairwise past
  // kMaxHistory): a tier crossing is dated to the report that completed it however out of order
  // the reports arrived.
  absl::btree_map<int64_t, double> history;
  std::vector<std::string> restricted_reasons;  // non-empty: a restricted party
};

// A node whose every report since `since_us` was refused (provd's clock throughout).
struct RejectingSpell {
  int64_t since_us = 0;
  int64_t last_us = 0;  // the newest refusal
  int64_t count = 0;    // refused in this spell, as seen by this provd process
  int64_t total = 0;    // refused over the node's life (its record)
  std::string reason;   // the newest refusal's
};

struct BundleState {
  std::string id;
  uint64_t seq = 0;  // creation order: the older bundle's id survives a merge
  std::set<std::string> accounts;
  std::string merged_into;
  int64_t first_us = 0, last_us = 0;
  // Rate estimate for projections: cumulative low at an anchor time.
  int64_t anchor_us = 0;
  double anchor_low = 0;
  double rate_per_day = 0;
  int64_t joined_us = 0;    // evidence time of the join that made the current membership
  int link_generation = 0;  // floor(log2(links added inside the bundle + 1))
  uint64_t links_added = 0;
  std::string material;  // what its row and flags were last written for
};

// One account's traffic with an off-fleet address (analyzer_external.cc).
struct EndpointAccount {
  std::string workload;   // a training workload of the account talking to it ("" if none)
  int64_t first_us = -1;  // evidence time first seen talking to it
  int64_t last_us = 0;    // ... and last, plus one report interval
  uint64_t sent = 0;      // bytes over the intervals that carried counters
  uint64_t received = 0;
  bool measured = false;  // some report carried byte counters
  bool counted = false;   // exchanged bulk (or volume unknown, when that links): links, counts
  bool linked = false;    // its links were made
};

// A peer address no node claims (analyzer_external.cc).
struct EndpointState {
  int64_t first_us = 0;   // evidence time first seen
  uint32_t port = 0;      // the first port seen, for the sentence
  bool excluded = false;  // not public, declared common by the policy, or claimed by a node
  bool common = false;    // more than external_peer_max_accounts accounts counted
  bool settled = false;   // seen for artifact_settle: it links
  size_t counted = 0;     // accounts with counted set
  std::map<std::string, EndpointAccount> accounts;
  std::set<std::string> links;
};

// One time/activity bucket: which workloads fell in it.
using Bucket = std::vector<std::string>;

// One activity_window of the fleet's activity events: (time, workload), ascending.
struct ActivityBucket {
  std::vector<std::pair<int64_t, std::string>> events;
};

struct Analyzer::State {
  absl::flat_hash_map<std::string, provenance::v1::NodeFacts> nodes;
  absl::flat_hash_map<std::string, provenance::v1::WorkloadFacts> workloads;
  // Address or hostname -> node; "" when several nodes claim it (ambiguous, links nothing).
  absl::flat_hash_map<std::string, std::string> address_to_node;
  // Peers and MASTER_ADDRs that pointed at an address no node had claimed yet, or at a node with
  // no workload to link to: address -> ("P|<workload key>|<port>" or "M|<workload key>") ->
  // evidence time. Retried when that node appears or its workloads change, so the links do not
  // depend on which report arrived first. Bounded (kMaxUnresolved*); not persisted.
  absl::flat_hash_map<std::string, absl::flat_hash_map<std::string, int64_t>> unresolved;
  size_t unresolved_total = 0;
  absl::flat_hash_map<std::string, provenance::v1::Link> links;
  std::map<AccountPair, PairState> pairs;
  absl::flat_hash_map<std::string, std::set<std::string>> joined_adj;  // account -> accounts
  absl::flat_hash_map<std::string, AccountState> accounts;
  absl::flat_hash_map<std::string, std::string> account_bundle;
  absl::flat_hash_map<std::string, BundleState> bundles;
  uint64_t next_bundle_seq = 1;

  // Evidence indexes.
  absl::flat_hash_map<std::string, std::set<std::string>> digest_accounts;  // digest -> accounts
  absl::flat_hash_map<std::string, std::string> digest_example;  // (digest|account) -> workload
  absl::flat_hash_set<std::string> common_digests;  // used by too many accounts: link nothing
  absl::flat_hash_map<std::string, int64_t> digest_first_us;  // evidence time first seen
  absl::flat_hash_set<std::string> settled_digests;           // seen for artifact_settle: they link
  absl::flat_hash_set<std::string> artifact_digests;  // checkpoint/dataset (not image/cmdline)
  absl::flat_hash_map<std::string, std::set<std::string>> digest_links;  // digest -> link keys
  // Ended workloads with artifact digests, for hand-off: digest -> (end us, workload key).
  absl::flat_hash_map<std::string, std::deque<std::pair<int64_t, std::string>>> ended_by_digest;
  absl::flat_hash_map<std::string, std::vector<std::string>> started_by_digest;  // recent starts
  // Hand-offs found before their digest settled: digest -> (ended, started) workload keys.
  absl::flat_hash_map<std::string, std::set<std::pair<std::string, std::string>>> pending_handoffs;
  // External coordinators: peer address (no node claims it) -> accounts talking to it.
  absl::flat_hash_map<std::string, EndpointState> endpoints;
  // Rhythm (analyzer_rhythm.cc): each training workload's activity events, and the fleet's events
  // by activity_window bucket, for candidates and the fleet's share changing at a moment.
  absl::flat_hash_map<std::string, ActivitySeries> activity;
  absl::btree_map<int64_t, ActivityBucket> activity_events;
  size_t activity_event_count = 0;  // events in activity_events
  absl::btree_map<int64_t, Bucket> start_buckets, stop_buckets;

  // Identity.
  int64_t kyc_version = 0;
  std::string screening_list_version;
  absl::flat_hash_map<std::string, provenance::v1::AccountIdentity> identities;
  absl::flat_hash_map<std::string, std::vector<provenance::v1::ScreeningMatch>> screening;

  // Flags.
  absl::flat_hash_map<std::string, provenance::v1::Flag> flags;  // id -> flag
  absl::flat_hash_map<std::string, std::string> flag_by_key;     // rule|subject -> id
  absl::flat_hash_map<std::string, std::string> flag_material;   // id -> what last changed it
  uint64_t next_flag = 1;
  int64_t latest_evidence_us = 0;
  int64_t identity_evidence_us = 0;  // latest evidence time when the identity last changed

  // Node rules (analyzer_node_health.cc). node -> its current spell of refused reports; nodes
  // with a node_reports_rejected flag not yet resolved (rebuilt from the flags on restore).
  absl::flat_hash_map<std::string, RejectingSpell> rejecting;
  absl::flat_hash_set<std::string> rejecting_flagged;
  std::set<std::string> dirty_rejecting;
  std::vector<NodeEvent> identity_mismatches;  // refusal rounds for node_identity_mismatch
  std::vector<NodeEvent> location_events;      // verdict changes and forged answers (issue 11)
  // Hardware reconciliation (hardware_facts.h, rule_hardware_*.cc).
  HardwareState hw;
  // The rules (rule.h), in evaluation order, and the Analyzer they serve (bundle views).
  std::vector<std::unique_ptr<Rule>> rules = MakeRules();
  const Analyzer* owner = nullptr;

  // Work for Evaluate() and changes for TakeChanges().
  std::set<std::string> dirty_bundles, dirty_nodes, dirty_accounts;
  std::set<std::string> changed_nodes, changed_workloads, changed_links, removed_links,
      changed_bundles, changed_flags;
};

std::string WorkloadKey(const std::string& node_id, const std::string& workload_id);
AccountPair MakePair(const std::string& a, const std::string& b);

}  // namespace prov::server
