// Issue 14 against a real in-process ProvdServer: slow-header clients, too many connections from
// one address, and password guessing over HTTP and gRPC must not take provd's people-facing
// side down for anyone else; a viewer's refused admin call lands in the audit log.
// Clients bind distinct loopback source addresses (127.0.0.x) to be distinct peers.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/grpc/bearer_channel.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "provenance/v1/compliance.grpc.pb.h"
#include "server/auditlog/audit_log.h"
#include "server/provd_server.h"
#include "server/web/connection_gate.h"
#include "tests/server/temp_dir.h"

namespace prov::server {
namespace {

using ::testing::HasSubstr;
using namespace provenance::v1;

// A TCP connection to 127.0.0.1:port from `source` (e.g. "127.0.0.23"); -1 on failure.
int ConnectFrom(const std::string& source, int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in src{};
  src.sin_family = AF_INET;
  inet_pton(AF_INET, source.c_str(), &src.sin_addr);
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof(src)) != 0 ||
      connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof(dst)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Everything the server sends until it closes (or 5 s of silence).
std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

// One HTTP/1.1 GET from `source`; the raw response.
std::string GetFrom(const std::string& source, int port, const std::string& path,
                    const std::string& token) {
  int fd = ConnectFrom(source, port);
  if (fd < 0) return "connect failed";
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: provd\r\nConnection: close\r\n";
  if (!token.empty()) req += "Authorization: Bearer " + token + "\r\n";
  req += "\r\n";
  send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  std::string out = ReadAll(fd);
  close(fd);
  return out;
}

TEST(ConnectionGateTest, RequestIsCompleteWithItsHeadersAndContentLengthBody) {
  using web::CheckRequest;
  using web::RequestState;
  EXPECT_EQ(CheckRequest("GET / HTTP/1.1\r\nHost: x\r\n", 100, 100), RequestState::kNeedMore);
  EXPECT_EQ(CheckRequest("GET / HTTP/1.1\r\nHost: x\r\n\r\n", 100, 100), RequestState::kComplete);
  const std::string post = "POST /api/cases/F-1 HTTP/1.1\r\ncontent-length: 4\r\n\r\n";
  EXPECT_EQ(CheckRequest(post + "ab", 100, 100), RequestState::kNeedMore);
  EXPECT_EQ(CheckRequest(post + "abcd", 100, 100), RequestState::kComplete);
  // Too large a body is left to the server (413); too large headers are refused here (431).
  EXPECT_EQ(CheckRequest(post, 100, 2), RequestState::kComplete);
  EXPECT_EQ(CheckRequest(std::string(101, 'a'), 100, 100), RequestState::kHeadersTooLarge);
  EXPECT_EQ(CheckRequest("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 100, 100),
            RequestState::kComplete);
  EXPECT_TRUE(web::IsEventStreamRequest("GET /api/events HTTP/1.1\r\n"));
  EXPECT_TRUE(web::IsEventStreamRequest("GET /api/events?x=1 HTTP/1.1\r\n"));
  EXPECT_FALSE(web::IsEventStreamRequest("GET /api/eventsx HTTP/1.1\r\n"));
  EXPECT_FALSE(web::IsEventStreamRequest("POST /api/events HTTP/1.1\r\n"));
}

class WebHostileTest : public ::testing::Test {
 protected:
  void Start(ProvdOptions o) {
    o.data_dir = dir_.path() + "/data";
    o.web_address = "127.0.0.1:0";
    o.metrics_address = "127.0.0.1:0";
    auto server = ProvdServer::Start(std::move(o));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    admin_ = CreateBearerChannel("127.0.0.1:" + std::to_string(server_->port()),
                                 grpc::InsecureChannelCredentials(), server_->internal_token());
    viewer_ = Issue("vera", ROLE_VIEWER);
  }
  std::string Issue(const std::string& name, Role role) {
    grpc::ClientContext ctx;
    IssueTokenRequest req;
    req.set_name(name);
    req.set_role(role);
    IssueTokenResponse resp;
    grpc::Status s = AccessService::NewStub(admin_)->IssueToken(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.token();
  }
  std::string Metrics() {
    httplib::Client client("127.0.0.1", server_->metrics_port());
    auto r = client.Get("/metrics");
    return r ? r->body : "";
  }

  testing::TempDir dir_;
  std::unique_ptr<ProvdServer> server_;
  std::shared_ptr<grpc::Channel> admin_;
  std::string viewer_;
};

// 24 connections trickling header bytes took the dashboard offline; 40 must leave it answering.
TEST_F(WebHostileTest, SlowHeaderClientsDoNotTakeTheDashboardOffline) {
  ProvdOptions o;
  o.web_max_event_streams = 2;
  o.web_header_timeout = absl::Seconds(2);
  Start(std::move(o));
  const int port = server_->web_port();
  std::vector<int> slow;
  for (int i = 0; i < 40; ++i) {
    int fd = ConnectFrom("127.0.0." + std::to_string(10 + i), port);
    ASSERT_GE(fd, 0);
    send(fd, "GET / HTTP/1.1\r\nHo", 18, MSG_NOSIGNAL);  // and never the rest
    slow.push_back(fd);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // let them all be accepted
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) {
    std::string reply = GetFrom("127.0.0.1", port, "/api/whoami", viewer_);
    EXPECT_THAT(reply, HasSubstr("HTTP/1.1 200")) << reply;
    EXPECT_THAT(reply, HasSubstr("token:vera")) << reply;
  }
  const auto took = std::chrono::steady_clock::now() - start;
  // Well inside the header timeout: answered beside the slow clients, not after they were cut.
  EXPECT_LT(took, std::chrono::milliseconds(1000));
  // Each slow client is cut off after the header timeout with 408.
  for (int fd : slow) {
    EXPECT_THAT(ReadAll(fd), HasSubstr("HTTP/1.1 408"));
    close(fd);
  }
  EXPECT_EQ(server_->web_connection_counters().timed_out, 40u);
}

TEST_F(WebHostileTest, ConnectionsPerAddressAreLimited) {
  ProvdOptions o;
  o.web_max_connections_per_peer = 4;
  Start(std::move(o));
  const int port = server_->web_port();
  std::vector<int> held;
  for (int i = 0; i < 4; ++i) {
    int fd = ConnectFrom("127.0.0.5", port);
    ASSERT_GE(fd, 0);
    held.push_back(fd);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::string refused = GetFrom("127.0.0.5", port, "/api/whoami", viewer_);
  EXPECT_THAT(refused, HasSubstr("HTTP/1.1 429")) << refused;
  EXPECT_THAT(GetFrom("127.0.0.1", port, "/api/whoami", viewer_), HasSubstr("HTTP/1.1 200"));
  for (int fd : held) close(fd);
  EXPECT_EQ(server_->web_connection_counters().refused_per_peer, 1u);
}

TEST_F(WebHostileTest, FailedHttpLoginsAreRateLimitedPerAddress) {
  ProvdOptions o;
  o.auth_fail_burst = 5;
  o.auth_fail_per_second = 0.01;
  Start(std::move(o));
  const int port = server_->web_port();
  for (int i = 0; i < 5; ++i) {
    EXPECT_THAT(GetFrom("127.0.0.7", port, "/api/whoami", "prov_guess"), HasSubstr("HTTP/1.1 401"));
  }
  std::string limited = GetFrom("127.0.0.7", port, "/api/whoami", "prov_guess");
  EXPECT_THAT(limited, HasSubstr("HTTP/1.1 429")) << limited;
  EXPECT_THAT(limited, HasSubstr("Retry-After: 100")) << limited;
  EXPECT_THAT(limited, HasSubstr("too many failed authentications from 127.0.0.7")) << limited;
  // Refused unchecked, even with a valid token, from that address; live streams too.
  EXPECT_THAT(GetFrom("127.0.0.7", port, "/api/whoami", viewer_), HasSubstr("HTTP/1.1 429"));
  EXPECT_THAT(GetFrom("127.0.0.7", port, "/api/events", viewer_), HasSubstr("HTTP/1.1 429"));
  // A valid token from elsewhere is unaffected.
  EXPECT_THAT(GetFrom("127.0.0.8", port, "/api/whoami", viewer_), HasSubstr("HTTP/1.1 200"));
  EXPECT_THAT(Metrics(), HasSubstr("prov_auth_rate_limited_total 3"));
}

// Whether this machine has an IPv6 loopback to listen on.
bool HaveIpv6Loopback() {
  int fd = socket(AF_INET6, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  close(fd);
  return ok;
}

TEST_F(WebHostileTest, FailedGrpcAuthIsRateLimitedPerAddress) {
  if (!HaveIpv6Loopback()) GTEST_SKIP() << "no IPv6 loopback here";
  ProvdOptions o;
  o.listen_address = "[::]:0";  // dual stack: 127.0.0.1 and ::1 are two peers
  o.auth_fail_burst = 5;
  o.auth_fail_per_second = 0.01;
  Start(std::move(o));
  auto whoami = [&](const std::string& host, const std::string& token) {
    auto channel = CreateBearerChannel(host + ":" + std::to_string(server_->port()),
                                       grpc::InsecureChannelCredentials(), token);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    Principal resp;
    return AccessService::NewStub(channel)->WhoAmI(&ctx, WhoAmIRequest(), &resp);
  };
  if (whoami("[::1]", viewer_).error_code() == grpc::StatusCode::UNAVAILABLE) {
    GTEST_SKIP() << "no IPv6 loopback here";
  }
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(whoami("127.0.0.1", "prov_guess").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  grpc::Status limited = whoami("127.0.0.1", "prov_guess");
  EXPECT_EQ(limited.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(limited.error_message(), HasSubstr("too many failed authentications from 127.0.0.1"));
  EXPECT_EQ(whoami("127.0.0.1", viewer_).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(whoami("[::1]", viewer_).ok());  // another address
  // provd's own in-process channel (the dashboard's back end, which limits by the browser's
  // address itself) is not limited by gRPC.
  for (int i = 0; i < 10; ++i) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer prov_guess");
    Principal resp;
    EXPECT_EQ(AccessService::NewStub(server_->InProcessChannel())
                  ->WhoAmI(&ctx, WhoAmIRequest(), &resp)
                  .error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  EXPECT_THAT(Metrics(), HasSubstr(R"(prov_auth_failures_total{reason="rate_limited"} 2)"));
}

TEST_F(WebHostileTest, ViewersRefusedAdminCallsAreAudited) {
  ProvdOptions o;
  o.denied_audit_per_minute = 3;
  Start(std::move(o));
  auto viewer = CreateBearerChannel("127.0.0.1:" + std::to_string(server_->port()),
                                    grpc::InsecureChannelCredentials(), viewer_);
  for (int i = 0; i < 5; ++i) {
    grpc::ClientContext ctx;
    IssueTokenRequest req;
    req.set_name("mallory");
    req.set_role(ROLE_ADMIN);
    IssueTokenResponse resp;
    EXPECT_EQ(AccessService::NewStub(viewer)->IssueToken(&ctx, req, &resp).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  auto reader = AuditLogReader::Open(dir_.path() + "/data/provd.db");
  ASSERT_TRUE(reader.ok()) << reader.status();
  auto entries = (*reader)->List(0, 100, "access.denied");
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 3u);
  EXPECT_EQ((*entries)[0].actor, "token:vera");
  EXPECT_EQ((*entries)[0].payload,
            R"({"need":"admin","role":"viewer","rpc":"/provenance.v1.AccessService/IssueToken"})");
  EXPECT_THAT(Metrics(), HasSubstr(R"(prov_audit_denied_entries_total{outcome="suppressed"} 2)"));
}

}  // namespace
}  // namespace prov::server
