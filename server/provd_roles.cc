// ProvdServer's roles: what only the elected leader runs, and how a replica on a shared
// PostgreSQL store follows what the others commit (docs/design/scale-out.md sections 1, 3, 4).
//
// The leader (LeaderElection: SoleLeader on SQLite, elected at once; PgLeaderElection on
// PostgreSQL) runs the alert notifier and the export scheduler (with retention) and, on
// PostgreSQL, leads the analysis engine: AnalysisEngine::Lead(term) reloads what the previous
// leader saved and the IngestFeed reads the ingest batch log from the saved position. Deposed,
// it stops them and the engine follows (reloads, never saves).
//
// The change feed (PostgreSQL): each replica announces what it committed that others hold in
// memory, and on each announcement (or a resync, when the listener's session was lost):
//   kFlagsChannel     -> a follower's engine reloads the analysis state the leader saved
//   kCasesChannel     -> every replica applies the stored cases (CaseManager::ReconcileEngine)
//   kIdentityChannel  -> every replica reloads the stored KYC, screening and policy
//   kInventoryChannel -> every replica's engine reloads the declared inventory
// and a thread polls node revocations made on other replicas (NodeRevocationSync, every 2 s) and
// retries node events a failed append held back (NodeEventForwarder).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/host_port.h"
#include "common/log/log.h"
#include "common/status_macros.h"
#include "common/version.h"
#include "server/provd_server_impl.h"

namespace prov::server {

namespace {

constexpr absl::Duration kRevocationPoll = absl::Seconds(2);
constexpr absl::Duration kLeadReloadWait = absl::Minutes(5);
// provctl status lists the replicas whose heartbeat (every kRevocationPoll) is this recent.
constexpr absl::Duration kReplicaLive = absl::Seconds(30);

// A heartbeat overwrote another process's row under this replica's name. Before this
// replica's first heartbeat that is a restart's predecessor; after it, a second live replica
// with the same --replica-name (the leader row, heartbeats and `provctl status` then mix them).
void NoteReplacedRow(ProvdServer::Impl& s, const std::optional<ReplicaRow>& replaced) {
  const bool first = !s.heartbeat_written;
  s.heartbeat_written = true;
  if (!replaced.has_value()) return;
  if (first) {
    PROV_LOG_INFO("replicas", "took over the row of an earlier process with this replica name",
                  {"replica", s.replica_name}, {"address", replaced->address},
                  {"started_us", replaced->started_us});
    return;
  }
  s.metrics->replica_name_conflicts.Increment();
  PROV_LOG_ERROR("replicas",
                 "another running provd uses this --replica-name: give each replica its own "
                 "(provctl status and the leader row mix the two)",
                 {"replica", s.replica_name}, {"other_address", replaced->address},
                 {"other_version", replaced->version});
}

// The engine, and the other replicas told of each import and policy load.
class AnnouncingIdentitySink final : public IdentitySink {
 public:
  AnnouncingIdentitySink(AnalysisEngine& engine, ChangeAnnouncer* announcer)
      : engine_(engine), announcer_(announcer) {}
  void OnIdentityChanged(IdentitySnapshot snapshot) override {
    engine_.OnIdentityChanged(std::move(snapshot));
    Tell();
  }
  absl::Status OnPolicyLoaded(std::shared_ptr<const policy::Policy> policy) override {
    PROV_RETURN_IF_ERROR(engine_.OnPolicyLoaded(std::move(policy)));
    Tell();
    return absl::OkStatus();
  }

 private:
  void Tell() {
    if (announcer_ == nullptr) return;
    if (absl::Status s = announcer_->Announce(kIdentityChannel, ""); !s.ok()) {
      PROV_LOG_WARN("replicas", "could not announce an identity change", {"error", s});
    }
  }
  AnalysisEngine& engine_;
  ChangeAnnouncer* const announcer_;
};

}  // namespace

std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "provd";
  return name;
}

void Announce(ProvdServer::Impl& s, const char* channel, const std::string& payload) {
  if (s.announcer == nullptr) return;
  if (absl::Status a = s.announcer->Announce(channel, payload); !a.ok()) {
    PROV_LOG_WARN("replicas", "could not announce a change to the other replicas",
                  {"channel", channel}, {"error", a});
  }
}

IdentitySink* IdentitySinkFor(ProvdServer::Impl& s) {
  if (s.identity_sink == nullptr) {
    s.identity_sink = std::make_unique<AnnouncingIdentitySink>(*s.analysis, s.announcer.get());
  }
  return s.identity_sink.get();
}

bool ProvdServer::leading() const {
  return impl_->election != nullptr && impl_->election->leading();
}

absl::Status ProvdServer::StartRoles() {
  Impl& s = *impl_;
  if (s.postgres) {
    PROV_ASSIGN_OR_RETURN(s.revocation_repo, s.backend->OpenNodeRevocations());
    s.revocation_sync = std::make_unique<NodeRevocationSync>(
        *s.revocation_repo, *s.revoked_nodes, [open = s.open_streams](const std::string& node) {
          return open->EndNode(
              node, grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                                 absl::StrCat("node \"", node,
                                              "\" is revoked (provctl nodes revocations)")));
        });
    s.sync_thread = std::thread([&s] {
      while (true) {
        {
          absl::MutexLock lock(&s.sync_mu);
          if (s.sync_mu.AwaitWithTimeout(absl::Condition(&s.sync_stop), kRevocationPoll)) return;
        }
        absl::StatusOr<std::optional<ReplicaRow>> beat = s.registry->Heartbeat(
            {.name = s.replica_name,
             .address = absl::StrCat(HostOfAddress(s.options.listen_address), ":", s.port),
             .version = kVersion,
             .started_us = s.started_us});
        if (!beat.ok()) {
          PROV_LOG_WARN("replicas", "heartbeat failed (retried)", {"error", beat.status()});
        } else {
          NoteReplacedRow(s, *beat);
        }
        if (s.election != nullptr && s.election->leading()) {
          if (auto pruned = s.registry->PruneAnalysedBatches(); !pruned.ok()) {
            PROV_LOG_WARN("replicas", "pruning the analysed ingest batch log failed (retried)",
                          {"error", pruned.status()});
          }
        }
        if (s.node_events != nullptr) s.node_events->Retry();
        if (absl::StatusOr<int> added = s.revocation_sync->Poll(); !added.ok()) {
          PROV_LOG_WARN("replicas", "reading node revocations failed (retried)",
                        {"error", added.status()});
        }
      }
    });
    // Listen before anything is loaded again: nothing committed after this is missed.
    PROV_RETURN_IF_ERROR(
        s.listener->Start({kFlagsChannel, kCasesChannel, kIdentityChannel, kInventoryChannel},
                          [this](const ChangeEvent& e) { OnChange(e); }));
  }
  PROV_RETURN_IF_ERROR(s.election->Start(
      {.elected = [this](int64_t term) { OnElected(term); }, .deposed = [this] { OnDeposed(); }}));
  if (!s.postgres) {
    // SoleLeader elected this provd inside Start: an alert notifier that cannot start is a
    // start-up error, as before replicas (on PostgreSQL it is logged at each election).
    absl::MutexLock lock(&s.role_mu);
    return s.alerts_status;
  }
  return absl::OkStatus();
}

void ProvdServer::OnChange(const ChangeEvent& e) {
  Impl& s = *impl_;
  const bool all = e.resync;
  if (all || e.channel == kFlagsChannel) s.analysis->Reload();  // a leader ignores it
  if (all || e.channel == kIdentityChannel) {
    absl::StatusOr<IdentityStartup> stored = IdentityServiceImpl::LoadStartup(*s.identity_sync);
    if (!stored.ok()) {
      PROV_LOG_WARN("replicas", "reloading identity after another replica's change failed",
                    {"error", stored.status()});
    } else {
      s.analysis->OnIdentityChanged(std::move(stored->snapshot));
      // A --policy file pins the policy on this replica; else the newest stored one applies,
      // to the engine and to this replica's screening.
      if (s.options.policy_file.empty() && stored->policy.has_value()) {
        (void)s.analysis->OnPolicyLoaded(stored->policy->policy);
        s.identity->AdoptPolicy(*stored->policy);
      }
    }
  }
  if (all || e.channel == kInventoryChannel) s.analysis->OnInventoryChanged();
  if (all || e.channel == kCasesChannel) {
    if (absl::Status r = s.cases->ReconcileEngine(); !r.ok()) {
      PROV_LOG_WARN("replicas", "applying another replica's case change failed", {"error", r});
    }
  }
}

absl::StatusOr<provenance::v1::GetServerStatusResponse> ProvdServer::ServerStatus() {
  Impl& s = *impl_;
  provenance::v1::GetServerStatusResponse r;
  r.set_replica(s.replica_name);
  r.set_leading(leading());
  r.set_store(s.backend->Describe());
  auto at = [](google::protobuf::Timestamp* t, int64_t us) {
    t->set_seconds(us / 1'000'000);
    t->set_nanos(static_cast<int32_t>(us % 1'000'000) * 1000);
  };
  if (!s.postgres) {
    // One provd: it is the leader and the only replica; what the engine has not analysed yet is
    // queued in process.
    if (r.leading()) {
      r.set_leader(s.replica_name);
      r.set_leader_term(s.election->term());
      at(r.mutable_leader_since(), s.started_us);
    }
    auto* self = r.add_replicas();
    self->set_name(s.replica_name);
    self->set_address(absl::StrCat(HostOfAddress(s.options.listen_address), ":", s.port));
    self->set_version(kVersion);
    at(self->mutable_started_at(), s.started_us);
    at(self->mutable_last_seen(), absl::ToUnixMicros(s.clock->Now()));
    self->set_leading(r.leading());
    r.set_analysis_behind_reports(static_cast<int64_t>(s.analysis->pending()));
    return r;
  }
  PROV_ASSIGN_OR_RETURN(ClusterView view, s.registry->Read(kReplicaLive));
  if (view.leader.has_value()) {
    r.set_leader(view.leader->holder);
    r.set_leader_term(view.leader->term);
    at(r.mutable_leader_since(), view.leader->since_us);
  }
  for (const ReplicaRow& row : view.replicas) {
    auto* rep = r.add_replicas();
    rep->set_name(row.name);
    rep->set_address(row.address);
    rep->set_version(row.version);
    at(rep->mutable_started_at(), row.started_us);
    at(rep->mutable_last_seen(), row.seen_us);
    rep->set_leading(view.leader.has_value() && view.leader->holder == row.name);
  }
  r.set_analysis_behind_batches(view.backlog.batches);
  r.set_analysis_behind_reports(view.backlog.reports);
  if (view.backlog.oldest_received_us > 0) {
    r.set_analysis_lag_seconds(
        std::max(0.0, static_cast<double>(view.now_us - view.backlog.oldest_received_us) / 1e6));
  }
  return r;
}

void ProvdServer::OnElected(int64_t term) {
  Impl& s = *impl_;
  s.metrics->leader.Set(1);
  s.metrics->leader_term.Set(static_cast<double>(term));
  s.metrics->leader_changes.Increment();
  PROV_LOG_INFO("replicas", "this replica leads", {"term", term});
  if (s.postgres) {
    s.analysis->Lead(term);
    s.feed->Start();
    absl::MutexLock lock(&s.role_mu);
    if (s.lead_reconcile.joinable()) s.lead_reconcile.join();
    // Once the engine reloaded what the previous leader saved: the cases changed meanwhile.
    s.lead_reconcile = std::thread([&s] {
      // Until the Lead's reload succeeded (the engine retries a failed one every tick) or this
      // replica stopped leading (CANCELLED).
      while (true) {
        absl::Status led = s.analysis->WaitLeadPosition(kLeadReloadWait).status();
        if (absl::IsCancelled(led)) return;
        if (led.ok()) break;
        std::this_thread::sleep_for(std::chrono::seconds(1));
      }
      if (absl::Status r = s.cases->ReconcileEngine(); !r.ok()) {
        PROV_LOG_WARN("replicas", "applying stored cases after the takeover failed", {"error", r});
      }
    });
  }
  // The location hub judges from its next tick on: now, not a tick interval later.
  if (s.location != nullptr) s.location->Wake();
  if (absl::Status a = StartAlerts(); !a.ok()) {
    PROV_LOG_ERROR("alerts", "cannot start the alert notifier", {"error", a});
    absl::MutexLock lock(&s.role_mu);
    s.alerts_status = a;  // SQLite: provd does not start (StartRoles returns it)
  }
  s.exports->StartScheduler();
}

void ProvdServer::OnDeposed() {
  Impl& s = *impl_;
  s.metrics->leader.Set(0);
  s.metrics->leader_term.Set(0);
  s.metrics->leader_changes.Increment();
  PROV_LOG_INFO("replicas", "this replica stands by");
  std::unique_ptr<AlertNotifier> alerts;
  std::thread reconcile;
  {
    absl::MutexLock lock(&s.role_mu);
    alerts = std::move(s.alerts);
    reconcile = std::move(s.lead_reconcile);
  }
  if (s.postgres) {
    // First what a successor must not overlap with: the engine stops saving at once.
    s.feed->Stop();
    s.analysis->Follow();  // the waiting reconcile thread is CANCELLED by it
  }
  if (alerts != nullptr) alerts->Stop();
  s.exports->StopScheduler();  // a running export finishes first
  if (reconcile.joinable()) reconcile.join();
}

void ProvdServer::StopRoles() {
  Impl& s = *impl_;
  if (s.election != nullptr) s.election->Stop();  // deposed, when leading
  if (s.listener != nullptr) s.listener->Stop();
  if (s.sync_thread.joinable()) {
    {
      absl::MutexLock lock(&s.sync_mu);
      s.sync_stop = true;
    }
    s.sync_thread.join();
  }
  absl::MutexLock lock(&s.role_mu);
  if (s.lead_reconcile.joinable()) s.lead_reconcile.join();
}

}  // namespace prov::server
