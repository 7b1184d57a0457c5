// HTTPS for the dashboard (provd --web-tls-cert/--web-tls-key): a server TLS context loaded
// from PEM files, and one non-blocking TLS session per connection for the ConnectionGate.
//
//   auto tls = WebTlsContext::Load("/etc/provd/web.pem", "/etc/provd/web.key");
//   if (!tls.ok()) ...;                       // INVALID_ARGUMENT naming the file and the cause
//   options.connections.tls = *tls;           // every connection now speaks TLS
//
//   std::unique_ptr<TlsSession> s = (*tls)->NewSession(fd);   // fd is non-blocking
//   switch (s->Handshake()) { case TlsSession::Step::kWantRead: /* poll POLLIN, call again */ }
//   ssize_t n = s->Read(buf, size, &wait);    // like recv(): -1 + wait=kRead: poll, retry
//
// Why not httplib::SSLServer: cpp-httplib 0.11 runs SSL_accept on a worker thread, blocking,
// so a client stalling mid-handshake would hold a worker (the slowloris the gate exists for).
// Here the gate's poller drives the handshake without blocking, under the same deadline as the
// request (connection_gate.h), and only a connection whose request has fully arrived, decrypted,
// reaches a worker.
//
// The context: TLS 1.2 or newer, OpenSSL's default (system) ciphers, no renegotiation, the
// certificate file's further certificates sent as the chain; an encrypted key is refused (no
// prompt). A WebTlsContext is immutable and thread-safe; a TlsSession is used by one thread at a
// time (it moves with its connection between the poller and a worker).
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

namespace prov::server::web {

class TlsSession {
 public:
  enum class Step { kDone, kWantRead, kWantWrite, kFailed, kPlainHttp };
  enum class Wait { kNone, kRead, kWrite };

  explicit TlsSession(SSL* ssl) : ssl_(ssl) {}  // `ssl` already holds the socket (SSL_set_fd)
  ~TlsSession();  // frees the session; the socket stays open (the caller closes it)
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // One step of the server handshake. kPlainHttp: the client sent a plain HTTP request.
  Step Handshake();
  bool established() const { return established_; }
  // As recv()/send() on a non-blocking socket: > 0 bytes; Read 0: the peer closed; -1: would
  // block (*wait says for what) or failed (*wait == kNone).
  ssize_t Read(char* buf, size_t size, Wait* wait);
  ssize_t Write(const char* buf, size_t size, Wait* wait);
  // Decrypted or received bytes held inside the session, which poll() on the socket cannot see.
  bool HasPending() const;
  // Best effort close_notify, never blocking.
  void Shutdown();
  const std::string& error() const { return error_; }  // why the handshake failed

 private:
  SSL* ssl_;
  bool established_ = false;
  std::string error_;
};

class WebTlsContext {
 public:
  // INVALID_ARGUMENT when a file cannot be read or parsed, the key is encrypted, or the key does
  // not match the certificate; the message names the file (and `cert_name` / `key_name`, e.g. the
  // flags, when given).
  static absl::StatusOr<std::shared_ptr<const WebTlsContext>> Load(
      const std::string& cert_file, const std::string& key_file,
      const std::string& cert_name = "certificate", const std::string& key_name = "key");
  ~WebTlsContext();
  WebTlsContext(const WebTlsContext&) = delete;
  WebTlsContext& operator=(const WebTlsContext&) = delete;

  // A server session on `fd`; null if OpenSSL cannot allocate one.
  std::unique_ptr<TlsSession> NewSession(int fd) const;

 private:
  explicit WebTlsContext(SSL_CTX* ctx) : ctx_(ctx) {}
  SSL_CTX* ctx_;
};

}  // namespace prov::server::web
