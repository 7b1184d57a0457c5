#include "server/location/location_hub.h"

#include <algorithm>
#include <set>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/location/probe_sig.h"
#include "common/log/log.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "server/location/location_metrics.h"
#include "server/store/sqlite/sqlite_location.h"

namespace prov::server::location {
namespace {

using provenance::v1::NodeLocation;

constexpr size_t kMaxRecordsPerCall = 1000;
// Records older than this are not reloaded at start (a verdict older than any max_age decides
// nothing; calibration pairs are re-measured every round).
constexpr absl::Duration kReloadWindow = absl::Hours(24 * 7);
// A node key seen again is rewritten (last_seen) at most this often.
constexpr absl::Duration kKeyRewrite = absl::Hours(1);
// Replicas: records taken in from the store per read.
constexpr size_t kRecordsPage = 10'000;

std::string VerdictText(provenance::v1::LocationVerdict v) {
  switch (v) {
    case provenance::v1::LOCATION_VERDICT_VERIFIED:
      return "verified";
    case provenance::v1::LOCATION_VERDICT_CONTRADICTED:
      return "contradicted";
    default:
      return "unverified";
  }
}

std::vector<std::string> Excluding(const NodeLocation& loc) {
  std::vector<std::string> out;
  for (const auto& d : loc.disks()) {
    if (d.fresh() && !d.contains_site()) out.push_back(d.landmark_id());
  }
  return out;
}

// What a flag rests on: an event is sent when it changes.
std::string EventKey(const NodeLocation& loc) {
  return absl::StrCat(VerdictText(loc.verdict()), "|", loc.proof_required(), "|",
                      absl::StrJoin(Excluding(loc), ","), "|", loc.needed_landmark_id());
}

// What the stored row rests on: saved when it changes.
std::string RowKey(const NodeVerdict& v) {
  return absl::StrCat(VerdictText(v.location.verdict()), "|", v.location.reason(), "|",
                      absl::StrJoin(v.disk_ids, ","), "|", v.location.proof_required(), "|",
                      v.location.policy_version());
}

std::string IdsJson(const std::vector<int64_t>& ids) {
  return absl::StrCat("[", absl::StrJoin(ids, ","), "]");
}

std::string CalibrationJson(const std::map<std::string, std::vector<int64_t>>& c) {
  std::vector<std::string> parts;
  for (const auto& [lm, ids] : c) parts.push_back(absl::StrCat("\"", lm, "\":", IdsJson(ids)));
  return absl::StrCat("{", absl::StrJoin(parts, ","), "}");
}

std::string ParamsJson(const policy::LocationPolicy& p) {
  return absl::StrFormat(
      "{\"fibre_km_per_ms\":%.17g,\"processing_floor_ms\":%.17g,\"min_radius_km\":%.17g,"
      "\"site_tolerance_km\":%.17g,\"proof_radius_km\":%.17g,\"max_age_seconds\":%d}",
      p.fibre_km_per_ms, p.processing_floor_ms, p.min_radius_km, p.site_tolerance_km,
      p.proof_radius_km, absl::ToInt64Seconds(p.max_age));
}

std::string Clock(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", t, absl::UTCTimeZone());
}

// The key landmarks get: the stream key seen last (ties: the newer key), else the newest node-CA
// key. WriteKeys keeps to the same rule (a key a stream binds is seen last), so a restart and
// another replica reading the stored rows find the same key.
template <typename Keys>
int ActiveKey(const Keys& keys) {
  int active = -1;
  for (size_t i = 0; i < keys.size(); ++i) {
    const auto& k = keys[i];
    if (active < 0) {
      active = static_cast<int>(i);
      continue;
    }
    const auto& a = keys[static_cast<size_t>(active)];
    if ((k.stream && !a.stream) ||
        (k.stream == a.stream &&
         std::tie(k.last_seen, k.first_seen) >= std::tie(a.last_seen, a.first_seen))) {
      active = static_cast<int>(i);
    }
  }
  return active;
}

}  // namespace

absl::StatusOr<std::unique_ptr<LocationHub>> LocationHub::Start(Options options) {
  if (options.config == nullptr || options.clock == nullptr || !options.policy) {
    return absl::InvalidArgumentError("LocationHub needs a config, a clock and a policy");
  }
  std::unique_ptr<LocationRepository> repo = std::move(options.repository);
  if (repo == nullptr) {
    PROV_ASSIGN_OR_RETURN(repo, SqliteLocationRepository::Open(options.db_path));
  }
  std::unique_ptr<LocationHub> hub(new LocationHub(std::move(options), std::move(repo)));
  {
    absl::MutexLock lock(&hub->mu_);
    PROV_RETURN_IF_ERROR(hub->Load());
  }
  if (hub->options_.tick > absl::ZeroDuration())
    hub->thread_ = std::thread([h = hub.get()] { h->Run(); });
  return hub;
}

LocationHub::LocationHub(Options options, std::unique_ptr<LocationRepository> repo)
    : options_(std::move(options)),
      metrics_(std::make_unique<LocationMetrics>(options_.registry)),
      repo_(std::move(repo)),
      book_(*options_.config) {}

LocationHub::~LocationHub() { Shutdown(); }

void LocationHub::Shutdown() {
  {
    absl::MutexLock lock(&pending_mu_);
    stopping_ = true;
    wake_.SignalAll();
  }
  if (thread_.joinable()) thread_.join();
}

void LocationHub::Wake() {
  absl::MutexLock lock(&pending_mu_);
  woken_ = true;
  wake_.SignalAll();
}

void LocationHub::Run() {
  while (true) {
    {
      absl::MutexLock lock(&pending_mu_);
      if (!woken_) {
        wake_.WaitWithTimeout(&pending_mu_, absl::ToDoubleSeconds(options_.tick) > 0
                                                ? options_.tick
                                                : absl::Seconds(30));
      }
      woken_ = false;
      if (stopping_) return;
    }
    if (absl::Status s = Tick(); !s.ok()) {
      PROV_LOG_ERROR("location", "location tick failed", {"error", s});
    }
  }
}

absl::Status LocationHub::Load() {
  const absl::Time now = options_.clock->Now();
  PROV_ASSIGN_OR_RETURN(auto keys, repo_->ListNodeKeys());
  for (auto& k : keys) {
    NodeKeys& nk = keys_[k.node_id];
    nk.keys.push_back(KeyInfo{std::move(k.spki_der), k.first_seen, k.last_seen, k.last_seen,
                              k.source == "stream"});
  }
  for (auto& [node, nk] : keys_) nk.active = ActiveKey(nk.keys);
  PROV_ASSIGN_OR_RETURN(auto states, repo_->ListLandmarkStates());
  for (const auto& st : states) {
    book_.RestoreLandmark(st.landmark_id, LandmarkState{st.last_seq, st.last_measured,
                                                        st.last_record, st.accepted, st.refused});
  }
  // Only what verdicts can use: the newest record per (landmark, target) within max_age.
  const absl::Duration window = std::min(options_.policy().location.max_age, kReloadWindow);
  PROV_ASSIGN_OR_RETURN(auto records, repo_->ListNewestMeasurements(now - window));
  for (const auto& r : records) {
    book_.RestoreRecord(r.landmark_id, r.target_kind, r.target_id,
                        RecordRef{r.id, r.rtt_min_ms, r.measured_at, r.answers_valid > 0});
    records_read_ = std::max(records_read_, r.id);
  }
  // One hub judges from the start; a replica's only once it leads (Tick).
  if (!options_.leader_term) PROV_RETURN_IF_ERROR(LoadVerdicts());
  PROV_RETURN_IF_ERROR(RefreshNodes());
  UpdateGauges();
  return absl::OkStatus();
}

absl::Status LocationHub::LoadVerdicts() {  // into empty verdicts_ and reported_
  std::string after;
  while (true) {
    PROV_ASSIGN_OR_RETURN(auto rows, repo_->ListVerdicts("", after, 1000));
    if (rows.empty()) break;
    for (const auto& row : rows) {
      NodeVerdict v;
      if (!v.location.ParseFromString(row.location)) continue;
      reported_[row.node_id] = EventKey(v.location);
      verdicts_[row.node_id] = std::move(v);
    }
    after = rows.back().node_id;
  }
  return absl::OkStatus();
}

bool LocationHub::Judging() const {
  return !options_.leader_term || (verdicts_term_ != 0 && options_.leader_term() == verdicts_term_);
}

absl::Status LocationHub::TakeInStored() {
  // Node keys bound on other replicas (and this one's, as written): merged, then each node's
  // active key by the same rule as at start.
  PROV_ASSIGN_OR_RETURN(auto keys, repo_->ListNodeKeys());
  for (auto& k : keys) {
    NodeKeys& nk = keys_[k.node_id];
    auto it = std::find_if(nk.keys.begin(), nk.keys.end(),
                           [&](const KeyInfo& known) { return known.spki == k.spki_der; });
    if (it == nk.keys.end()) {
      nk.keys.push_back(KeyInfo{std::move(k.spki_der), k.first_seen, k.last_seen, k.last_seen,
                                k.source == "stream"});
      continue;
    }
    it->first_seen = std::min(it->first_seen, k.first_seen);
    it->last_seen = std::max(it->last_seen, k.last_seen);
    it->written = std::max(it->written, k.last_seen);
    it->stream = it->stream || k.source == "stream";
  }
  for (auto& [node, nk] : keys_) nk.active = ActiveKey(nk.keys);
  // The landmarks' replay state as stored (it only moves forward).
  PROV_ASSIGN_OR_RETURN(auto states, repo_->ListLandmarkStates());
  for (const auto& st : states) {
    book_.RestoreLandmark(st.landmark_id, LandmarkState{st.last_seq, st.last_measured,
                                                        st.last_record, st.accepted, st.refused});
  }
  // Records by id: StoreLandmarkRecords holds the store's location lock until its commit, so a
  // record with a lower id than one read is never committed later. This hub's own records come
  // back too (RestoreRecord keeps the newest per landmark and target: taking one in twice is a
  // no-op).
  while (true) {
    PROV_ASSIGN_OR_RETURN(auto rows, repo_->ListRecordsAfter(records_read_, kRecordsPage));
    for (const auto& r : rows) {
      book_.RestoreRecord(r.landmark_id, r.target_kind, r.target_id,
                          RecordRef{r.id, r.rtt_min_ms, r.measured_at, r.answers_valid > 0});
      records_read_ = std::max(records_read_, r.id);
    }
    if (rows.size() < kRecordsPage) break;
  }
  return absl::OkStatus();
}

absl::Duration LocationHub::KeyGrace() const {
  return 2 * absl::Seconds(options_.config->assignment.round_interval_seconds) +
         std::max(options_.tick, absl::Seconds(30));
}

absl::Status LocationHub::RefreshNodes() {
  const absl::Time now = options_.clock->Now();
  const absl::Duration grace = KeyGrace();
  PROV_ASSIGN_OR_RETURN(auto rows, repo_->ListLocationNodes());
  std::vector<NodeTarget> targets;
  targets.reserve(rows.size());
  for (auto& row : rows) {
    NodeTarget t;
    t.node_id = row.node_id;
    t.responder = std::move(row.responder);
    std::optional<absl::Time> revoked;
    if (options_.revoked_at) revoked = options_.revoked_at(row.node_id);
    if (auto k = keys_.find(row.node_id); k != keys_.end()) {
      const NodeKeys& nk = k->second;
      if (nk.active >= 0) t.spki_der = nk.keys[static_cast<size_t>(nk.active)].spki;
      bool newer_than_revocation = false;
      for (const KeyInfo& key : nk.keys) {
        t.known_keys.push_back(key.spki);
        if (key.spki == t.spki_der || key.last_seen >= now - grace) {
          t.accepted_keys.push_back(key.spki);
        }
        if (revoked.has_value() && key.first_seen > *revoked) newer_than_revocation = true;
      }
      t.revoked = revoked.has_value() && !newer_than_revocation;
    } else {
      t.revoked = revoked.has_value();
    }
    t.datacenter =
        row.inventory_datacenter.empty() ? row.report_datacenter : row.inventory_datacenter;
    t.region = std::move(row.region);
    targets.push_back(std::move(t));
  }
  book_.SetAssignment(AssignmentTable::Build(*options_.config, std::move(targets)));
  return absl::OkStatus();
}

void LocationHub::NodeKeySeen(const std::string& node_id, std::string spki_der,
                              const char* source) {
  if (node_id.empty() || spki_der.empty()) return;
  absl::MutexLock lock(&pending_mu_);
  if (pending_keys_.size() >= 100'000) return;  // bounded: the node's next stream brings it again
  pending_keys_.push_back({node_id, std::move(spki_der), source});
}

void LocationHub::NodeCertificateSeen(const std::string& node_id, std::string cert_pem,
                                      const char* source) {
  if (node_id.empty() || cert_pem.empty()) return;
  absl::MutexLock lock(&pending_mu_);
  if (pending_keys_.size() >= 100'000) return;
  pending_keys_.push_back({node_id, std::move(cert_pem), source, true});
}

absl::Status LocationHub::WriteKeys(absl::Time now) {
  std::vector<PendingKey> pending;
  {
    absl::MutexLock lock(&pending_mu_);
    pending.swap(pending_keys_);
  }
  if (pending.empty()) return absl::OkStatus();
  std::vector<StoredNodeKey> rows;  // written in one transaction
  for (PendingKey& k : pending) {
    if (k.pem) {
      absl::StatusOr<std::string> der = prov::location::PublicKeyDerFromPem(k.spki_der);
      if (!der.ok()) {
        PROV_LOG_WARN("location", "node certificate has no readable key", {"node", k.node_id},
                      {"error", der.status()});
        continue;
      }
      k.spki_der = *std::move(der);
    }
    // The repository refuses the whole write for one bad key (an oversize id, a NUL byte).
    if (absl::Status bad = CheckNodeKey({k.node_id, k.spki_der, now, now, k.source}); !bad.ok()) {
      PROV_LOG_WARN("location", "node key not stored", {"error", bad});
      continue;
    }
    NodeKeys& nk = keys_[k.node_id];
    const bool stream = k.source == "stream";
    auto it = std::find_if(nk.keys.begin(), nk.keys.end(),
                           [&](const KeyInfo& known) { return known.spki == k.spki_der; });
    bool write = false;
    if (it == nk.keys.end()) {
      nk.keys.push_back(KeyInfo{k.spki_der, now, now, now, stream});
      it = nk.keys.end() - 1;
      write = true;
    }
    const int index = static_cast<int>(it - nk.keys.begin());
    it->last_seen = now;
    if (stream && !it->stream) {
      it->stream = true;
      write = true;
    }
    // The key switches when a stream binds with it (not when the node CA issues it); a node no
    // stream has bound yet takes its newest issued key.
    const bool any_stream =
        std::any_of(nk.keys.begin(), nk.keys.end(), [](const KeyInfo& key) { return key.stream; });
    if (nk.active != index && (stream || !any_stream)) {
      if (nk.active >= 0) {
        KeyInfo& previous = nk.keys[static_cast<size_t>(nk.active)];
        // It was the node's key until now: accepted for the grace period. Stored a microsecond
        // before the new key's last_seen, so a restart finds the same active key.
        previous.last_seen = now - absl::Microseconds(1);
        previous.written = now;
        rows.push_back({k.node_id, previous.spki, previous.first_seen, previous.last_seen,
                        previous.stream ? "stream" : "node_ca"});
      }
      nk.active = index;
      write = true;
    }
    if (!write && now - it->written < kKeyRewrite) continue;
    rows.push_back({k.node_id, it->spki, it->first_seen, now, it->stream ? "stream" : "node_ca"});
    it->written = now;
  }
  return repo_->UpsertNodeKeys(rows);
}

absl::Status LocationHub::Tick() {
  const LocationPolicyView p = options_.policy();
  std::vector<NodeEvent> events;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = options_.clock->Now();
    PROV_RETURN_IF_ERROR(WriteKeys(now));
    if (options_.leader_term) {
      PROV_RETURN_IF_ERROR(TakeInStored());
      const int64_t term = options_.leader_term();
      if (term != verdicts_term_) {
        // Leads in a new term: judges on from the verdicts the previous leader saved (what it
        // reported), so an unchanged verdict raises no second event. A replica deposed and
        // elected again between two ticks reloads too (another may have led in between).
        // Stands by: holds none. Until a load succeeds, Judging() is false.
        verdicts_.clear();
        reported_.clear();
        verdicts_term_ = 0;
        if (term != 0) {
          PROV_RETURN_IF_ERROR(LoadVerdicts());
          verdicts_term_ = term;
        }
      }
    }
    PROV_RETURN_IF_ERROR(RefreshNodes());
    if (Judging()) {
      std::set<std::string> nodes;
      for (const auto& [id, unused] : book_.assignment().nodes()) nodes.insert(id);
      for (std::string& id : book_.MeasuredNodes()) nodes.insert(std::move(id));
      PROV_RETURN_IF_ERROR(Judge({nodes.begin(), nodes.end()}, p, events));
    }
    UpdateGauges();
  }
  Emit(std::move(events));
  return absl::OkStatus();
}

absl::Status LocationHub::Judge(const std::vector<std::string>& nodes, const LocationPolicyView& p,
                                std::vector<NodeEvent>& events) {
  const absl::Time now = options_.clock->Now();
  std::vector<std::pair<std::string, NodeVerdict>> judged;
  judged.reserve(nodes.size());
  std::vector<StoredVerdict> rows;  // saved in one transaction
  for (const std::string& node : nodes) {
    NodeVerdict v = book_.Evaluate(node, p.location, p.version, now);
    auto previous = verdicts_.find(node);
    if (previous == verdicts_.end() || RowKey(previous->second) != RowKey(v)) {
      std::string bytes;
      v.location.SerializeToString(&bytes);
      rows.push_back({node, VerdictText(v.location.verdict()), now, bytes, IdsJson(v.disk_ids),
                      CalibrationJson(v.calibration_ids), ParamsJson(p.location)});
    }
    judged.emplace_back(node, std::move(v));
  }
  // What the commit will report: the nodes whose event key changes.
  std::vector<std::string> keys;
  keys.reserve(judged.size());
  std::vector<NodeEvent> verdict_events;
  for (const auto& [node, v] : judged) {
    keys.push_back(EventKey(v.location));
    auto reported = reported_.find(node);
    const bool quiet = reported == reported_.end() &&
                       v.location.verdict() == provenance::v1::LOCATION_VERDICT_UNVERIFIED &&
                       !v.location.proof_required();
    if (!quiet && (reported == reported_.end() || reported->second != keys.back())) {
      NodeEvent e;
      e.kind = NodeEvent::Kind::kLocationVerdict;
      e.node_id = node;
      e.time = now;
      e.detail = VerdictText(v.location.verdict());
      e.location = Explain(v);
      verdict_events.push_back(std::move(e));
    }
  }
  VerdictEventsRow events_row;
  if (options_.encode_verdict_events && !verdict_events.empty()) {
    events_row.received_us = absl::ToUnixMicros(now);
    events_row.record = options_.encode_verdict_events(verdict_events);
  }
  // Fenced by the term whose verdicts this hub judges on: a leader deposed before it noticed
  // saves nothing, so it reports nothing either.
  PROV_RETURN_IF_ERROR(repo_->SaveVerdicts(
      rows, options_.leader_term ? std::optional<int64_t>(verdicts_term_) : std::nullopt,
      events_row));
  // Committed: only now do the verdicts and what was reported change (a failed commit leaves
  // both as they were, so the next tick saves and reports again).
  for (size_t i = 0; i < judged.size(); ++i) {
    reported_[judged[i].first] = std::move(keys[i]);
    verdicts_[judged[i].first] = std::move(judged[i].second);
  }
  if (!options_.encode_verdict_events) {  // else logged with the verdicts
    for (NodeEvent& e : verdict_events) events.push_back(std::move(e));
  }
  return absl::OkStatus();
}

NodeEvent::Location LocationHub::Explain(const NodeVerdict& v) const {
  const NodeLocation& loc = v.location;
  NodeEvent::Location out;
  out.datacenter = loc.datacenter();
  out.proof_required = loc.proof_required();
  out.summary = loc.reason();
  out.landmarks = v.excluding;
  out.needed_landmark = loc.needed_landmark_id();
  const std::string site = loc.site_known() ? absl::StrFormat("%s (%.3f, %.3f)", loc.datacenter(),
                                                              loc.declared_site().lat_deg(),
                                                              loc.declared_site().lon_deg())
                                            : absl::StrCat(loc.datacenter(), " (no coordinates)");
  for (const auto& d : loc.disks()) {
    out.sentences.push_back(absl::StrFormat(
        "Landmark %s at (%.3f, %.3f): minimum RTT %.3f ms measured %s, so the node is within "
        "%.0f km of it (at %.0f km/ms); the declared site %s is %.0f km away: %s%s",
        d.landmark_id(), d.center().lat_deg(), d.center().lon_deg(), d.rtt_min_ms(),
        Clock(FromProtoTime(d.measured_at())), d.radius_km(), d.speed_km_per_ms(), site,
        d.distance_to_site_km(), d.contains_site() ? "inside" : "OUTSIDE the disk",
        d.fresh() ? "." : " (stale: decides nothing)."));
  }
  if (loc.disks().empty()) {
    out.sentences.push_back(
        absl::StrCat("No landmark record for the node; declared site ", site, ". ", loc.reason()));
  }
  if (!loc.needed_landmark_id().empty() &&
      loc.verdict() == provenance::v1::LOCATION_VERDICT_UNVERIFIED) {
    out.sentences.push_back(
        absl::StrFormat("Fresh records from landmark %s (%.0f km from the site) would prove it.",
                        loc.needed_landmark_id(), loc.needed_landmark_distance_km()));
  }
  return out;
}

void LocationHub::Emit(std::vector<NodeEvent> events) {
  if (events.empty() || !options_.events) return;
  options_.events(std::move(events));
}

provenance::v1::Assignment LocationHub::GetAssignment(const std::string& landmark_id) {
  absl::MutexLock lock(&mu_);
  return book_.assignment().For(*options_.config, landmark_id, options_.clock->Now());
}

absl::StatusOr<provenance::v1::SubmitMeasurementsResponse> LocationHub::Submit(
    const provenance::v1::SubmitMeasurementsRequest& request, const std::string& caller) {
  if (static_cast<size_t>(request.records_size()) > kMaxRecordsPerCall) {
    return absl::InvalidArgumentError(absl::StrCat("records: ", request.records_size(),
                                                   " in one call, at most ", kMaxRecordsPerCall));
  }
  const LocationPolicyView p = options_.policy();
  provenance::v1::SubmitMeasurementsResponse response;
  std::vector<NodeEvent> events;
  struct Refusals {
    int64_t records = 0;
    std::map<std::string, int> reasons;
    std::string first;
  };
  std::map<std::string, Refusals> refusals;  // by the caller (see below)
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = options_.clock->Now();
    // 1. Every check (signatures included) before the write lock, against the book plus this
    //    call's own accepted records (`pending`); nothing in the book changes yet.
    absl::flat_hash_map<std::string, LandmarkState> pending;
    std::vector<CheckedRecord> accepted;
    std::vector<int> accepted_index;  // each accepted record's index in the request
    std::vector<std::string> refused_reasons;
    std::set<std::string> nodes;
    LandmarkRecords call;
    call.received_at = now;
    for (int i = 0; i < request.records_size(); ++i) {
      CheckedRecord c = book_.Check(request.records(i), caller, now, p.location, &pending);
      const provenance::v1::Measurement& m = c.measurement;
      if (c.forged) {
        NodeEvent e;
        e.kind = NodeEvent::Kind::kLocationForged;
        e.node_id = m.target_id();
        e.time = now;
        e.detail = m.landmark_id();
        if (const NodeTarget* t = book_.assignment().Node(m.target_id())) {
          e.location.datacenter = t->datacenter;
        }
        e.location.sentences.push_back(c.forged_detail);
        events.push_back(std::move(e));
      }
      auto state_of = [&](const std::string& id)
                          ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> LandmarkState& {
        auto it = pending.find(id);
        if (it != pending.end()) return it->second;
        auto known = book_.landmarks().find(id);
        return pending[id] = known != book_.landmarks().end() ? known->second : LandmarkState{};
      };
      if (!c.refusal.empty()) {
        // Blamed on the authenticated caller; without one, on the claimed landmark only when its
        // signature verified (anyone can write another landmark's id into a record).
        const std::string who = !caller.empty()       ? caller
                                : c.landmark_verified ? m.landmark_id()
                                                      : std::string("unauthenticated");
        if (options_.config->Landmark(who) != nullptr) {
          ++state_of(who).refused;
          ++call.refused[who];
        }
        refused_reasons.push_back(c.refusal);
        auto* r = response.add_refused();
        r->set_index(static_cast<uint32_t>(i));
        r->set_reason(absl::StrCat(c.refusal, ": ", c.detail));
        Refusals& noted = refusals[ValidLandmarkId(who) ? who : std::string("invalid-id")];
        ++noted.records;
        ++noted.reasons[c.refusal];
        if (noted.first.empty()) noted.first = r->reason();
        continue;
      }
      LandmarkState& st = state_of(m.landmark_id());
      st.last_seq = m.landmark_seq();
      st.last_measured = FromProtoTime(m.measured_at());
      st.last_record = now;
      ++st.accepted;
      accepted.push_back(std::move(c));
      accepted_index.push_back(i);
    }
    // 2. One transaction: the records and the landmarks' states. The repository checks each
    //    record's seq against the stored state again: another replica may have stored it first.
    call.records.reserve(accepted.size());
    for (const CheckedRecord& c : accepted) {
      const provenance::v1::Measurement& m = c.measurement;
      StoredMeasurement row;
      row.received_at = now;
      row.landmark_id = m.landmark_id();
      row.target_kind =
          m.target_kind() == provenance::v1::PROBE_TARGET_KIND_NODE ? "node" : "landmark";
      row.target_id = m.target_id();
      row.measured_at = FromProtoTime(m.measured_at());
      row.landmark_seq = m.landmark_seq();
      row.rtt_min_ms = m.rtt_min_ms();
      row.answers_valid = m.answers_valid();
      row.measurement = c.bytes;
      row.signature = c.signature;
      call.records.push_back(std::move(row));
    }
    PROV_ASSIGN_OR_RETURN(LandmarkRecordsResult stored, repo_->StoreLandmarkRecords(call));
    // 3. Committed: the book takes the records and the states as stored in; then the verdicts
    //    (their own transaction; see Judge).
    for (const StoredLandmarkState& st : stored.states) {
      book_.RestoreLandmark(st.landmark_id, LandmarkState{st.last_seq, st.last_measured,
                                                          st.last_record, st.accepted, st.refused});
    }
    size_t stored_records = 0;
    for (size_t i = 0; i < accepted.size(); ++i) {
      const provenance::v1::Measurement& m = accepted[i].measurement;
      if (stored.ids[i] == 0) {  // a replica stored this seq, or a later one, first
        refused_reasons.push_back("replay");
        auto* r = response.add_refused();
        r->set_index(static_cast<uint32_t>(accepted_index[i]));
        r->set_reason(absl::StrCat("replay: landmark_seq ", m.landmark_seq(),
                                   " is not above the landmark's last accepted one (stored by "
                                   "another provd sharing the database)"));
        Refusals& noted = refusals[m.landmark_id()];
        ++noted.records;
        ++noted.reasons["replay"];
        if (noted.first.empty()) noted.first = r->reason();
        continue;
      }
      ++stored_records;
      // A node record changes its node's verdict now; a calibration pair changes the speed of
      // two landmarks, which every node's next tick takes in.
      if (m.target_kind() == provenance::v1::PROBE_TARGET_KIND_NODE) nodes.insert(m.target_id());
      book_.RestoreRecord(
          m.landmark_id(),
          m.target_kind() == provenance::v1::PROBE_TARGET_KIND_NODE ? "node" : "landmark",
          m.target_id(),
          RecordRef{stored.ids[i], m.rtt_min_ms(), FromProtoTime(m.measured_at()),
                    m.answers_valid() > 0});
    }
    for (size_t i = 0; i < stored_records; ++i) metrics_->Accepted();
    for (const std::string& reason : refused_reasons) metrics_->Refused(reason);
    for (const NodeEvent& e : events) {
      if (e.kind == NodeEvent::Kind::kLocationForged) metrics_->Forged();
    }
    response.set_accepted(static_cast<uint32_t>(stored_records));
    // The records are stored: a verdict that fails to save now is judged again on the tick (a
    // standby's records: the leader's next tick).
    absl::Status judged =
        Judging() ? Judge({nodes.begin(), nodes.end()}, p, events) : absl::OkStatus();
    if (!judged.ok()) {
      PROV_LOG_ERROR("location",
                     "saving verdicts after a landmark call failed (judged again on the tick)",
                     {"error", judged});
    }
    UpdateGauges();
  }
  Emit(std::move(events));
  if (options_.audit_refusals) {
    for (const auto& [landmark, noted] : refusals) {
      std::vector<std::string> reasons;
      for (const auto& [reason, n] : noted.reasons) reasons.push_back(absl::StrCat(reason, ":", n));
      options_.audit_refusals(landmark, noted.records, absl::StrJoin(reasons, ","), noted.first);
    }
  }
  return response;
}

void LocationHub::CountRefusedCall(const std::string& reason) { metrics_->Refused(reason); }

void LocationHub::UpdateGauges() {
  double verified = 0, unverified = 0, contradicted = 0;
  for (const auto& [id, v] : verdicts_) {
    switch (v.location.verdict()) {
      case provenance::v1::LOCATION_VERDICT_VERIFIED:
        ++verified;
        break;
      case provenance::v1::LOCATION_VERDICT_CONTRADICTED:
        ++contradicted;
        break;
      default:
        ++unverified;
    }
  }
  metrics_->SetVerdicts(verified, unverified, contradicted);
  const absl::Time now = options_.clock->Now();
  for (const LandmarkConfig& lm : options_.config->landmarks) {
    auto it = book_.landmarks().find(lm.id);
    metrics_->SetLandmarkAge(lm.id, it == book_.landmarks().end() || it->second.accepted == 0
                                        ? -1
                                        : absl::ToDoubleSeconds(now - it->second.last_record));
  }
}

absl::StatusOr<NodeLocation> LocationHub::GetNodeLocation(const std::string& node_id) {
  absl::MutexLock lock(&mu_);
  if (Judging()) {
    auto it = verdicts_.find(node_id);
    if (it != verdicts_.end()) return it->second.location;
  } else {
    PROV_ASSIGN_OR_RETURN(std::optional<StoredVerdict> row, repo_->ReadVerdict(node_id));
    if (row.has_value()) {
      NodeLocation loc;
      if (!loc.ParseFromString(row->location)) {
        return absl::DataLossError(
            absl::StrCat("the stored location verdict of node \"", node_id, "\" does not parse"));
      }
      return loc;
    }
  }
  return absl::NotFoundError(absl::StrCat("no location verdict for node \"", node_id,
                                          "\": provd has no location responder, record or "
                                          "verdict for it yet"));
}

absl::StatusOr<provenance::v1::ListNodeLocationsResponse> LocationHub::ListNodeLocations(
    const provenance::v1::ListNodeLocationsRequest& request) {
  const size_t limit = request.limit() == 0 ? 1000 : std::min<size_t>(request.limit(), 1000);
  provenance::v1::ListNodeLocationsResponse out;
  absl::MutexLock lock(&mu_);
  if (!Judging()) {  // a standby: the stored verdicts, the same pages
    std::string filter;
    switch (request.verdict()) {
      case provenance::v1::LOCATION_VERDICT_UNSPECIFIED:
        break;
      case provenance::v1::LOCATION_VERDICT_VERIFIED:
      case provenance::v1::LOCATION_VERDICT_UNVERIFIED:
      case provenance::v1::LOCATION_VERDICT_CONTRADICTED:
        filter = VerdictText(request.verdict());
        break;
      default:
        return out;  // no node has another verdict
    }
    PROV_ASSIGN_OR_RETURN(auto rows,
                          repo_->ListVerdicts(filter, request.after_node_id(), limit + 1));
    for (const StoredVerdict& row : rows) {
      if (static_cast<size_t>(out.nodes_size()) == limit) {
        out.set_next_after_node_id(out.nodes(out.nodes_size() - 1).node_id());
        break;
      }
      if (!out.add_nodes()->ParseFromString(row.location)) {
        return absl::DataLossError(absl::StrCat("the stored location verdict of node \"",
                                                row.node_id, "\" does not parse"));
      }
    }
    return out;
  }
  for (auto it = verdicts_.upper_bound(request.after_node_id()); it != verdicts_.end(); ++it) {
    if (request.verdict() != provenance::v1::LOCATION_VERDICT_UNSPECIFIED &&
        it->second.location.verdict() != request.verdict()) {
      continue;
    }
    if (static_cast<size_t>(out.nodes_size()) == limit) {
      out.set_next_after_node_id(out.nodes(out.nodes_size() - 1).node_id());
      break;
    }
    *out.add_nodes() = it->second.location;
  }
  return out;
}

provenance::v1::ListLandmarksResponse LocationHub::ListLandmarks() {
  const LocationPolicyView p = options_.policy();
  const prov::location::VerifierParams params = ParamsOf(p.location);
  provenance::v1::ListLandmarksResponse out;
  absl::MutexLock lock(&mu_);
  for (const LandmarkConfig& lm : options_.config->landmarks) {
    auto* info = out.add_landmarks();
    info->set_landmark_id(lm.id);
    info->mutable_position()->set_lat_deg(lm.position.lat_deg);
    info->mutable_position()->set_lon_deg(lm.position.lon_deg);
    info->set_region(lm.region);
    info->set_public_key(lm.public_key);
    info->set_udp_address(lm.udp_address);
    info->set_speed_km_per_ms(book_.Speed(lm.id, params, nullptr));
    auto it = book_.landmarks().find(lm.id);
    if (it != book_.landmarks().end()) {
      info->set_records_accepted(static_cast<uint64_t>(it->second.accepted));
      info->set_records_refused(static_cast<uint64_t>(it->second.refused));
      if (it->second.accepted > 0) {
        const int64_t us = absl::ToUnixMicros(it->second.last_record);
        info->mutable_last_record_at()->set_seconds(us / 1'000'000);
        info->mutable_last_record_at()->set_nanos(static_cast<int32_t>(us % 1'000'000) * 1000);
      }
    }
  }
  for (const auto& [pair, ref] : book_.pairs()) {
    const LandmarkConfig* a = options_.config->Landmark(pair.first);
    const LandmarkConfig* b = options_.config->Landmark(pair.second);
    if (a == nullptr || b == nullptr) continue;
    auto* out_pair = out.add_pairs();
    out_pair->set_landmark_a(pair.first);
    out_pair->set_landmark_b(pair.second);
    const double km = prov::location::GreatCircleKm(a->position, b->position);
    out_pair->set_distance_km(km);
    out_pair->set_rtt_min_ms(ref.rtt_min_ms);
    const double implied = prov::location::ImpliedSpeed(km, ref.rtt_min_ms, params);
    out_pair->set_implied_speed_km_per_ms(implied);
    out_pair->set_fibre_factor(implied / params.fibre_km_per_ms);
  }
  return out;
}

}  // namespace prov::server::location
