// The dashboard over HTTPS (issue 13, security defaults) against a real in-process ProvdServer:
// a verifying HTTPS client gets the pages and the API; plain HTTP to the TLS port gets a clear
// 400; clients that stall mid-handshake, or trickle headers after it, hold no worker, are cut
// at the header deadline and counted. Certificates come from an in-process test CA.
#include "server/web/web_tls.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/fs.h"
#include "common/grpc/bearer_channel.h"
#include "common/testing/fake_clock.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "provenance/v1/compliance.grpc.pb.h"
#include "server/provd_server.h"
#include "server/web/connection_gate.h"
#include "server/web/web_tls_reloader.h"
#include "tests/compliance/test_certs.h"
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
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof(src)) != 0 ||
      connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof(dst)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Raw bytes until the server closes (or 10 s of silence).
std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

// A blocking TLS client session on a connected socket (no verification: these tests look at
// the server's side of the connection). Empty when the handshake fails.
class RawTlsClient {
 public:
  explicit RawTlsClient(int fd) : fd_(fd), ctx_(SSL_CTX_new(TLS_client_method())) {
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    connected_ = SSL_connect(ssl_) == 1;
  }
  ~RawTlsClient() {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
    close(fd_);
  }
  bool connected() const { return connected_; }
  // The common name of the certificate the server presented ("" if none).
  std::string PeerCommonName() const {
    X509* peer = SSL_get1_peer_certificate(ssl_);
    if (peer == nullptr) return "";
    char cn[256] = {0};
    X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof(cn));
    X509_free(peer);
    return cn;
  }
  void Write(const std::string& bytes) { SSL_write(ssl_, bytes.data(), bytes.size()); }
  std::string ReadAll() {
    std::string out;
    char buf[4096];
    int n;
    while ((n = SSL_read(ssl_, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
    ERR_clear_error();
    return out;
  }

 private:
  int fd_;
  SSL_CTX* ctx_;
  SSL* ssl_ = nullptr;
  bool connected_ = false;
};

class WebTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pair = ca_.IssueWithKey("localhost", "DNS:localhost,IP:127.0.0.1", "serverAuth");
    cert_ = dir_.path() + "/web.pem";
    key_ = dir_.path() + "/web.key";
    ca_file_ = dir_.path() + "/ca.pem";
    ASSERT_TRUE(WriteFileAtomically(cert_, pair.cert_pem).ok());
    ASSERT_TRUE(WriteFileAtomically(key_, pair.key_pem).ok());
    ASSERT_TRUE(WriteFileAtomically(ca_file_, ca_.pem()).ok());
  }
  void Start(ProvdOptions o) {
    auto tls = web::WebTlsReloader::Create(
        {.cert_file = cert_, .key_file = key_, .check_every = absl::Seconds(10)}, reload_clock_);
    ASSERT_TRUE(tls.ok()) << tls.status();
    o.web_tls = *tls;
    o.data_dir = dir_.path() + "/data";
    o.web_address = "127.0.0.1:0";
    o.metrics_address = "127.0.0.1:0";
    auto server = ProvdServer::Start(std::move(o));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    auto admin = CreateBearerChannel("127.0.0.1:" + std::to_string(server_->port()),
                                     grpc::InsecureChannelCredentials(), server_->internal_token());
    grpc::ClientContext ctx;
    IssueTokenRequest req;
    req.set_name("vera");
    req.set_role(ROLE_VIEWER);
    IssueTokenResponse resp;
    grpc::Status s = AccessService::NewStub(admin)->IssueToken(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    viewer_ = resp.token();
  }
  // An HTTPS client that verifies provd's certificate against the test CA.
  std::unique_ptr<httplib::SSLClient> Https() {
    auto client = std::make_unique<httplib::SSLClient>("127.0.0.1", server_->web_port());
    client->set_ca_cert_path(ca_file_.c_str());
    client->enable_server_certificate_verification(true);
    client->set_connection_timeout(5);
    client->set_read_timeout(5);
    return client;
  }
  std::string Metrics() {
    httplib::Client client("127.0.0.1", server_->metrics_port());
    auto r = client.Get("/metrics");
    return r ? r->body : "";
  }

  testing::TempDir dir_;
  FakeClock reload_clock_;  // WebTlsReloader looks at the files every 10 s of it
  prov::testing::TestCa ca_{"web-ca"};
  std::string cert_, key_, ca_file_;
  std::unique_ptr<ProvdServer> server_;
  std::string viewer_;
};

TEST_F(WebTlsTest, HttpsClientGetsTheDashboardAndTheApi) {
  Start(ProvdOptions{});
  auto client = Https();
  client->set_keep_alive(true);  // several requests on one TLS connection
  auto page = client->Get("/");
  ASSERT_TRUE(page) << httplib::to_string(page.error()) << " verify "
                    << client->get_openssl_verify_result();
  EXPECT_EQ(page->status, 200);
  EXPECT_THAT(page->body, HasSubstr("<html"));
  EXPECT_EQ(page->get_header_value("X-Frame-Options"), "DENY");
  auto css = client->Get("/app.css");  // larger than one TLS record
  ASSERT_TRUE(css);
  EXPECT_EQ(css->status, 200);
  EXPECT_GT(css->body.size(), 8000u);
  auto who = client->Get("/api/whoami", {{"Authorization", "Bearer " + viewer_}});
  ASSERT_TRUE(who);
  EXPECT_EQ(who->status, 200);
  EXPECT_THAT(who->body, HasSubstr("token:vera"));
  auto denied = client->Get("/api/whoami");
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->status, 401);
  EXPECT_EQ(server_->web_connection_counters().accepted, 1u);  // all four on one connection
}

TEST_F(WebTlsTest, PlainHttpToTheHttpsPortGetsAClearError) {
  Start(ProvdOptions{});
  httplib::Client plain("127.0.0.1", server_->web_port());
  plain.set_read_timeout(5);
  auto r = plain.Get("/api/whoami", {{"Authorization", "Bearer " + viewer_}});
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 400);
  EXPECT_THAT(r->body, HasSubstr("This port speaks HTTPS only"));
  EXPECT_EQ(server_->web_connection_counters().tls_plain_http, 1u);
  EXPECT_THAT(Metrics(),
              HasSubstr("prov_web_connections_refused_total{reason=\"plain_http_on_tls\"} 1"));
  // A TLS client that is not speaking to us properly (garbage after the record header) fails.
  int fd = ConnectFrom("127.0.0.9", server_->web_port());
  ASSERT_GE(fd, 0);
  const std::string junk = std::string("\x16\x03\x01\x00\x05", 5) + "hello";
  send(fd, junk.data(), junk.size(), MSG_NOSIGNAL);
  ReadAll(fd);
  close(fd);
  EXPECT_EQ(server_->web_connection_counters().tls_handshake_failed, 1u);
}

// The slowloris of TLS: 30 clients that start a handshake and never finish it, from 30
// addresses, with every worker thread's worth of them and more. The poller drives handshakes,
// so pages keep loading beside them, and each is closed at the header deadline and counted.
TEST_F(WebTlsTest, StalledHandshakesHoldNoWorkerAndAreClosedAtTheDeadline) {
  ProvdOptions o;
  o.web_header_timeout = absl::Seconds(2);
  o.web_workers = 2;
  Start(std::move(o));
  const int port = server_->web_port();
  std::vector<int> stalled;
  // A TLS record header announcing a 512-byte ClientHello, then a few bytes of it.
  const std::string partial = std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11);
  for (int i = 0; i < 30; ++i) {
    int fd = ConnectFrom("127.0.0." + std::to_string(10 + i), port);
    ASSERT_GE(fd, 0);
    send(fd, partial.data(), partial.size(), MSG_NOSIGNAL);
    stalled.push_back(fd);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 3; ++i) {
    auto who = Https()->Get("/api/whoami", {{"Authorization", "Bearer " + viewer_}});
    ASSERT_TRUE(who) << httplib::to_string(who.error());
    EXPECT_EQ(who->status, 200);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1500));
  for (int fd : stalled) {
    const auto waited = std::chrono::steady_clock::now();
    EXPECT_EQ(ReadAll(fd), "");  // closed: nothing to say to a half-open session
    EXPECT_LT(std::chrono::steady_clock::now() - waited, std::chrono::seconds(5));
    close(fd);
  }
  EXPECT_EQ(server_->web_connection_counters().tls_handshake_timeout, 30u);
  EXPECT_THAT(Metrics(),
              HasSubstr("prov_web_connections_refused_total{reason=\"tls_handshake_timeout\"} 30"));
}

// After the handshake, a client trickling its headers is the ordinary slowloris: 408, through
// TLS, at the same deadline.
TEST_F(WebTlsTest, HeadersTrickledAfterTheHandshakeGet408) {
  ProvdOptions o;
  o.web_header_timeout = absl::Seconds(1);
  Start(std::move(o));
  RawTlsClient slow(ConnectFrom("127.0.0.3", server_->web_port()));
  ASSERT_TRUE(slow.connected());
  slow.Write("GET / HTTP/1.1\r\nHo");
  EXPECT_THAT(slow.ReadAll(), HasSubstr("HTTP/1.1 408"));
  EXPECT_EQ(server_->web_connection_counters().timed_out, 1u);
  EXPECT_EQ(server_->web_connection_counters().tls_handshake_timeout, 0u);
}

// A rotated certificate (new files in place, as cert-manager or certbot write them) is served to
// new connections once the reloader next looks, without a restart; a half-written rotation (the
// certificate replaced, its key not yet) keeps the previous certificate and is counted; once the
// key follows, the new pair is served.
TEST_F(WebTlsTest, RotatedCertificateIsServedToNewConnectionsWithoutARestart) {
  Start(ProvdOptions{});
  auto served_cn = [&] {
    RawTlsClient client(ConnectFrom("127.0.0.5", server_->web_port()));
    EXPECT_TRUE(client.connected());
    return client.PeerCommonName();
  };
  EXPECT_EQ(served_cn(), "localhost");

  auto rotated = ca_.IssueWithKey("rotated", "DNS:localhost,IP:127.0.0.1", "serverAuth");
  ASSERT_TRUE(WriteFileAtomically(cert_, rotated.cert_pem).ok());
  ASSERT_TRUE(WriteFileAtomically(key_, rotated.key_pem).ok());
  EXPECT_EQ(served_cn(), "localhost") << "not looked at before check_every has passed";
  reload_clock_.Advance(absl::Seconds(10));
  EXPECT_EQ(served_cn(), "rotated");
  EXPECT_EQ(server_->web_connection_counters().tls_reloads, 1u);

  auto third = ca_.IssueWithKey("third", "DNS:localhost,IP:127.0.0.1", "serverAuth");
  ASSERT_TRUE(WriteFileAtomically(cert_, third.cert_pem).ok());  // its key not written yet
  reload_clock_.Advance(absl::Seconds(10));
  EXPECT_EQ(served_cn(), "rotated") << "a certificate without its key must not replace the pair";
  reload_clock_.Advance(absl::Seconds(10));
  EXPECT_EQ(served_cn(), "rotated");
  EXPECT_EQ(server_->web_connection_counters().tls_reload_failures, 2u) << "tried at each check";
  ASSERT_TRUE(WriteFileAtomically(key_, third.key_pem).ok());
  reload_clock_.Advance(absl::Seconds(10));
  EXPECT_EQ(served_cn(), "third");
  EXPECT_EQ(server_->web_connection_counters().tls_reloads, 2u);
  EXPECT_THAT(Metrics(), HasSubstr("prov_web_tls_reloads_total{result=\"ok\"} 2"));
  EXPECT_THAT(Metrics(), HasSubstr("prov_web_tls_reloads_total{result=\"failed\"} 2"));
}

TEST(WebTlsContextTest, LoadNamesTheFileAndWhatIsWrong) {
  testing::TempDir dir;
  prov::testing::TestCa ca("web-ca");
  auto a = ca.IssueWithKey("a", "DNS:a", "serverAuth");
  auto b = ca.IssueWithKey("b", "DNS:b", "serverAuth");
  const std::string cert = dir.path() + "/a.pem", key = dir.path() + "/a.key",
                    other_key = dir.path() + "/b.key", junk = dir.path() + "/junk.pem",
                    encrypted = dir.path() + "/enc.key";
  ASSERT_TRUE(WriteFileAtomically(cert, a.cert_pem + ca.pem()).ok());  // leaf + chain
  ASSERT_TRUE(WriteFileAtomically(key, a.key_pem).ok());
  ASSERT_TRUE(WriteFileAtomically(other_key, b.key_pem).ok());
  ASSERT_TRUE(WriteFileAtomically(junk, "not a certificate\n").ok());
  ASSERT_TRUE(WriteFileAtomically(encrypted,
                                  "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMII=\n"
                                  "-----END ENCRYPTED PRIVATE KEY-----\n")
                  .ok());
  EXPECT_TRUE(web::WebTlsContext::Load(cert, key).ok());

  auto missing = web::WebTlsContext::Load(cert, dir.path() + "/none.key", "--c", "--k");
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(missing.status()));
  EXPECT_THAT(missing.status().message(), HasSubstr("--k: \"" + dir.path() + "/none.key\""));

  auto mismatched = web::WebTlsContext::Load(cert, other_key, "--c", "--k");
  ASSERT_FALSE(mismatched.ok());
  EXPECT_THAT(mismatched.status().message(),
              HasSubstr("--k: \"" + other_key + "\": the key does not match the certificate in"));

  auto not_pem = web::WebTlsContext::Load(junk, key, "--c", "--k");
  ASSERT_FALSE(not_pem.ok());
  EXPECT_THAT(not_pem.status().message(), HasSubstr("--c: \"" + junk + "\": no PEM certificate"));

  auto enc = web::WebTlsContext::Load(cert, encrypted, "--c", "--k");
  ASSERT_FALSE(enc.ok());
  EXPECT_THAT(enc.status().message(), HasSubstr("the key is encrypted"));
}

}  // namespace
}  // namespace prov::server
