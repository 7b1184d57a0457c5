// PgLeaderElection: provd replicas sharing one PostgreSQL elect their leader (repo/
// leader_election.h) with a session-level advisory lock, and fence the leader's writes with a
// term (table provd.leader, PostgreSQL version 4).
//
//   PROV_ASSIGN_OR_RETURN(auto election, PgLeaderElection::Open(url.pg_conninfo,
//                                                               {.holder = "provd-a:7443"}));
//   PROV_RETURN_IF_ERROR(election->Start({.elected = ..., .deposed = ...}));
//   // in a leader's write transaction, on any connection:
//   PROV_RETURN_IF_ERROR(conn.Transaction([&]() -> absl::Status {
//     PROV_RETURN_IF_ERROR(CheckLeaderTerm(conn, term));   // FAILED_PRECONDITION once deposed
//     ... the write ...
//   }));
//
// How it works. The election keeps one session of its own (application_name provd/leader). A
// standby tries pg_try_advisory_lock(kPgLockKey, kPgLeaderLock) every `takeover / 15`; the
// replica that gets it bumps provd.leader's term (its holder and since_us too) and is elected
// in that term. PostgreSQL releases the lock when the session ends, so:
//  - Stop() (or provd exiting, or SIGKILL: the kernel closes the socket) hands over at once: a
//    standby takes over at its next try;
//  - a leader whose host or network vanished: the server drops its session once its TCP
//    keepalives fail (set on the session: idle takeover/5, interval takeover/15, 3 probes, and
//    tcp_user_timeout takeover/3; only on TCP connections), about takeover * 2/5 after the last
//    packet; the standby takes over at its next try, within `takeover` (default 15 s);
//  - a leader whose process hangs (stopped, deadlocked, starved) while its kernel still answers
//    keepalives would keep its session, and the lock, for good. So the leader renews a lease
//    (provd.leader_lease, version 11: its term and the database's clock) at each check, and a
//    standby that does not get the lock and finds the lease of the leader row's term older than
//    `takeover` ends the leader's session (pg_terminate_backend: the replicas must connect as
//    one role, or have pg_signal_backend; a refusal is logged once per session)
//    and takes the lock at its next try: within about takeover + 2 * takeover / 15 of the last
//    renewal. The old leader, if it resumes, finds its session gone and steps down;
//  - the leader checks that its session holds the lock every `takeover / 15`, and steps down
//    (deposed, then the lock released) when the session is gone or no longer holds it (a check
//    that fails on a live session, a statement timeout say, is logged and retried: a session
//    lock lives as long as its session). A check on a vanished server gives up
//    after about takeover / 5 (the client side's tcp_user_timeout and keepalives, whole seconds,
//    at least 1): before the server could have released the lock to another replica, by the
//    figures above.
// Fencing. Clocks and timeouts make overlap unlikely, not impossible (a paused process). So
// every leader write that must not land after its successor started checks the term inside its
// transaction with CheckLeaderTerm: it reads the leader row FOR SHARE, so the next leader's term
// bump waits for that transaction; the write commits before the new term exists or fails.
// Thread-safe; the events run on the election's thread, never concurrently.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/store/pg/pg_conn.h"
#include "server/store/repo/leader_election.h"

namespace prov::server {

struct PgLeaderOptions {
  std::string holder;  // this replica, as provd.leader and provctl status show it
  absl::Duration takeover = absl::Seconds(15);
  absl::Duration connect_timeout = absl::Seconds(10);
  // Tests: runs on the election thread before each of the leader's checks (a test stalls it
  // there to play a hung leader whose session stays up).
  std::function<void()> before_hold = nullptr;
};

// The provd.leader row: who leads (or led last), in which term, since when.
struct LeaderRecord {
  int64_t term = 0;
  std::string holder;
  int64_t since_us = 0;
};

class PgLeaderElection : public LeaderElection {
 public:
  // Connects and migrates; INVALID_ARGUMENT for an empty holder or a takeover under 1 s.
  static absl::StatusOr<std::unique_ptr<PgLeaderElection>> Open(const std::string& conninfo,
                                                                PgLeaderOptions options);
  ~PgLeaderElection() override;

  absl::Status Start(LeaderEvents events) override;
  void Stop() override;
  bool leading() const override;
  int64_t term() const override;

 private:
  PgLeaderElection(std::unique_ptr<PgConn> conn, PgLeaderOptions options);
  void Run();
  // One try for the lock; true when elected (term_ set).
  bool Campaign(absl::Time now);
  // One check that the session still holds the lock, renewing the lease; false when it must
  // step down.
  bool Hold();
  // A standby that did not get the lock: ends the leader's session when its lease is older
  // than the takeover.
  void EndStaleLeader();
  void StepDown();
  // Releases the leader lock (every level: session locks stack), when the session is up.
  void Release();

  const PgLeaderOptions options_;
  const absl::Duration interval_;  // between tries and checks: takeover / 15
  std::unique_ptr<PgConn> conn_;   // the election thread's only
  bool session_set_up_ = false;    // the keepalive settings are on the current session
  std::string last_ended_pid_;     // the last leader session EndStaleLeader tried to end
  LeaderEvents events_;
  std::thread thread_;

  mutable absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int64_t term_ ABSL_GUARDED_BY(mu_) = 0;
};

// Inside a transaction on `conn`: OK while `term` is the newest term, and holds the leader row
// (FOR SHARE) until the transaction ends, so no new term can begin before it commits.
// FAILED_PRECONDITION naming the newer term and its holder once this replica was deposed.
absl::Status CheckLeaderTerm(PgConn& conn, int64_t term);

// The leader row, nullopt before any replica was ever elected.
absl::StatusOr<std::optional<LeaderRecord>> ReadLeader(PgConn& conn);

}  // namespace prov::server
