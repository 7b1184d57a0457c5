// provd's web dashboard over real HTTP (cpp-httplib client) against an in-process ProvdServer:
// anonymous visitors get 401 and no data, a viewer reads but cannot change a case (403), an
// analyst works it, bad requests name the field, and the live feed (SSE) pushes flag changes,
// is bounded, and ends when provd shuts down.
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "common/grpc/bearer_channel.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "provenance/v1/compliance.grpc.pb.h"
#include "server/provd_server.h"
#include "tests/server/agent_stream.h"
#include "tests/server/temp_dir.h"
#include "tests/server/test_reports.h"

namespace prov::server {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace provenance::v1;

const absl::Time kT0 = absl::FromUnixSeconds(1'796'083'200);  // 2026-12-01 00:00 UTC

// A node training on an Ascend 910: the default policy's restricted_hardware rule flags it.
NodeReport AscendReport(uint64_t seq) {
  NodeReport r = testing::MakeReport("node-asc", "boot-1", seq, kT0 + absl::Seconds(10 * seq));
  for (auto& a : *r.mutable_accelerators()) {
    a.set_vendor_id(0x19e5);
    a.set_device_id(0xd801);
    a.set_vendor("huawei");
    a.set_model("Ascend 910");
    a.set_family("ascend");
  }
  return r;
}

// Reads GET /api/events on its own thread and keeps what arrived.
class EventReader {
 public:
  EventReader(int port, const std::string& token) {
    thread_ = std::thread([this, port, token] {
      httplib::Client client("127.0.0.1", port);
      client.set_read_timeout(30, 0);
      httplib::Headers headers = {{"Authorization", "Bearer " + token}};
      auto result = client.Get("/api/events", headers, [this](const char* data, size_t len) {
        absl::MutexLock lock(&mu_);
        text_.append(data, len);
        return !stop_;
      });
      absl::MutexLock lock(&mu_);
      status_ = result ? result->status : -1;
      done_ = true;
    });
  }
  ~EventReader() {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
    }
    thread_.join();
  }
  // Waits until the stream's text contains `needle` (or the stream ends).
  bool WaitFor(const std::string& needle, absl::Duration timeout = absl::Seconds(20)) {
    absl::MutexLock lock(&mu_);
    auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return done_ || text_.find(needle) != std::string::npos;
    };
    mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
    return text_.find(needle) != std::string::npos;
  }
  bool WaitDone(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&done_), timeout);
    return done_;
  }
  std::string text() {
    absl::MutexLock lock(&mu_);
    return text_;
  }

 private:
  absl::Mutex mu_;
  std::string text_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  int status_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

class WebServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ProvdOptions o;
    o.data_dir = dir_.path() + "/data";
    o.web_address = "127.0.0.1:0";
    o.web_max_event_streams = 2;
    auto server = ProvdServer::Start(std::move(o));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    ASSERT_GT(server_->web_port(), 0);
    const std::string address = "127.0.0.1:" + std::to_string(server_->port());
    admin_ =
        CreateBearerChannel(address, grpc::InsecureChannelCredentials(), server_->internal_token());
    viewer_ = Issue("vera", ROLE_VIEWER);
    analyst_ = Issue("ann", ROLE_ANALYST);
    testing::AgentStream stream(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
    stream.Write(AscendReport(1));
    stream.Write(AscendReport(2));
    ASSERT_TRUE(stream.WaitCommitted("boot-1", 2));
    stream.Finish();
    server_->FlushAnalysis();
    http_ = std::make_unique<httplib::Client>("127.0.0.1", server_->web_port());
    http_->set_read_timeout(30, 0);
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

  httplib::Result Get(const std::string& path, const std::string& token) {
    httplib::Headers headers;
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    return http_->Get(path.c_str(), headers);
  }
  httplib::Result Post(const std::string& path, const std::string& token, const json& body) {
    httplib::Headers headers = {{"Authorization", "Bearer " + token}};
    return http_->Post(path.c_str(), headers, body.dump(), "application/json");
  }
  std::string RestrictedFlagId() {
    auto r = Get("/api/flags?rule=restricted_hardware:", viewer_);
    EXPECT_TRUE(r && r->status == 200);
    if (!r) return "";
    json flags = json::parse(r->body)["flags"];
    EXPECT_EQ(flags.size(), 1u) << r->body;
    return flags.empty() ? "" : flags[0]["flag_id"].get<std::string>();
  }

  testing::TempDir dir_;
  std::unique_ptr<ProvdServer> server_;
  std::shared_ptr<grpc::Channel> admin_;
  std::string viewer_, analyst_;
  std::unique_ptr<httplib::Client> http_;
};

TEST_F(WebServerTest, AnonymousVisitorsGetTheLoginPageAndNoData) {
  for (const char* path : {"/api/overview", "/api/flags", "/api/nodes", "/api/accounts/acme",
                           "/api/events", "/api/whoami"}) {
    auto r = Get(path, "");
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 401) << path;
    EXPECT_THAT(r->body, HasSubstr("UNAUTHENTICATED")) << path;
    EXPECT_THAT(r->body, Not(HasSubstr("node-asc"))) << path;
    EXPECT_EQ(r->get_header_value("WWW-Authenticate"), "Bearer realm=\"provd\"");
  }
  auto forged = Get("/api/overview", "prov_" + std::string(64, '0'));
  ASSERT_TRUE(forged);
  EXPECT_EQ(forged->status, 401);
  auto bad_header = http_->Get("/api/overview", {{"Authorization", "Basic dXNlcjpwdw=="}});
  ASSERT_TRUE(bad_header);
  EXPECT_EQ(bad_header->status, 401);

  auto page = Get("/", "");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_THAT(page->get_header_value("Content-Security-Policy"), HasSubstr("script-src 'self'"));
  EXPECT_THAT(page->body, Not(HasSubstr("node-asc")));
  auto script = Get("/js/app.js", "");
  ASSERT_TRUE(script);
  EXPECT_EQ(script->status, 200);
  EXPECT_EQ(script->get_header_value("Content-Type"), "text/javascript; charset=utf-8");
  auto missing = Get("/js/nothing.js", "");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
}

TEST_F(WebServerTest, ViewerReadsButCannotChangeACase) {
  auto who = Get("/api/whoami", viewer_);
  ASSERT_TRUE(who);
  EXPECT_EQ(json::parse(who->body)["role"], "ROLE_VIEWER");
  auto overview = Get("/api/overview", viewer_);
  ASSERT_TRUE(overview);
  ASSERT_EQ(overview->status, 200) << overview->body;
  json o = json::parse(overview->body);
  EXPECT_EQ(o["nodes"], 1);
  EXPECT_EQ(o["accelerators"], 2);
  EXPECT_EQ(o["accelerator_groups"][0]["vendor"], "huawei");
  EXPECT_EQ(overview->get_header_value("Cache-Control"), "no-store");

  const std::string flag_id = RestrictedFlagId();
  ASSERT_FALSE(flag_id.empty());
  auto detail = Get("/api/flags/" + flag_id, viewer_);
  ASSERT_TRUE(detail);
  EXPECT_EQ(detail->status, 200);
  EXPECT_EQ(json::parse(detail->body)["flag"]["status"], "FLAG_STATUS_OPEN");

  auto change = Post("/api/cases/" + flag_id, viewer_, {{"action", "acknowledge"}});
  ASSERT_TRUE(change);
  EXPECT_EQ(change->status, 403);
  EXPECT_THAT(change->body, HasSubstr("PERMISSION_DENIED"));
  EXPECT_THAT(change->body, HasSubstr("analyst"));
  auto after = Get("/api/flags/" + flag_id, viewer_);
  ASSERT_TRUE(after);
  EXPECT_EQ(json::parse(after->body)["flag"]["status"], "FLAG_STATUS_OPEN");
}

TEST_F(WebServerTest, AnalystWorksTheCase) {
  const std::string flag_id = RestrictedFlagId();
  ASSERT_FALSE(flag_id.empty());
  auto ack = Post("/api/cases/" + flag_id, analyst_,
                  {{"action", "acknowledge"}, {"note", "checking the node"}});
  ASSERT_TRUE(ack);
  ASSERT_EQ(ack->status, 200) << ack->body;
  json c = json::parse(ack->body);
  EXPECT_EQ(c["status"], "FLAG_STATUS_ACKNOWLEDGED");
  EXPECT_EQ(c["actions"][0]["actor"], "token:ann");
  EXPECT_EQ(c["actions"][0]["note"], "checking the node");

  auto again = Post("/api/cases/" + flag_id, analyst_, {{"action", "acknowledge"}});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 409) << again->body;  // FAILED_PRECONDITION: already acknowledged
  auto no_disposition = Post("/api/cases/" + flag_id, analyst_, {{"action", "resolve"}});
  ASSERT_TRUE(no_disposition);
  EXPECT_EQ(no_disposition->status, 400) << no_disposition->body;
  auto resolve = Post("/api/cases/" + flag_id, analyst_,
                      {{"action", "resolve"}, {"disposition", "DISPOSITION_CONFIRMED"}});
  ASSERT_TRUE(resolve);
  EXPECT_EQ(resolve->status, 200) << resolve->body;
  auto flag = Get("/api/flags/" + flag_id, viewer_);
  ASSERT_TRUE(flag);
  json f = json::parse(flag->body)["flag"];
  EXPECT_EQ(f["status"], "FLAG_STATUS_RESOLVED");
  EXPECT_EQ(f["disposition"], "DISPOSITION_CONFIRMED");
}

TEST_F(WebServerTest, BadRequestsNameTheProblem) {
  auto bad_enum = Get("/api/flags?min_severity=SEVERE", viewer_);
  ASSERT_TRUE(bad_enum);
  EXPECT_EQ(bad_enum->status, 400);
  EXPECT_THAT(bad_enum->body, HasSubstr("min_severity"));
  auto unknown = Get("/api/flags?colour=red", viewer_);
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 400);
  EXPECT_THAT(unknown->body, HasSubstr("colour"));
  auto no_flag = Get("/api/flags/F-999999", viewer_);
  ASSERT_TRUE(no_flag);
  EXPECT_EQ(no_flag->status, 404);
  auto no_route = Get("/api/nothing", viewer_);
  ASSERT_TRUE(no_route);
  EXPECT_EQ(no_route->status, 404);
  auto wrong_method = Post("/api/flags", viewer_, json::object());
  ASSERT_TRUE(wrong_method);
  EXPECT_EQ(wrong_method->status, 405);
  auto bad_body = http_->Post(("/api/cases/F-000001"), {{"Authorization", "Bearer " + analyst_}},
                              "{not json", "application/json");
  ASSERT_TRUE(bad_body);
  EXPECT_EQ(bad_body->status, 400);
  auto series = Get("/api/accounts/acme/usage?bucket_hours=24", viewer_);
  ASSERT_TRUE(series);
  EXPECT_EQ(series->status, 200) << series->body;
  EXPECT_EQ(json::parse(series->body)["bucket_hours"], 24);
}

TEST_F(WebServerTest, LiveFeedPushesFlagChangesIsBoundedAndEndsOnShutdown) {
  const std::string flag_id = RestrictedFlagId();
  ASSERT_FALSE(flag_id.empty());
  EventReader first(server_->web_port(), viewer_);
  ASSERT_TRUE(first.WaitFor("event: hello")) << first.text();
  EXPECT_THAT(first.text(), HasSubstr("ROLE_VIEWER"));
  ASSERT_TRUE(first.WaitFor("event: overview")) << first.text();

  auto ack = Post("/api/cases/" + flag_id, analyst_, {{"action", "acknowledge"}});
  ASSERT_TRUE(ack);
  ASSERT_EQ(ack->status, 200);
  ASSERT_TRUE(first.WaitFor("FLAG_STATUS_ACKNOWLEDGED")) << first.text();
  EXPECT_THAT(first.text(), HasSubstr("event: flag\ndata: {\"flag_id\":\"" + flag_id));

  // Two streams at most (web_max_event_streams); a third is refused, not queued.
  EventReader second(server_->web_port(), analyst_);
  ASSERT_TRUE(second.WaitFor("event: hello"));
  auto third = Get("/api/events", viewer_);
  ASSERT_TRUE(third);
  EXPECT_EQ(third->status, 503);

  const auto start = std::chrono::steady_clock::now();
  server_->Shutdown();
  EXPECT_TRUE(first.WaitDone(absl::Seconds(10)));
  EXPECT_TRUE(second.WaitDone(absl::Seconds(10)));
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(took, std::chrono::seconds(5));
  EXPECT_THAT(first.text(), HasSubstr("event: end"));
  EXPECT_THAT(first.text(), HasSubstr("provd is stopping"));
}

}  // namespace
}  // namespace prov::server
