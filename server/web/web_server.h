// WebServer: provd's web dashboard on its own HTTP port (provd --web-listen). Serves the static
// pages (web_assets.h: embedded, or a folder with --web-assets), the JSON API (api_gateway.h) and
// the live feed GET /api/events (event_stream.h, server-sent events).
//
//   WebServerOptions options;
//   options.address = "127.0.0.1:8080";                  // port 0: any free port
//   PROV_ASSIGN_OR_RETURN(auto web, WebServer::Start(options, server->InProcessChannel()));
//   web->port();
//   web->Stop();   // ends live streams, stops accepting, joins its threads; idempotent
//
// Nothing but the static files is served without a token: every /api call goes through the
// gRPC services' own authentication (the gateway forwards the Authorization header). No cookies
// and no CORS headers, so another site's page can neither ride on a session nor read answers.
// Connections (issue 14, connection_gate.h): httplib's accept thread hands each connection to a
// ConnectionGate, whose one poller thread waits for the whole request (within
// connections.header_timeout, else 408) before a worker sees it, and which allows at most
// connections.max_per_peer connections per client address. Ordinary requests run on
// connections.request_workers threads; live streams on their own max_streams + 1, so neither
// slow clients nor a full set of live streams keep pages from loading.
// Failed authentications are limited per client address (auth_limiter, shared with gRPC): an
// address over the limit gets 429 with Retry-After on every /api call, unchecked.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/channel.h"
#include "server/web/connection_gate.h"
#include "server/web/event_stream.h"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib
namespace prov::server {
class FailedAuthLimiter;
}

namespace prov::server::web {

class ApiGateway;
class GatedHttpServer;
class WebAssets;

struct WebServerOptions {
  std::string address;     // "host:port" or "[v6]:port"
  std::string assets_dir;  // empty: the files embedded at build time
  EventStreamOptions events;
  ConnectionGateOptions connections;          // stream_workers is set from events.max_streams
  FailedAuthLimiter* auth_limiter = nullptr;  // null: no HTTP rate limit (not owned)
};

class WebServer {
 public:
  // INVALID_ARGUMENT for a malformed address, UNAVAILABLE when it cannot be bound.
  static absl::StatusOr<std::unique_ptr<WebServer>> Start(WebServerOptions options,
                                                          std::shared_ptr<grpc::Channel> channel);
  int port() const { return port_; }
  GateCounters connection_counters() const;
  void Stop();
  ~WebServer();

  WebServer(const WebServer&) = delete;
  WebServer& operator=(const WebServer&) = delete;

 private:
  WebServer(WebServerOptions options, std::shared_ptr<grpc::Channel> channel);
  void Routes();
  // 429 with Retry-After (true) when the client's address is over the failed-auth limit.
  bool RateLimited(const httplib::Request& req, httplib::Response& res) const;
  void FailedAuth(const httplib::Request& req) const;

  const WebServerOptions options_;
  std::unique_ptr<ApiGateway> gateway_;
  std::unique_ptr<WebAssets> assets_;
  std::unique_ptr<EventStreamHub> hub_;
  std::unique_ptr<GatedHttpServer> http_;
  std::thread thread_;
  int port_ = 0;
  absl::Mutex stop_mu_;
  bool stopped_ ABSL_GUARDED_BY(stop_mu_) = false;
};

// "host:port" / "[v6]:port" -> host and port; INVALID_ARGUMENT naming the address otherwise.
absl::StatusOr<std::pair<std::string, int>> ParseHostPort(const std::string& address);

}  // namespace prov::server::web
