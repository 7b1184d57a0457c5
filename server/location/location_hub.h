// LocationHub: provd's location verification (issue 11) behind the LandmarkGateway and
// LocationService handlers. Owns the LocationBook, its own read-write SQLite connection (the
// rows of server/store/location_store.h) and the location metrics, and sends verdict changes and
// forged answers to the analysis engine as NodeEvents.
//
//   LocationHub::Options o{.db_path = dir + "/provd.db", .config = &config, .clock = &clock,
//                          .policy = [&] { return engine->Read(...); },
//                          .events = [&](std::vector<NodeEvent> e) { engine->OnNodeEvents(...); },
//                          .registry = &registry};
//   PROV_ASSIGN_OR_RETURN(auto hub, LocationHub::Start(o));   // loads keys, records, verdicts
//   hub->NodeKeySeen("gpu-017", spki_der, "stream");          // any thread, never blocks on I/O
//   auto response = hub->Submit(request, /*caller=*/"lm-fra-1");
//   hub->Tick();   // the tick thread: node keys, assignment, freshness expiry of every verdict
//
// On replicas sharing a PostgreSQL store (Options::leader_term set) every replica runs a hub: each
// accepts landmark records and node keys and answers assignments, and takes in at each tick what
// the others stored; only the elected leader's hub judges (saves verdicts, sends events), and a
// standby answers the location queries from the stored verdicts. Verdict saves are fenced by the
// leader's term (LocationRepository::SaveVerdicts): a leader deposed before it noticed saves
// nothing and reports nothing.
//
// Threads: Submit, GetAssignment and the queries run on gRPC threads and serialise on one mutex
// (a batch of up to 1,000 records is checked before its one write transaction; the book,
// verdicts and reported events change only after a commit). The repository decides the
// landmark sequence rule again inside that transaction (StoreLandmarkRecords): a record another
// replica sharing the database stored first is refused there as a replay, and the book takes
// the landmarks' states as stored. NodeKeySeen only queues under a small
// mutex (the AgentGateway reactor calls it). Tick runs every `tick` on the hub's own thread, or
// from tests directly (tick zero: no thread). Records refused are counted by reason
// (prov_location_records_refused_total) and against their landmark, and handed to
// `audit_refusals` (provd: one audit entry per landmark and call, rate-limited).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "prometheus/registry.h"
#include "provenance/v1/location.pb.h"
#include "server/analysis/node_event.h"
#include "server/location/location_book.h"
#include "server/location/location_config.h"
#include "server/policy/policy.h"
#include "server/store/repo/location.h"

namespace prov::server::location {

struct LocationPolicyView {
  policy::LocationPolicy location;
  std::string version;
};

class LocationMetrics;

class LocationHub {
 public:
  struct Options {
    // The store; null: the SQLite one at db_path (SqliteLocationRepository::Open).
    std::unique_ptr<LocationRepository> repository;
    std::string db_path;
    const LocationConfig* config = nullptr;              // required; outlives the hub
    const Clock* clock = nullptr;                        // required
    std::function<LocationPolicyView()> policy;          // required: the policy in force
    std::function<void(std::vector<NodeEvent>)> events;  // may be empty (tests)
    prometheus::Registry* registry = nullptr;            // may be null
    // Refused records of one call, per landmark (DenialAuditor::RecordLandmarkRefusal in provd);
    // called after the call's transaction, outside the hub's mutex. May be empty.
    std::function<void(const std::string& landmark, int64_t records, const std::string& reasons,
                       const std::string& first)>
        audit_refusals;
    absl::Duration tick = absl::Seconds(30);  // zero: no thread (tests call Tick)
    // When the node was revoked (nullopt: not revoked); may be empty. A revoked node with no key
    // seen after its revocation is not probed, its records are refused, its verdict unverified.
    std::function<std::optional<absl::Time>(const std::string& node_id)> revoked_at;
    // Replicas sharing one store (PostgreSQL; docs/design/scale-out.md section 4): the term this
    // replica leads in, 0 while it does not lead (LeaderElection::term). Empty: this hub is the
    // only one (SQLite): it judges from its own book, read once at start. Set: the hub is one of
    // several; each tick first takes in what every replica stored (node keys, landmark states,
    // records above the last id it read), and it judges only in the term whose stored verdicts it
    // loaded (at its first tick in a new term: what the previous leader saved and reported), then
    // saves verdicts and sends events. A standby stores the records it receives (the leader
    // judges them at its next tick) and answers GetNodeLocation and ListNodeLocations from the
    // stored verdicts.
    std::function<int64_t()> leader_term;
    // PostgreSQL: the verdict events (kLocationVerdict) go into the ingest batch log in the
    // transaction that saves the verdicts making them (LocationRepository::SaveVerdicts' events
    // row), encoded by this (EncodeNodeEvents), instead of through `events` after the commit: a
    // leader that dies between the two can no longer lose one (the successor loads the saved
    // verdict as already reported, and its engine reads the event from the log). Empty: through
    // `events` (SQLite, where the engine runs in process). Forged-answer events always go through
    // `events`.
    std::function<std::string(const std::vector<NodeEvent>&)> encode_verdict_events;
  };
  static absl::StatusOr<std::unique_ptr<LocationHub>> Start(Options options);
  ~LocationHub();

  // A node's key (DER SPKI) from a bound agent stream ("stream") or the node CA ("node_ca").
  // Queued; written and used at the next Tick. A stream's key becomes the node's active key; the
  // previous one stays accepted for the grace period (2 landmark rounds + a tick), and every key a
  // node had is kept (its history goes into exports).
  void NodeKeySeen(const std::string& node_id, std::string spki_der, const char* source);
  // The same from a verified certificate (PEM): its key is extracted at the next Tick, off the
  // caller's thread (the AgentGateway reactor's, the enrolment handler's).
  void NodeCertificateSeen(const std::string& node_id, std::string cert_pem, const char* source);

  provenance::v1::Assignment GetAssignment(const std::string& landmark_id);
  bool KnowsLandmark(const std::string& landmark_id) const {
    return options_.config->Landmark(landmark_id) != nullptr;
  }
  // `caller`: the landmark the client certificate names ("" when provd requires none).
  absl::StatusOr<provenance::v1::SubmitMeasurementsResponse> Submit(
      const provenance::v1::SubmitMeasurementsRequest& request, const std::string& caller);

  // Queued keys, node rows (responders, inventory datacenters) and the assignment; then every
  // known node's verdict again (freshness expiry).
  absl::Status Tick();

  // NOT_FOUND: no verdict for the node; another error: a standby could not read the store.
  absl::StatusOr<provenance::v1::NodeLocation> GetNodeLocation(const std::string& node_id);
  absl::StatusOr<provenance::v1::ListNodeLocationsResponse> ListNodeLocations(
      const provenance::v1::ListNodeLocationsRequest& request);
  provenance::v1::ListLandmarksResponse ListLandmarks();

  // A LandmarkGateway call refused before its records were read (no or wrong certificate).
  void CountRefusedCall(const std::string& reason);

  // Runs the next tick now (provd: when this replica starts leading, so its hub judges at once
  // instead of at the end of the tick interval). Never blocks.
  void Wake();

  void Shutdown();  // stops the tick thread; idempotent

 private:
  LocationHub(Options options, std::unique_ptr<LocationRepository> repo);
  absl::Status Load() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status LoadVerdicts() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Replicas: node keys, landmark states and the records other replicas stored since the last
  // call (records: by id; the store serialises their writes, so ids commit in order).
  absl::Status TakeInStored() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether this hub judges now: no `leader_term` option, or leading in the term whose verdicts
  // it loaded.
  bool Judging() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status RefreshNodes() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // How long a node's previous key stays accepted after a stream bound a new one.
  absl::Duration KeyGrace() const;
  absl::Status WriteKeys(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Evaluates `nodes`; saves those whose verdict changed and reports (events) those whose
  // verdict, proof requirement or excluding landmarks changed.
  absl::Status Judge(const std::vector<std::string>& nodes, const LocationPolicyView& p,
                     std::vector<NodeEvent>& events) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void UpdateGauges() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  NodeEvent::Location Explain(const NodeVerdict& v) const;
  void Emit(std::vector<NodeEvent> events);
  void Run();

  const Options options_;
  std::unique_ptr<LocationMetrics> metrics_;

  absl::Mutex mu_;
  std::unique_ptr<LocationRepository> repo_ ABSL_GUARDED_BY(mu_);
  LocationBook book_ ABSL_GUARDED_BY(mu_);
  // A node's keys, oldest first; `active` (index, -1: none) is the one landmarks get: the key the
  // newest bound stream presented (a key the node CA issued becomes active only for a node no
  // stream has bound yet). last_seen of a replaced key is when it was replaced.
  struct KeyInfo {
    std::string spki;
    absl::Time first_seen, last_seen, written;
    bool stream = false;
  };
  struct NodeKeys {
    std::vector<KeyInfo> keys;
    int active = -1;
  };
  absl::flat_hash_map<std::string, NodeKeys> keys_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, NodeVerdict> verdicts_ ABSL_GUARDED_BY(mu_);             // newest per node
  absl::flat_hash_map<std::string, std::string> reported_ ABSL_GUARDED_BY(mu_);  // event keys
  // Replicas: verdicts_ and reported_ hold the stored verdicts loaded when the hub started
  // leading in this term; 0 while it stands by (both empty).
  int64_t verdicts_term_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t records_read_ ABSL_GUARDED_BY(mu_) = 0;  // replicas: the highest record id taken in

  absl::Mutex pending_mu_;
  struct PendingKey {
    std::string node_id, spki_der, source;
    bool pem = false;  // spki_der holds a PEM certificate still to be read
  };
  std::vector<PendingKey> pending_keys_ ABSL_GUARDED_BY(pending_mu_);
  absl::CondVar wake_;
  bool stopping_ ABSL_GUARDED_BY(pending_mu_) = false;
  bool woken_ ABSL_GUARDED_BY(pending_mu_) = false;

  std::thread thread_;
};

}  // namespace prov::server::location
