#include "server/web/gated_http_server.h"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

namespace prov::server::web {
namespace {

using SteadyClock = std::chrono::steady_clock;

int MillisUntil(SteadyClock::time_point t) {
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t - SteadyClock::now()).count();
  return static_cast<int>(std::max<int64_t>(0, ms));
}

bool WaitFor(int fd, short events, int timeout_ms) {
  pollfd p{fd, events, 0};
  int rc;
  do {
    rc = poll(&p, 1, timeout_ms);
  } while (rc < 0 && errno == EINTR);
  return rc > 0 && (p.revents & (events | POLLHUP | POLLERR)) != 0;
}

// A request's bytes: first what the gate already read, then the connection (through TLS when
// it has it), until the request's deadline. Writes wait at most `write_timeout` for room each.
class GateStream final : public httplib::Stream {
 public:
  GateStream(ConnectionGate::Connection& conn, std::chrono::milliseconds write_timeout)
      : conn_(conn), write_timeout_ms_(static_cast<int>(write_timeout.count())) {}
  ~GateStream() override { conn_.buffered.erase(0, consumed_); }

  bool is_readable() const override {
    return consumed_ < conn_.buffered.size() || conn_.Pending() ||
           WaitFor(conn_.fd, POLLIN, MillisUntil(conn_.deadline));
  }
  bool is_writable() const override { return WaitFor(conn_.fd, POLLOUT, write_timeout_ms_); }

  ssize_t read(char* ptr, size_t size) override {
    if (consumed_ < conn_.buffered.size()) {
      const size_t n = std::min(size, conn_.buffered.size() - consumed_);
      std::copy_n(conn_.buffered.data() + consumed_, n, ptr);
      consumed_ += n;
      return static_cast<ssize_t>(n);
    }
    while (true) {
      const ssize_t n = conn_.Recv(ptr, size);
      if (n >= 0) return n;
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
      if (!WaitFor(conn_.fd, conn_.wait_events, MillisUntil(conn_.deadline))) return -1;
    }
  }

  ssize_t write(const char* ptr, size_t size) override {
    size_t sent = 0;
    while (sent < size) {
      const ssize_t n = conn_.Send(ptr + sent, size - sent);
      if (n > 0) {
        sent += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
          WaitFor(conn_.fd, conn_.wait_events, write_timeout_ms_)) {
        continue;
      }
      return -1;
    }
    return static_cast<ssize_t>(size);
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = conn_.peer;
    port = conn_.peer_port;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip.clear();
    port = 0;
  }
  socket_t socket() const override { return conn_.fd; }

 private:
  ConnectionGate::Connection& conn_;
  const int write_timeout_ms_;
  size_t consumed_ = 0;
};

// httplib's accept thread runs each accepted socket's task at once: the gate takes it without
// blocking.
class InlineTaskQueue final : public httplib::TaskQueue {
 public:
  void enqueue(std::function<void()> fn) override { fn(); }
  void shutdown() override {}
};

// Requests answered on one connection before it is closed (as httplib's default).
constexpr int kKeepAliveMaxCount = 100;

}  // namespace

GatedHttpServer::GatedHttpServer(ConnectionGateOptions options)
    : gate_(std::make_unique<ConnectionGate>(
          options, [this](ConnectionGate::Connection& c) { return Serve(c); })) {
  new_task_queue = [] { return new InlineTaskQueue(); };
}

GatedHttpServer::~GatedHttpServer() { gate_->Stop(); }

bool GatedHttpServer::process_and_close_socket(socket_t sock) {
  gate_->Admit(sock);
  return true;
}

bool GatedHttpServer::Serve(ConnectionGate::Connection& conn) {
  const bool last = conn.stream || conn.served + 1 >= kKeepAliveMaxCount;
  bool connection_closed = false;
  bool ok;
  {
    GateStream stream(conn, absl::ToChronoMilliseconds(gate_->options().write_timeout));
    ok = process_request(stream, last, connection_closed, nullptr);
  }
  return ok && !last && !connection_closed;
}

}  // namespace prov::server::web
