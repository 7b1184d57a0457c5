#include "server/store/pg/pg_leader_election.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log/log.h"
#include "common/status_macros.h"
#include "server/store/pg/pg_schema.h"

namespace prov::server {
namespace {

constexpr char kHeldSql[] =
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = "
    "pg_backend_pid() AND classid = $1::bigint::oid AND objid = $2::bigint::oid AND objsubid = 2";

// The database's clock, in Unix microseconds: every replica's lease is written and judged on it,
// so the replicas' own clocks never meet.
constexpr char kDbNowUs[] = "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint";

// The session holding the leader lock, when the lease of the term it leads in (the leader row's:
// a lease of an earlier term says nothing of this one) is older than $3 microseconds.
std::string StaleLeaderSql() {
  return absl::StrCat(
      "SELECT k.pid, l.holder, l.term, ", kDbNowUs,
      " - s.renewed_us FROM pg_locks k, leader l, leader_lease s WHERE k.locktype = 'advisory' "
      "AND k.granted AND k.classid = $1::bigint::oid AND k.objid = $2::bigint::oid AND "
      "k.objsubid = 2 AND l.id = 1 AND s.id = 1 AND s.term = l.term AND s.holder = l.holder AND ",
      kDbNowUs, " - s.renewed_us > $3::bigint");
}

absl::Duration AtLeast(absl::Duration d, absl::Duration floor) { return std::max(d, floor); }

int64_t WholeSeconds(absl::Duration d) { return std::max<int64_t>(1, absl::ToInt64Seconds(d)); }

}  // namespace

absl::StatusOr<std::unique_ptr<PgLeaderElection>> PgLeaderElection::Open(
    const std::string& conninfo, PgLeaderOptions options) {
  if (options.holder.empty()) {
    return absl::InvalidArgumentError("leader election: holder (this replica's name) is empty");
  }
  if (options.takeover < absl::Seconds(1)) {
    return absl::InvalidArgumentError(absl::StrCat("leader election: takeover ",
                                                   absl::FormatDuration(options.takeover),
                                                   " is under the minimum of 1s"));
  }
  // Client side: a check on a vanished server gives up after about takeover / 5 (tcp_user_timeout
  // for a sent query, keepalives for an unanswered one); libpq takes whole seconds, at least 1.
  PgConnOptions conn_options{
      .connect_timeout = options.connect_timeout,
      .application_name = "provd/leader",
      .search_path = kPgSchema,
      .statement_timeout = options.takeover,
      .lock_timeout = options.takeover,
      .keepalives_idle = AtLeast(options.takeover / 15, absl::Seconds(1)),
      .keepalives_interval = AtLeast(options.takeover / 15, absl::Seconds(1)),
      .keepalives_count = 2,
      .tcp_user_timeout = options.takeover / 5};
  PROV_ASSIGN_OR_RETURN(auto conn, PgConn::Connect(conninfo, conn_options));
  PROV_RETURN_IF_ERROR(MigratePgSchema(*conn));
  return std::unique_ptr<PgLeaderElection>(
      new PgLeaderElection(std::move(conn), std::move(options)));
}

PgLeaderElection::PgLeaderElection(std::unique_ptr<PgConn> conn, PgLeaderOptions options)
    : options_(std::move(options)),
      interval_(AtLeast(options_.takeover / 15, absl::Milliseconds(50))),
      conn_(std::move(conn)) {}

PgLeaderElection::~PgLeaderElection() { Stop(); }

absl::Status PgLeaderElection::Start(LeaderEvents events) {
  absl::MutexLock lock(&mu_);
  if (started_) return absl::FailedPreconditionError("leader election: already started");
  started_ = true;
  events_ = std::move(events);
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void PgLeaderElection::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (!started_ || stopping_) return;
    stopping_ = true;
  }
  thread_.join();
  // The thread is gone: the events still never run concurrently.
  if (term() != 0) StepDown();
}

bool PgLeaderElection::leading() const { return term() != 0; }

int64_t PgLeaderElection::term() const {
  absl::MutexLock lock(&mu_);
  return term_;
}

void PgLeaderElection::Run() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    if (term() == 0) {
      if (Campaign(absl::Now()) && events_.elected) events_.elected(term());
    } else if (!Hold()) {
      StepDown();
    }
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), interval_);
  }
}

bool PgLeaderElection::Campaign(absl::Time now) {
  if (!conn_->ok()) {
    session_set_up_ = false;
    if (!conn_->Reconnect().ok()) return false;
  }
  if (!session_set_up_) {
    // Server side: drop this session (and so release the lock) once the leader's host stops
    // answering, about takeover * 2/5 after its last packet. Ignored on Unix sockets.
    absl::Status set = conn_->Exec(
        absl::StrCat("SET tcp_keepalives_idle = ", WholeSeconds(options_.takeover / 5),
                     "; SET tcp_keepalives_interval = ", WholeSeconds(options_.takeover / 15),
                     "; SET tcp_keepalives_count = 3; SET tcp_user_timeout = ",
                     std::max<int64_t>(1000, absl::ToInt64Milliseconds(options_.takeover / 3))));
    if (!set.ok()) {
      PROV_LOG_WARN("store", "leader election: session setup failed",
                    {"error", std::string(set.message())});
      return false;
    }
    session_set_up_ = true;
  }
  auto got =
      conn_->Query("SELECT pg_try_advisory_lock($1::int, $2::int)", {kPgLockKey, kPgLeaderLock});
  if (!got.ok()) return false;
  if (got->Text(0, 0) != "t") {
    EndStaleLeader();
    return false;
  }
  // The lock is ours: begin a term. Its UPDATE waits for leader writes still checking the old
  // term (CheckLeaderTerm's FOR SHARE), so they commit before this term exists.
  int64_t term = 0;
  absl::Status begun = conn_->Transaction([&]() -> absl::Status {
    PROV_ASSIGN_OR_RETURN(
        PgResult r,
        conn_->Query("INSERT INTO leader(id, term, holder, since_us) VALUES (1, 1, $1, $2) ON "
                     "CONFLICT (id) DO UPDATE SET term = leader.term + 1, holder = "
                     "EXCLUDED.holder, since_us = EXCLUDED.since_us RETURNING term",
                     {options_.holder, absl::ToUnixMicros(now)}));
    PROV_ASSIGN_OR_RETURN(term, r.Int64(0, 0));
    return conn_
        ->Query(absl::StrCat("INSERT INTO leader_lease(id, term, holder, renewed_us) VALUES (1, "
                             "$1, $2, ",
                             kDbNowUs,
                             ") ON CONFLICT (id) DO UPDATE SET term = EXCLUDED.term, holder = "
                             "EXCLUDED.holder, renewed_us = EXCLUDED.renewed_us"),
                {term, options_.holder})
        .status();
  });
  if (!begun.ok()) {
    PROV_LOG_WARN("store", "leader election: could not begin a term; releasing the lock",
                  {"error", std::string(begun.message())});
    Release();
    return false;
  }
  PROV_LOG_INFO("store", "leader election: elected", {"holder", options_.holder},
                {"term", absl::StrCat(term)});
  absl::MutexLock lock(&mu_);
  term_ = term;
  return true;
}

bool PgLeaderElection::Hold() {
  if (options_.before_hold) options_.before_hold();
  auto held = conn_->Query(kHeldSql, {int64_t{kPgLockKey}, int64_t{kPgLeaderLock}});
  if (held.ok() && held->Text(0, 0) != "0") {
    // Still the leader: renew the lease (a failure is logged; the lock decides who leads, and a
    // lease left to age past the takeover only lets a standby end this session).
    absl::Status renewed =
        conn_
            ->Query(absl::StrCat("UPDATE leader_lease SET renewed_us = ", kDbNowUs,
                                 " WHERE id = 1 AND term = $1 AND holder = $2"),
                    {term(), options_.holder})
            .status();
    if (!renewed.ok()) {
      PROV_LOG_WARN("store", "leader election: renewing the lease failed",
                    {"holder", options_.holder}, {"error", std::string(renewed.message())});
    }
    return true;
  }
  if (!held.ok() && conn_->ok()) {
    // The check failed on a live session (a statement timeout, say): a session lock lives as
    // long as its session, so this replica still leads. The next check tries again.
    PROV_LOG_WARN("store", "leader election: the lock check failed on a live session",
                  {"holder", options_.holder}, {"error", std::string(held.status().message())});
    return true;
  }
  PROV_LOG_WARN("store", "leader election: lost the leader lock; stepping down",
                {"holder", options_.holder}, {"term", absl::StrCat(term())},
                {"error", held.ok() ? std::string("the session no longer holds the lock")
                                    : std::string(held.status().message())});
  return false;
}

void PgLeaderElection::EndStaleLeader() {
  auto stale = conn_->Query(StaleLeaderSql(), {int64_t{kPgLockKey}, int64_t{kPgLeaderLock},
                                               absl::ToInt64Microseconds(options_.takeover)});
  if (!stale.ok() || stale->rows() == 0) return;
  const std::string pid = stale->Text(0, 0);
  const std::string holder = stale->Text(0, 1);
  const std::string term = stale->Text(0, 2);
  const double age_s = static_cast<double>(stale->Int64(0, 3).value_or(0)) / 1e6;
  // Its session is alive (else the lock would be free) but it has not renewed for longer than
  // the takeover: hung, stopped, or starved. Ending the session frees the lock for the next
  // try; the old leader, if it resumes, finds its session gone and steps down, and its writes
  // are fenced by the term the successor begins.
  auto ended = conn_->Query("SELECT pg_terminate_backend($1::int)", {pid});
  // Said once per session it tries to end (a refusal, when replicas do not share a role, would
  // otherwise repeat at every try).
  if (pid == last_ended_pid_) return;
  last_ended_pid_ = pid;
  PROV_LOG_WARN("store",
                "leader election: the leader has not renewed its lease for longer than the "
                "takeover; ending its session so that a standby takes over",
                {"holder", holder}, {"term", term}, {"lease_age_s", age_s}, {"pid", pid},
                {"by", options_.holder},
                {"ended", ended.ok() ? ended->Text(0, 0) : std::string(ended.status().message())});
}

void PgLeaderElection::StepDown() {
  {
    absl::MutexLock lock(&mu_);
    term_ = 0;
  }
  if (events_.deposed) events_.deposed();
  // Released only after the deposed event: the singletons have stopped writing.
  Release();
}

void PgLeaderElection::Release() {
  if (!conn_->ok()) return;  // a lost session holds nothing
  // Session advisory locks stack: unlock every level this session may hold (it holds no other
  // session lock: the migration lock is released by MigratePgSchema).
  auto released = conn_->Query("SELECT pg_advisory_unlock_all()");
  if (!released.ok()) {
    PROV_LOG_WARN("store", "leader election: releasing the leader lock failed",
                  {"holder", options_.holder}, {"error", std::string(released.status().message())});
  }
}

absl::Status CheckLeaderTerm(PgConn& conn, int64_t term) {
  if (!conn.InTransaction()) {
    return absl::FailedPreconditionError(
        "CheckLeaderTerm outside a transaction: it fences that transaction's writes");
  }
  PROV_ASSIGN_OR_RETURN(PgResult r,
                        conn.Query("SELECT term, holder FROM leader WHERE id = 1 FOR SHARE"));
  if (r.rows() == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("leader term ", term, ": no replica was ever elected"));
  }
  PROV_ASSIGN_OR_RETURN(int64_t newest, r.Int64(0, 0));
  if (newest != term) {
    return absl::FailedPreconditionError(absl::StrCat("leader term ", term, " is over: term ",
                                                      newest, " is led by ", r.Text(0, 1),
                                                      "; this replica no longer leads"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<LeaderRecord>> ReadLeader(PgConn& conn) {
  PROV_ASSIGN_OR_RETURN(PgResult r, conn.Query("SELECT term, holder, since_us FROM leader"));
  if (r.rows() == 0) return std::nullopt;
  LeaderRecord out;
  PROV_ASSIGN_OR_RETURN(out.term, r.Int64(0, 0));
  out.holder = r.Text(0, 1);
  PROV_ASSIGN_OR_RETURN(out.since_us, r.Int64(0, 2));
  return out;
}

}  // namespace prov::server
