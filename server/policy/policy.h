// Policy: the versioned rules provd applies to bundles and accounts (issue 3). Loaded from YAML and
// checked on load; every flag records the rule name and `version`.
//
//   absl::StatusOr<Policy> p = LoadPolicyFile("deploy/policy/default.yaml");
//   if (!p.ok()) { /* "default.yaml:14:9: compute_tiers[1].flop: must be above 1e+24 ..." */ }
//   const ComputeTier* tier = p->HighestTierReached(3.2e25);   // "eu-ai-act-systemic"
//
// The format is documented field by field in deploy/policy/default.yaml. Immutable once loaded;
// share it as std::shared_ptr<const Policy> and swap the pointer to reload.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/policy/address_range.h"

namespace prov::policy {

enum class Severity { kInfo = 0, kLow, kMedium, kHigh, kCritical };
absl::string_view SeverityName(Severity s);
std::optional<Severity> ParseSeverity(absl::string_view name);

struct ComputeTier {
  std::string name;  // "eu-ai-act-systemic"
  double flop = 0;   // cumulative estimated training FLOP of a lineage (bundle)
  Severity severity = Severity::kMedium;
  std::string basis;  // the instrument it comes from, shown to analysts
};

struct RestrictedHardware {
  std::string name;  // "huawei-ascend"
  uint32_t vendor_id = 0;
  std::vector<uint32_t> device_ids;   // empty: every device of the vendor
  std::vector<std::string> families;  // catalog families ("ascend"); empty: any
  Severity severity = Severity::kCritical;
};

// Location verification (issue 11, server/location/): the verifier's physics and which sites
// must prove where they are. The first six feed prov::location::VerifierParams.
struct LocationPolicy {
  double fibre_km_per_ms = 200;             // nominal one-way speed in fibre
  double processing_floor_ms = 0;           // what provably always elapses inside a responder
  double min_radius_km = 1;                 // no disk is smaller
  double site_tolerance_km = 5;             // slack for configured coordinates
  double proof_radius_km = 500;             // a disk at most this big proves the site
  absl::Duration max_age = absl::Hours(1);  // older measurements prove nothing
  // A record whose measured_at is further than this from provd's clock is refused.
  absl::Duration clock_tolerance = absl::Minutes(2);
  // Region or datacenter ids ("*": all) where location_unverified is raised.
  std::vector<std::string> require_proof;
  Severity severity_contradicted = Severity::kCritical;
  Severity severity_unverified = Severity::kMedium;
  Severity severity_forged = Severity::kHigh;
  // Whether require_proof covers a node declared in `datacenter` of `region`.
  bool ProofRequired(absl::string_view datacenter, absl::string_view region) const;
};

struct Policy {
  std::string version;
  std::string description;
  std::vector<ComputeTier> compute_tiers;  // ascending by flop
  struct {
    absl::Duration horizon = absl::Hours(24 * 30);  // zero: projection off
    Severity severity = Severity::kMedium;
  } projection;
  std::vector<std::string> restricted_jurisdictions;  // ISO 3166 alpha-2, upper case
  Severity restricted_jurisdiction_severity = Severity::kHigh;
  struct {
    double min_score = 0.88;
    Severity severity = Severity::kHigh;
  } screening;
  std::vector<RestrictedHardware> restricted_hardware;
  Severity restricted_party_training_severity = Severity::kCritical;
  // Node health: a node whose every report is refused for `rejecting_after` while it keeps sending
  // (its stream open, its compute out of the ledger: a tenant silencing its node) raises
  // node_reports_rejected; the flag resolves itself when a report of the node is stored again.
  struct {
    absl::Duration rejecting_after = absl::Minutes(10);
    Severity rejecting_severity = Severity::kHigh;
    // node_identity_mismatch: a node's client certificate used to report as another node (a
    // stolen, copied or shared certificate is an incident, not noise).
    Severity identity_mismatch_severity = Severity::kCritical;
  } node_health;
  // Hardware reconciliation (issue 10 §3): the declared inventory against the accelerators the
  // agents report. Silence counts in each node's own report interval on provd's clock.
  struct {
    int silent_after_intervals = 3;
    // A node quiet for less than this is rebooting, not hidden (POST and driver load on an
    // 8-accelerator server take minutes), whatever its interval.
    absl::Duration silent_min = absl::Minutes(5);
    absl::Duration assumed_interval = absl::Seconds(60);  // a node that never reported
    // Many nodes silent at once is an outage of provd's ingest or of the network (a data
    // centre's uplink, a reconnect storm after provd was overloaded), not that many nodes
    // unplugged: while at least outage_min_nodes AND outage_fraction of the known nodes are past
    // their silence deadline together, node-level silence is held, for at most outage_hold; then
    // every node still silent is judged on its own, dated from its own last report.
    double outage_fraction = 0.05;
    int outage_min_nodes = 20;
    absl::Duration outage_hold = absl::Minutes(30);
    // A card re-declared on another node keeps reporting from its previous node this long before
    // hardware_moved says so (the asset system is often updated before the move is done).
    absl::Duration move_grace = absl::Hours(24);
    Severity relabelled_severity = Severity::kHigh;  // critical when the chip is restricted
    Severity moved_severity = Severity::kHigh;
    Severity cloned_identity_severity = Severity::kCritical;
    Severity undeclared_severity = Severity::kMedium;
    Severity silent_severity = Severity::kMedium;
    Severity assignment_severity = Severity::kHigh;
  } hardware;
  LocationPolicy location;  // issue 11
  struct {
    double bundle_threshold = 0.6;  // combined evidence score that joins two accounts
    absl::flat_hash_map<std::string, double> weights;  // link kind -> weight 0..1
    int common_artifact_max_accounts = 5;  // an artifact used by more accounts links nothing
    // A digest links accounts only once it has been seen for this long, so the burst of a cold
    // start (every workload appearing at once) does not link the first users of a public image
    // before the others show up.
    absl::Duration artifact_settle = absl::Minutes(10);
    absl::Duration handoff_window = absl::Hours(6);
    absl::Duration co_start_window = absl::Minutes(2);
    // Synchronised activity (docs/design/correlation.md "Rhythm"): activity changes of two
    // training workloads of different accounts within activity_tolerance coincide; a pair is
    // linked when at least min_shared_transitions coincide, min_aligned_cycles of them in a row
    // (a shared interval), and the chance of that given each series' own rate and rhythm and the
    // fleet's is at most 10^-min_surprise. The link has the kind's full weight from
    // full_surprise on, proportionally less below. activity_window is the index's bucket.
    absl::Duration activity_window = absl::Minutes(5);
    absl::Duration activity_tolerance = absl::Minutes(1);
    int min_shared_transitions = 3;
    int min_aligned_cycles = 2;
    double min_surprise = 6;
    double full_surprise = 8;
    // A time or activity bucket holding more workloads than this is too common to be evidence.
    int max_bucket_workloads = 64;
    // An identity value (owner, e-mail domain, address, ...) shared by more accounts links nothing.
    int identity_max_accounts = 20;
    // An address shared by more accounts than this is common (a registered agent's office, a
    // co-working building, a formation agent) and links nothing.
    int identity_address_max_accounts = 3;
    // A pair of accounts joins a bundle only when its workload-level links alone (network_peer,
    // master_addr, artifact, handoff, synchronised_activity, ...) combine to at least this, so
    // weak and identity links strengthen a pair but never carry a merge.
    double min_workload_evidence = 0.4;
    // External coordinators: training workloads of different accounts exchanging bulk traffic
    // with the same public address that no node of the fleet claims (a parameter server or relay
    // abroad) are linked (external_peer), unless more than this many accounts exchange bulk
    // with it (a shared object store) or it lies in common_endpoints. Light users (a tracker,
    // a web API) neither link nor count. Same default as common_artifact_max_accounts.
    int external_peer_max_accounts = 5;
    // Bulk: the account's training sent and received at least this many bytes per hour each
    // way (over the time since it was first seen talking to the address), and the smaller
    // direction is at least external_peer_min_symmetry x the larger. A coordinator exchanges
    // model-sized traffic both ways; a tracker or a web API sees a few MB an hour.
    double external_peer_min_bytes_per_hour = 1024.0 * 1024 * 1024;
    double external_peer_min_symmetry = 0.25;
    // Accounts whose agents send no byte counters (old agents, sockets in another network
    // namespace): false (default) = they neither link nor count (a tracker and a relay look
    // alike without volume); true = they link as before volume existed and count toward
    // external_peer_max_accounts, the evidence saying that the volume is unknown.
    bool external_peer_link_unknown_volume = false;
    std::vector<AddressRange> common_endpoints;  // provider gateways, object stores, mirrors
  } correlation;

  // The highest tier whose threshold `flop` reaches, or nullptr.
  const ComputeTier* HighestTierReached(double flop) const;
  // The lowest tier above `flop`, or nullptr.
  const ComputeTier* NextTier(double flop) const;
  bool IsRestrictedJurisdiction(absl::string_view iso_code) const;
  // The first restricted-hardware rule matching the device, or nullptr.
  const RestrictedHardware* MatchHardware(uint32_t vendor_id, uint32_t device_id,
                                          absl::string_view family) const;
};

// The link kinds correlation weights may name, and the weight each has when a policy omits it
// (the values deploy/policy/default.yaml ships).
const std::vector<std::string>& KnownLinkKinds();
const std::vector<std::pair<std::string, double>>& DefaultLinkWeights();
// Supporting kinds (identity_*, co_start, image) strengthen a pair but never form a bundle alone: a
// bundle needs workload-level kinds (network_peer, master_addr, artifact, handoff,
// synchronised_activity, external_peer) reaching min_workload_evidence.
bool IsSupportingLinkKind(absl::string_view kind);

absl::StatusOr<Policy> ParsePolicy(absl::string_view yaml, absl::string_view source_name);
absl::StatusOr<Policy> LoadPolicyFile(const std::string& path);
// deploy/policy/default.yaml as built into the binary (provd's policy when none is configured).
absl::string_view DefaultPolicyYaml();
inline constexpr char kDefaultPolicySource[] = "built-in deploy/policy/default.yaml";

}  // namespace prov::policy
