#include "server/web/web_server.h"

#include <algorithm>
#include <chrono>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "httplib.h"
#include "server/access/failed_auth_limiter.h"
#include "server/web/api_gateway.h"
#include "server/web/gated_http_server.h"
#include "server/web/grpc_json.h"
#include "server/web/web_assets.h"

namespace prov::server::web {
namespace {

// Pages may load only their own scripts, styles and API; nothing inline, nothing framed.
constexpr char kContentSecurityPolicy[] =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
constexpr size_t kMaxBodyBytes = 1u << 20;

void CommonHeaders(httplib::Response& res) {
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_header("X-Frame-Options", "DENY");
}

void Send(const HttpReply& reply, httplib::Response& res) {
  CommonHeaders(res);
  res.status = reply.status;
  res.set_header("Cache-Control", "no-store");
  if (reply.status == 401) res.set_header("WWW-Authenticate", "Bearer realm=\"provd\"");
  res.set_content(reply.body, reply.content_type);
}

}  // namespace

absl::StatusOr<std::pair<std::string, int>> ParseHostPort(const std::string& address) {
  std::string host;
  std::string port_text;
  if (!address.empty() && address.front() == '[') {
    const size_t close = address.find("]:");
    if (close == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("\"", address, "\" is not [host]:port"));
    }
    host = address.substr(1, close - 1);
    port_text = address.substr(close + 2);
  } else {
    const size_t colon = address.rfind(':');
    if (colon == std::string::npos || address.find(':') != colon) {
      return absl::InvalidArgumentError(absl::StrCat("\"", address, "\" is not host:port"));
    }
    host = address.substr(0, colon);
    port_text = address.substr(colon + 1);
  }
  int port = 0;
  if (host.empty() || !absl::SimpleAtoi(port_text, &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("\"", address, "\" is not host:port"));
  }
  return std::make_pair(host, port);
}

WebServer::WebServer(WebServerOptions options, std::shared_ptr<grpc::Channel> channel)
    : options_(std::move(options)),
      gateway_(std::make_unique<ApiGateway>(std::move(channel))),
      assets_(options_.assets_dir.empty() ? std::make_unique<WebAssets>()
                                          : std::make_unique<WebAssets>(options_.assets_dir)),
      hub_(std::make_unique<EventStreamHub>(options_.events)) {
  ConnectionGateOptions connections = options_.connections;
  connections.stream_workers = options_.events.max_streams + 1;
  http_ = std::make_unique<GatedHttpServer>(connections);
}

GateCounters WebServer::connection_counters() const { return http_->gate_counters(); }

absl::StatusOr<std::unique_ptr<WebServer>> WebServer::Start(
    WebServerOptions options, std::shared_ptr<grpc::Channel> channel) {
  auto host_port = ParseHostPort(options.address);
  if (!host_port.ok()) return host_port.status();
  std::unique_ptr<WebServer> web(new WebServer(std::move(options), std::move(channel)));
  httplib::Server& http = *web->http_;
  http.set_payload_max_length(kMaxBodyBytes);
  web->Routes();
  const auto& [host, port] = *host_port;
  web->port_ =
      port == 0 ? http.bind_to_any_port(host) : (http.bind_to_port(host, port) ? port : -1);
  if (web->port_ <= 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", web->options_.address));
  }
  web->thread_ = std::thread([&http] { http.listen_after_bind(); });
  // stop() is a no-op until the accept loop runs; wait for it so Stop() always ends it.
  for (int i = 0; i < 5000 && !http.is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return web;
}

void WebServer::Routes() {
  httplib::Server& http = *http_;
  http.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
        Send(ErrorReply(500, "INTERNAL", "internal error"), res);
      });

  http.Get("/api/events", [this](const httplib::Request& req, httplib::Response& res) {
    if (RateLimited(req, res)) return;
    const std::string authorization = req.get_header_value("Authorization");
    provenance::v1::Principal who;
    grpc::Status s = gateway_->WhoAmI(authorization, &who);
    if (!s.ok()) {
      if (s.error_code() == grpc::StatusCode::UNAUTHENTICATED) FailedAuth(req);
      return Send(ErrorReply(s), res);
    }
    std::shared_ptr<EventStream> stream = hub_->Open(*gateway_, authorization, who);
    if (stream == nullptr) {
      return Send(ErrorReply(503, "UNAVAILABLE",
                             absl::StrCat("live streams are all in use (",
                                          hub_->options().max_streams, "); try again later")),
                  res);
    }
    CommonHeaders(res);
    res.set_header("Cache-Control", "no-store");
    res.set_header("X-Accel-Buffering", "no");
    EventStreamHub* hub = hub_.get();
    res.set_chunked_content_provider(
        "text/event-stream",
        [stream](size_t, httplib::DataSink& sink) {
          if (stream->finished()) {
            sink.done();
            return true;
          }
          const std::string chunk = stream->Next(absl::Milliseconds(500));
          if (!chunk.empty() && !sink.write(chunk.data(), chunk.size())) return false;
          return true;
        },
        [stream, hub](bool) { hub->Close(stream); });
  });

  auto api = [this](const httplib::Request& req, httplib::Response& res) {
    if (RateLimited(req, res)) return;
    HttpCall call{.method = req.method,
                  .path = req.path,
                  .query = req.params,
                  .body = req.body,
                  .authorization = req.get_header_value("Authorization")};
    HttpReply reply = gateway_->Handle(call);
    if (reply.status == 401) FailedAuth(req);
    Send(reply, res);
  };
  http.Get("/api/.*", api);
  http.Post("/api/.*", api);

  http.Get("/(.*)", [this](const httplib::Request& req, httplib::Response& res) {
    std::string path = req.matches.size() > 1 ? std::string(req.matches[1]) : "";
    if (path.empty()) path = "index.html";
    std::optional<WebAsset> asset = assets_->Find(path);
    if (!asset.has_value()) {
      return Send(ErrorReply(404, "NOT_FOUND", absl::StrCat("no file /", path)), res);
    }
    CommonHeaders(res);
    res.set_header("Content-Security-Policy", kContentSecurityPolicy);
    res.set_header("Cache-Control", "no-cache");
    res.set_content(asset->body, asset->content_type);
  });
}

bool WebServer::RateLimited(const httplib::Request& req, httplib::Response& res) const {
  if (options_.auth_limiter == nullptr) return false;
  std::optional<absl::Duration> wait = options_.auth_limiter->Blocked(req.remote_addr);
  if (!wait.has_value()) return false;
  const int64_t seconds =
      std::max<int64_t>(1, absl::ToInt64Seconds(absl::Ceil(*wait, absl::Seconds(1))));
  Send(ErrorReply(429, "RESOURCE_EXHAUSTED",
                  absl::StrCat("too many failed authentications from ", req.remote_addr,
                               "; retry in ", seconds, " s")),
       res);
  res.set_header("Retry-After", absl::StrCat(seconds));
  return true;
}

void WebServer::FailedAuth(const httplib::Request& req) const {
  if (options_.auth_limiter != nullptr) options_.auth_limiter->RecordFailure(req.remote_addr);
}

void WebServer::Stop() {
  absl::MutexLock lock(&stop_mu_);
  if (stopped_) return;
  stopped_ = true;
  hub_->Stop();  // live streams end within one wait (500 ms)
  http_->stop();
  if (thread_.joinable()) thread_.join();
  http_->StopGate();  // closes waiting connections, joins the workers
}

WebServer::~WebServer() { Stop(); }

}  // namespace prov::server::web
