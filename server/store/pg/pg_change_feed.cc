#include "server/store/pg/pg_change_feed.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log/log.h"
#include "common/status_macros.h"
#include "libpq-fe.h"
#include "server/store/pg/pg_schema.h"

namespace prov::server {

constexpr size_t kMaxPayload = 7999;  // NOTIFY payloads must be shorter than 8000 bytes

absl::Status NotifyChange(PgConn& conn, absl::string_view channel, absl::string_view payload) {
  if (channel.empty()) return absl::InvalidArgumentError("NotifyChange: channel is empty");
  if (payload.size() > kMaxPayload) {
    return absl::InvalidArgumentError(absl::StrCat("NotifyChange on ", channel, ": payload of ",
                                                   payload.size(), " bytes is over the limit of ",
                                                   kMaxPayload));
  }
  if (!conn.InTransaction()) {
    return absl::FailedPreconditionError(
        "NotifyChange outside a transaction: a change is announced with its commit");
  }
  return conn.Query("SELECT pg_notify($1, $2)", {channel, payload}).status();
}

absl::StatusOr<std::unique_ptr<PgChangeListener>> PgChangeListener::Open(
    const std::string& conninfo, absl::Duration connect_timeout) {
  PgConnOptions options{.connect_timeout = connect_timeout,
                        .application_name = "provd/listen",
                        .search_path = kPgSchema};
  PROV_ASSIGN_OR_RETURN(auto conn, PgConn::Connect(conninfo, options));
  return std::unique_ptr<PgChangeListener>(new PgChangeListener(std::move(conn)));
}

PgChangeListener::~PgChangeListener() { Stop(); }

absl::Status PgChangeListener::Start(std::vector<std::string> channels,
                                     std::function<void(const ChangeEvent&)> on_event) {
  absl::MutexLock lock(&mu_);
  if (started_) return absl::FailedPreconditionError("change listener: already started");
  for (const std::string& c : channels) {
    if (c.empty()) return absl::InvalidArgumentError("change listener: a channel is empty");
  }
  channels_ = std::move(channels);
  on_event_ = std::move(on_event);
  PROV_RETURN_IF_ERROR(conn_->Reconnect());
  PROV_RETURN_IF_ERROR(Listen());
  started_ = true;
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void PgChangeListener::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (!started_ || stopping_) return;
    stopping_ = true;
  }
  thread_.join();
  // A listening session that is no longer read would hold back PostgreSQL's notification queue
  // (every writer's NotifyChange fails once it is full): stop listening.
  if (conn_->ok()) (void)conn_->Exec("UNLISTEN *");
}

int PgChangeListener::reconnects() const {
  absl::MutexLock lock(&mu_);
  return reconnects_;
}

absl::Status PgChangeListener::Listen() {
  for (const std::string& channel : channels_) {
    char* ident = PQescapeIdentifier(conn_->raw(), channel.data(), channel.size());
    if (ident == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("change listener: channel '", channel, "': ", PQerrorMessage(conn_->raw())));
    }
    std::string sql = absl::StrCat("LISTEN ", ident);
    PQfreemem(ident);
    PROV_RETURN_IF_ERROR(conn_->Exec(sql));
  }
  return absl::OkStatus();
}

void PgChangeListener::Run() {
  // A session that is dropped soon after it was made (an idle timeout, a proxy) must not turn
  // into a reconnect-and-resync loop: every reconnect waits `backoff`, which is reset only once
  // a session has lived kSettled.
  constexpr absl::Duration kSettled = absl::Seconds(10);
  absl::Duration backoff = absl::Milliseconds(100);
  absl::Time connected = absl::Now();
  bool lost = false;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    if (!lost) {
      lost = !Pump(absl::Milliseconds(200));
      if (lost) {
        PROV_LOG_WARN("store", "change listener: session lost; reconnecting",
                      {"error", PQerrorMessage(conn_->raw())});
        if (absl::Now() - connected >= kSettled) backoff = absl::Milliseconds(100);
      }
      continue;
    }
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), backoff);
      if (stopping_) return;
    }
    backoff = std::min(backoff * 2, absl::Seconds(5));
    absl::Status back = conn_->Reconnect();
    if (back.ok()) back = Listen();
    if (!back.ok()) continue;
    lost = false;
    connected = absl::Now();
    {
      absl::MutexLock lock(&mu_);
      ++reconnects_;
    }
    ChangeEvent resync;
    resync.resync = true;
    on_event_(resync);
  }
}

void PgChangeListener::Deliver() {
  pg_conn* raw = conn_->raw();
  while (PGnotify* n = PQnotifies(raw)) {
    ChangeEvent e;
    e.channel = n->relname;
    e.payload = n->extra != nullptr ? n->extra : "";
    PQfreemem(n);
    on_event_(e);
  }
}

bool PgChangeListener::Pump(absl::Duration timeout) {
  pg_conn* raw = conn_->raw();
  if (raw == nullptr || PQstatus(raw) != CONNECTION_OK) return false;
  Deliver();  // what libpq read already (during LISTEN, say) is not waited for
  pollfd fd{.fd = PQsocket(raw), .events = POLLIN, .revents = 0};
  if (fd.fd < 0) return false;
  const int ready = poll(&fd, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
  if (ready < 0) return errno == EINTR;
  if (ready > 0 && PQconsumeInput(raw) == 0) return false;
  Deliver();
  return PQstatus(raw) == CONNECTION_OK;
}

absl::StatusOr<std::unique_ptr<PgChangeAnnouncer>> PgChangeAnnouncer::Open(
    const std::string& conninfo, absl::Duration connect_timeout) {
  PgConnOptions options{.connect_timeout = connect_timeout,
                        .application_name = "provd/announce",
                        .search_path = kPgSchema};
  PROV_ASSIGN_OR_RETURN(auto conn, PgConn::Connect(conninfo, options));
  return std::unique_ptr<PgChangeAnnouncer>(new PgChangeAnnouncer(std::move(conn)));
}

absl::Status PgChangeAnnouncer::Announce(absl::string_view channel, absl::string_view payload) {
  if (channel.empty()) return absl::InvalidArgumentError("Announce: channel is empty");
  if (payload.size() > kMaxPayload) {
    return absl::InvalidArgumentError(absl::StrCat("Announce on ", channel, ": payload of ",
                                                   payload.size(), " bytes is over the limit of ",
                                                   kMaxPayload));
  }
  absl::MutexLock lock(&mu_);
  PgConn& conn = *conn_;  // under mu_ (the lambda below cannot say so to -Wthread-safety)
  return RunWithReconnect(conn, [&] {
    return conn.Query("SELECT pg_notify($1, $2)", {channel, payload}).status();
  });
}

}  // namespace prov::server
