// The change feed between provd replicas on one PostgreSQL (issue 12): a replica that changes
// flags, bundles or cases announces it with NotifyChange inside the change's transaction, and
// every replica's PgChangeListener hears it once the transaction commits (PostgreSQL
// LISTEN/NOTIFY), so each replica's WatchFlags and dashboard streams follow changes made
// anywhere.
//
//   // the writer, inside its transaction (delivered on COMMIT, dropped on ROLLBACK):
//   PROV_RETURN_IF_ERROR(NotifyChange(conn, "prov_flags", "F-000042"));
//
//   PROV_ASSIGN_OR_RETURN(auto listener, PgChangeListener::Open(url.pg_conninfo));
//   PROV_RETURN_IF_ERROR(listener->Start({"prov_flags", "prov_cases"}, [&](const ChangeEvent& e) {
//     if (e.resync) ReloadEverything();          // notifications may have been missed
//     else Reload(e.channel, e.payload);
//   }));
//   ... load the current state (after Start: nothing committed since is missed) ...
//   listener->Stop();
//
// Delivery: PostgreSQL delivers a notification to every session listening on its channel when
// the sending transaction commits, in commit order; duplicates within one transaction (same
// channel and payload) are folded into one. Nothing is kept for a session that was not
// listening, so when the listener's session is lost it reconnects (after 100 ms, doubling to
// 5 s while sessions keep being lost within 10 s of being made), listens again and then reports
// one event with resync = true: the consumer reloads what it follows. The callback runs on the
// listener's thread, one event at a time. Thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/store/pg/pg_conn.h"
#include "server/store/repo/change_feed.h"

namespace prov::server {

// Inside the caller's transaction on `conn` (FAILED_PRECONDITION outside one: a change must be
// announced with its commit). INVALID_ARGUMENT for an empty channel or a payload over 7999
// bytes (PostgreSQL's limit).
absl::Status NotifyChange(PgConn& conn, absl::string_view channel, absl::string_view payload);

class PgChangeListener final : public ChangeListener {
 public:
  static absl::StatusOr<std::unique_ptr<PgChangeListener>> Open(
      const std::string& conninfo, absl::Duration connect_timeout = absl::Seconds(10));
  ~PgChangeListener() override;

  // LISTENs on `channels` (before returning: a change committed after Start returns is heard)
  // and starts the listener's thread. FAILED_PRECONDITION when started twice.
  absl::Status Start(std::vector<std::string> channels,
                     std::function<void(const ChangeEvent&)> on_event) override;
  // Stops the thread and UNLISTENs; idempotent; no callback runs after it returns. Not from
  // inside a callback (it waits for the thread that runs them).
  void Stop() override;

  // Times the session was re-established (tests, metrics).
  int reconnects() const;

 private:
  explicit PgChangeListener(std::unique_ptr<PgConn> conn) : conn_(std::move(conn)) {}
  absl::Status Listen();
  void Run();
  // Waits up to `timeout` for input; delivers what arrived. False when the session is lost.
  bool Pump(absl::Duration timeout);
  void Deliver();  // the notifications libpq has read

  std::unique_ptr<PgConn> conn_;  // the listener thread's only, once started
  std::vector<std::string> channels_;
  std::function<void(const ChangeEvent&)> on_event_;
  std::thread thread_;

  mutable absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int reconnects_ ABSL_GUARDED_BY(mu_) = 0;
};

// Announces after the caller's commit, on a session of its own (provd/announce): one
// `SELECT pg_notify` per call, repeated once on a new session when the session was found gone
// (announcing twice is harmless: consumers reload). Thread-safe (one call at a time).
class PgChangeAnnouncer final : public ChangeAnnouncer {
 public:
  static absl::StatusOr<std::unique_ptr<PgChangeAnnouncer>> Open(
      const std::string& conninfo, absl::Duration connect_timeout = absl::Seconds(10));
  absl::Status Announce(absl::string_view channel, absl::string_view payload) override;

 private:
  explicit PgChangeAnnouncer(std::unique_ptr<PgConn> conn) : conn_(std::move(conn)) {}
  absl::Mutex mu_;
  std::unique_ptr<PgConn> conn_ ABSL_GUARDED_BY(mu_);
};

}  // namespace prov::server
