// ConnectionGate: the dashboard's connections, kept off the worker threads until a whole request
// has arrived (issue 14: 24 connections trickling header bytes took the dashboard offline).
//
//   ConnectionGate gate(options, [&](ConnectionGate::Connection& c) { return Serve(c); });
//   gate.Admit(fd);   // accept thread: never blocks
//   ...
//   gate.Stop();      // closes waiting connections, joins the poller and both worker pools
//
// One poller thread reads every waiting connection (non-blocking, poll()) into its buffer until
// the request's headers, and a Content-Length body, are in; only then is the connection handed
// to a worker: live-stream requests (GET /api/events) to `stream_workers` threads, everything
// else to `request_workers` threads, so a full set of live streams never starves page loads.
// A request that has not fully arrived `header_timeout` after its first byte (or after the
// connection opened) is answered 408 and closed; an idle keep-alive connection is closed after
// `keep_alive`; headers over `max_header_bytes` get 431. At most `max_per_peer` connections per
// client address (429, closed at once) and `max_connections` in all (503) are open.
// After its answer, a kept-alive connection goes back to the poller, not to a waiting worker.
//
// HTTPS (options.tls set, web_tls_reloader.h: the newest certificate that loaded, asked for at each
// accepted connection): the poller also drives each connection's TLS handshake,
// without blocking, before reading its request; the handshake and the first request together
// must be in within `header_timeout`, else the connection is closed (counted as
// tls_handshake_timeout while still in the handshake). A client speaking plain HTTP to the TLS
// port gets a plain-text 400 saying so (tls_plain_http); any other failed handshake is closed
// (tls_handshake_failed). Refusals (429, 503) on a TLS port are a bare close: there is no
// session yet to answer through. Connection::Recv/Send hide TLS from the poller and the server.
//
// Timing is I/O timing on the steady clock (poll deadlines), not business time: no Clock seam.
// Thread-safe; Serve runs on the worker threads.
#pragma once

#include <poll.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/web/web_tls.h"
#include "server/web/web_tls_reloader.h"

namespace prov::server::web {

struct ConnectionGateOptions {
  absl::Duration header_timeout = absl::Seconds(10);
  absl::Duration keep_alive = absl::Seconds(5);
  absl::Duration write_timeout = absl::Seconds(10);
  size_t max_per_peer = 16;
  size_t max_connections = 1024;
  size_t request_workers = 8;
  size_t stream_workers = 17;  // WebServer: max live streams + 1 (to answer "all in use")
  size_t max_header_bytes = 16u << 10;
  size_t max_body_bytes = 1u << 20;     // a larger Content-Length is left to the server (413)
  std::shared_ptr<WebTlsReloader> tls;  // set: HTTPS only (web_tls_reloader.h)
};

struct GateCounters {
  uint64_t accepted = 0;
  uint64_t refused_per_peer = 0;       // over max_per_peer
  uint64_t refused_full = 0;           // over max_connections
  uint64_t timed_out = 0;              // request incomplete after header_timeout (408)
  uint64_t too_large = 0;              // headers over max_header_bytes (431)
  uint64_t tls_handshake_timeout = 0;  // TLS handshake not done after header_timeout
  uint64_t tls_handshake_failed = 0;   // TLS handshake refused (bad client hello, no shared cipher)
  uint64_t tls_plain_http = 0;         // plain HTTP on the TLS port (400)
  uint64_t tls_reloads = 0;            // changed certificate files loaded (WebTlsReloader)
  uint64_t tls_reload_failures = 0;    // changed certificate files that did not load
};

// What the poller decides from the bytes so far.
enum class RequestState { kNeedMore, kComplete, kHeadersTooLarge };
RequestState CheckRequest(absl::string_view buffered, size_t max_header_bytes,
                          size_t max_body_bytes);
bool IsEventStreamRequest(absl::string_view buffered);  // "GET /api/events[?...] "

class ConnectionGate {
 public:
  struct Connection {
    int fd = -1;
    std::string peer;  // client address (no port), as HTTP's remote address
    int peer_port = 0;
    std::string buffered;  // received, not yet consumed by the server
    std::chrono::steady_clock::time_point deadline;
    bool idle = true;                 // nothing of the next request yet
    bool stream = false;              // GET /api/events
    int served = 0;                   // requests answered on this connection
    std::unique_ptr<TlsSession> tls;  // HTTPS: the session (its handshake done once read from)
    short wait_events = POLLIN;       // what the last Recv/Send or handshake step waits for

    // recv()/send() on the non-blocking socket, through TLS when the connection has it: > 0
    // bytes; Recv 0: the peer closed; -1 with errno EAGAIN: would block (poll for wait_events),
    // else failed.
    ssize_t Recv(char* buf, size_t size);
    ssize_t Send(const char* buf, size_t size);
    // Bytes already inside the TLS session, ready for Recv without the socket being readable.
    bool Pending() const { return tls != nullptr && tls->HasPending(); }
  };
  // Answers the request in conn.buffered (leaving any bytes after it there). True: keep the
  // connection open for another request; false: close it.
  using Serve = std::function<bool(Connection& conn)>;

  ConnectionGate(ConnectionGateOptions options, Serve serve);
  ~ConnectionGate();  // Stop()
  ConnectionGate(const ConnectionGate&) = delete;
  ConnectionGate& operator=(const ConnectionGate&) = delete;

  void Admit(int fd);
  void Stop();
  GateCounters counters() const;
  const ConnectionGateOptions& options() const { return options_; }

 private:
  class Pool;
  void Poll();
  void Dispatch(std::unique_ptr<Connection> conn);
  void Back(std::unique_ptr<Connection> conn);  // a worker is done with a kept-alive connection
  void Close(std::unique_ptr<Connection> conn, absl::string_view reply);
  void Work(std::unique_ptr<Connection> conn);
  void Wake();

  const ConnectionGateOptions options_;
  const Serve serve_;
  int wake_fd_ = -1;
  mutable absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::unique_ptr<Connection>> incoming_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, size_t> per_peer_ ABSL_GUARDED_BY(mu_);
  size_t open_ ABSL_GUARDED_BY(mu_) = 0;
  GateCounters counters_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<Pool> requests_;
  std::unique_ptr<Pool> streams_;
  std::thread poller_;
};

}  // namespace prov::server::web
