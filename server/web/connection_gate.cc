#include "server/web/connection_gate.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace prov::server::web {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr char k408[] =
    "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
constexpr char k429[] =
    "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nConnection: close\r\n"
    "Content-Length: 0\r\n\r\n";
constexpr char k431[] =
    "HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\nContent-Length: "
    "0\r\n\r\n";
constexpr char kPlainHttpOnTls[] =
    "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n"
    "Content-Length: 55\r\n\r\nThis port speaks HTTPS only: use https:// in the address.\n";
constexpr char k503[] =
    "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\n"
    "Content-Length: 0\r\n\r\n";

SteadyClock::duration ToSteady(absl::Duration d) { return absl::ToChronoNanoseconds(d); }

// "::ffff:1.2.3.4" -> "1.2.3.4", so one client has one address whichever way it came in.
void PeerOf(int fd, std::string* ip, int* port) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return;
  char text[INET6_ADDRSTRLEN] = {0};
  if (addr.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &a->sin_addr, text, sizeof(text));
    *port = ntohs(a->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
      inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], text, sizeof(text));
    } else {
      inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof(text));
    }
    *port = ntohs(a->sin6_port);
  }
  *ip = text;
}

// OpenSSL writes to the socket with write(), which raises SIGPIPE when the client has gone; the
// gate's threads block it (the write then fails with EPIPE) rather than change provd's handler.
void BlockSigpipe() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

// What is left of a plain request in the socket, so that closing it sends FIN, not RST (which
// could destroy the answer before the client reads it).
void DrainReceived(int fd) {
  char sink[4096];
  for (int i = 0; i < 16 && recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0; ++i) {
  }
}

}  // namespace

ssize_t ConnectionGate::Connection::Recv(char* buf, size_t size) {
  if (tls == nullptr) {
    wait_events = POLLIN;
    return recv(fd, buf, size, MSG_DONTWAIT);
  }
  TlsSession::Wait wait = TlsSession::Wait::kNone;
  const ssize_t n = tls->Read(buf, size, &wait);
  if (n < 0) {
    errno = wait == TlsSession::Wait::kNone ? ECONNRESET : EAGAIN;
    wait_events = wait == TlsSession::Wait::kWrite ? POLLOUT : POLLIN;
  }
  return n;
}

ssize_t ConnectionGate::Connection::Send(const char* buf, size_t size) {
  if (tls == nullptr) {
    wait_events = POLLOUT;
    return send(fd, buf, size, MSG_DONTWAIT | MSG_NOSIGNAL);
  }
  TlsSession::Wait wait = TlsSession::Wait::kNone;
  const ssize_t n = tls->Write(buf, size, &wait);
  if (n < 0) {
    errno = wait == TlsSession::Wait::kNone ? EPIPE : EAGAIN;
    wait_events = wait == TlsSession::Wait::kRead ? POLLIN : POLLOUT;
  }
  return n;
}

RequestState CheckRequest(absl::string_view buffered, size_t max_header_bytes,
                          size_t max_body_bytes) {
  const size_t end = buffered.find("\r\n\r\n");
  if (end == absl::string_view::npos) {
    return buffered.size() > max_header_bytes ? RequestState::kHeadersTooLarge
                                              : RequestState::kNeedMore;
  }
  if (end > max_header_bytes) return RequestState::kHeadersTooLarge;
  const absl::string_view headers = buffered.substr(0, end);
  for (absl::string_view line : absl::StrSplit(headers, "\r\n")) {
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos) continue;
    const absl::string_view name = absl::StripAsciiWhitespace(line.substr(0, colon));
    const absl::string_view value = absl::StripAsciiWhitespace(line.substr(colon + 1));
    // Chunked bodies, and bodies the client sends only after "100 Continue", are read by the
    // server itself, within what is left of the deadline.
    if (absl::EqualsIgnoreCase(name, "Transfer-Encoding") ||
        absl::EqualsIgnoreCase(name, "Expect")) {
      return RequestState::kComplete;
    }
    if (absl::EqualsIgnoreCase(name, "Content-Length")) {
      uint64_t length = 0;
      if (!absl::SimpleAtoi(value, &length) || length > max_body_bytes) {
        return RequestState::kComplete;  // the server answers 400 / 413
      }
      return buffered.size() - (end + 4) >= length ? RequestState::kComplete
                                                   : RequestState::kNeedMore;
    }
  }
  return RequestState::kComplete;
}

bool IsEventStreamRequest(absl::string_view buffered) {
  if (!absl::ConsumePrefix(&buffered, "GET /api/events")) return false;
  return !buffered.empty() && (buffered[0] == ' ' || buffered[0] == '?');
}

class ConnectionGate::Pool {
 public:
  Pool(size_t threads, ConnectionGate& gate) : gate_(gate) {
    for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
  }
  // Null when taken; the connection back when the pool is stopping.
  std::unique_ptr<Connection> Push(std::unique_ptr<Connection> conn) {
    absl::MutexLock lock(&mu_);
    if (stopped_) return conn;
    queue_.push_back(std::move(conn));
    return nullptr;
  }
  void Stop() {
    std::deque<std::unique_ptr<Connection>> left;
    {
      absl::MutexLock lock(&mu_);
      stopped_ = true;
      left.swap(queue_);
    }
    for (auto& t : threads_) t.join();
    threads_.clear();
    for (auto& c : left) gate_.Close(std::move(c), "");
  }

 private:
  void Run() {
    BlockSigpipe();
    while (true) {
      std::unique_ptr<Connection> conn;
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(this, &Pool::Ready));
        if (stopped_) return;
        conn = std::move(queue_.front());
        queue_.pop_front();
      }
      gate_.Work(std::move(conn));
    }
  }

  bool Ready() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopped_ || !queue_.empty(); }

  ConnectionGate& gate_;
  absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<std::unique_ptr<Connection>> queue_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_;
};

ConnectionGate::ConnectionGate(ConnectionGateOptions options, Serve serve)
    : options_(options), serve_(std::move(serve)), wake_fd_(eventfd(0, EFD_NONBLOCK)) {
  requests_ = std::make_unique<Pool>(std::max<size_t>(1, options_.request_workers), *this);
  streams_ = std::make_unique<Pool>(std::max<size_t>(1, options_.stream_workers), *this);
  poller_ = std::thread([this] { Poll(); });
}

ConnectionGate::~ConnectionGate() {
  Stop();
  if (wake_fd_ >= 0) close(wake_fd_);
}

void ConnectionGate::Wake() {
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof(one));
}

void ConnectionGate::Admit(int fd) {
  auto conn = std::make_unique<Connection>();
  conn->fd = fd;
  PeerOf(fd, &conn->peer, &conn->peer_port);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK);
  conn->deadline = SteadyClock::now() + ToSteady(options_.keep_alive);
  if (options_.tls != nullptr) conn->tls = options_.tls->Current()->NewSession(fd);
  const char* refuse = nullptr;
  {
    absl::MutexLock lock(&mu_);
    if (stopped_ || (options_.tls != nullptr && conn->tls == nullptr)) {
      refuse = k503;
    } else if (open_ >= options_.max_connections) {
      ++counters_.refused_full;
      refuse = k503;
    } else if (per_peer_[conn->peer] >= options_.max_per_peer) {
      ++counters_.refused_per_peer;
      refuse = k429;
    } else {
      ++per_peer_[conn->peer];
      ++open_;
      ++counters_.accepted;
      // The first request gets the full header timeout, from now.
      conn->deadline = SteadyClock::now() + ToSteady(options_.header_timeout);
      conn->idle = false;
      incoming_.push_back(std::move(conn));
    }
  }
  if (refuse != nullptr) {
    conn = nullptr;  // frees a TLS session before its socket closes
    // On a TLS port there is no session to answer through: a bare close.
    if (options_.tls == nullptr) {
      [[maybe_unused]] ssize_t n = send(fd, refuse, strlen(refuse), MSG_DONTWAIT | MSG_NOSIGNAL);
    }
    shutdown(fd, SHUT_RDWR);
    close(fd);
    return;
  }
  Wake();
}

void ConnectionGate::Close(std::unique_ptr<Connection> conn, absl::string_view reply) {
  // Through TLS only once the handshake is done; nothing can be said to a half-open session.
  const bool can_answer = conn->tls == nullptr || conn->tls->established();
  if (!reply.empty() && can_answer) {
    [[maybe_unused]] ssize_t n = conn->Send(reply.data(), reply.size());
  }
  if (conn->tls != nullptr) {
    conn->tls->Shutdown();
    conn->tls = nullptr;
  }
  shutdown(conn->fd, SHUT_RDWR);
  close(conn->fd);
  absl::MutexLock lock(&mu_);
  auto it = per_peer_.find(conn->peer);
  if (it != per_peer_.end() && --it->second == 0) per_peer_.erase(it);
  --open_;
}

void ConnectionGate::Dispatch(std::unique_ptr<Connection> conn) {
  conn->stream = IsEventStreamRequest(conn->buffered);
  conn = (conn->stream ? streams_ : requests_)->Push(std::move(conn));
  if (conn != nullptr) Close(std::move(conn), k503);
}

void ConnectionGate::Work(std::unique_ptr<Connection> conn) {
  const bool keep = serve_(*conn);
  ++conn->served;
  if (keep && !conn->stream) return Back(std::move(conn));
  Close(std::move(conn), "");
}

void ConnectionGate::Back(std::unique_ptr<Connection> conn) {
  conn->wait_events = POLLIN;
  conn->idle = conn->buffered.empty();
  conn->deadline =
      SteadyClock::now() + ToSteady(conn->idle ? options_.keep_alive : options_.header_timeout);
  if (!conn->idle && CheckRequest(conn->buffered, options_.max_header_bytes,
                                  options_.max_body_bytes) == RequestState::kComplete) {
    return Dispatch(std::move(conn));  // pipelined: the next request is already here
  }
  {
    absl::MutexLock lock(&mu_);
    if (!stopped_) {
      incoming_.push_back(std::move(conn));
      conn = nullptr;
    }
  }
  if (conn != nullptr) return Close(std::move(conn), "");
  Wake();
}

void ConnectionGate::Poll() {
  BlockSigpipe();
  std::vector<std::unique_ptr<Connection>> waiting;
  std::vector<pollfd> fds;
  char chunk[8192];
  const size_t cap = options_.max_header_bytes + options_.max_body_bytes + sizeof(chunk);
  auto count = [this](uint64_t GateCounters::*counter) {
    absl::MutexLock lock(&mu_);
    ++(counters_.*counter);
  };
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopped_) break;
      for (auto& c : incoming_) waiting.push_back(std::move(c));
      incoming_.clear();
    }
    auto now = SteadyClock::now();
    auto next = now + std::chrono::seconds(1);
    fds.assign(1, pollfd{wake_fd_, POLLIN, 0});
    for (const auto& c : waiting) {
      fds.push_back(pollfd{c->fd, c->wait_events, 0});
      next = std::min(next, c->Pending() ? now : c->deadline);
    }
    const int wait_ms =
        next <= now
            ? 0
            : static_cast<int>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count() + 1);
    if (poll(fds.data(), fds.size(), wait_ms) < 0 && errno != EINTR) break;
    if (fds[0].revents != 0) {
      uint64_t drained = 0;
      [[maybe_unused]] ssize_t n = read(wake_fd_, &drained, sizeof(drained));
    }
    now = SteadyClock::now();
    for (size_t i = 0; i < waiting.size(); ++i) {
      std::unique_ptr<Connection>& c = waiting[i];
      if (fds[i + 1].revents != 0 || c->Pending()) {
        if (c->tls != nullptr && !c->tls->established()) {
          const TlsSession::Step step = c->tls->Handshake();
          if (step == TlsSession::Step::kPlainHttp) {
            count(&GateCounters::tls_plain_http);
            [[maybe_unused]] ssize_t n = send(c->fd, kPlainHttpOnTls, sizeof(kPlainHttpOnTls) - 1,
                                              MSG_DONTWAIT | MSG_NOSIGNAL);
            DrainReceived(c->fd);
            Close(std::move(c), "");
            continue;
          }
          if (step == TlsSession::Step::kFailed) {
            count(&GateCounters::tls_handshake_failed);
            Close(std::move(c), "");
            continue;
          }
          c->wait_events = step == TlsSession::Step::kWantWrite ? POLLOUT : POLLIN;
        }
        if (c->tls == nullptr || c->tls->established()) {
          bool closed = false;
          while (c->buffered.size() < cap) {
            const ssize_t n = c->Recv(chunk, sizeof(chunk));
            if (n > 0) {
              if (c->idle) {
                c->idle = false;
                c->deadline = now + ToSteady(options_.header_timeout);
              }
              c->buffered.append(chunk, static_cast<size_t>(n));
              continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) break;
            closed = true;  // the client went away, or an error
            break;
          }
          if (closed) {
            Close(std::move(c), "");
            continue;
          }
          switch (CheckRequest(c->buffered, options_.max_header_bytes, options_.max_body_bytes)) {
            case RequestState::kComplete:
              Dispatch(std::move(c));
              continue;
            case RequestState::kHeadersTooLarge: {
              count(&GateCounters::too_large);
              Close(std::move(c), k431);
              continue;
            }
            case RequestState::kNeedMore:
              break;
          }
        }
      }
      if (now >= c->deadline) {
        if (c->tls != nullptr && !c->tls->established()) {
          count(&GateCounters::tls_handshake_timeout);  // stalled mid-handshake
          Close(std::move(c), "");
        } else if (c->idle) {
          Close(std::move(c), "");
        } else {
          count(&GateCounters::timed_out);
          Close(std::move(c), k408);
        }
      }
    }
    waiting.erase(std::remove(waiting.begin(), waiting.end(), nullptr), waiting.end());
  }
  for (auto& c : waiting) Close(std::move(c), "");
}

void ConnectionGate::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  Wake();
  if (poller_.joinable()) poller_.join();
  requests_->Stop();
  streams_->Stop();
  std::vector<std::unique_ptr<Connection>> left;
  {
    absl::MutexLock lock(&mu_);
    left.swap(incoming_);
  }
  for (auto& c : left) Close(std::move(c), "");
}

GateCounters ConnectionGate::counters() const {
  GateCounters c;
  {
    absl::MutexLock lock(&mu_);
    c = counters_;
  }
  if (options_.tls != nullptr) {
    const WebTlsReloader::Counts reloads = options_.tls->counts();
    c.tls_reloads = reloads.reloads;
    c.tls_reload_failures = reloads.failed;
  }
  return c;
}

}  // namespace prov::server::web
