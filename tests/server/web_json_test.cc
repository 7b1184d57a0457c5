// The dashboard gateway's pure parts: query parameters and bodies to request protos, gRPC codes
// to HTTP statuses, response JSON, address parsing and the embedded/disk asset lookup.
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "provenance/v1/analysis.pb.h"
#include "provenance/v1/compliance.pb.h"
#include "server/web/grpc_json.h"
#include "server/web/web_assets.h"
#include "server/web/web_server.h"
#include "tests/server/temp_dir.h"

namespace prov::server::web {
namespace {

using ::testing::HasSubstr;
using namespace provenance::v1;

TEST(GrpcJsonTest, QueryParametersFillTheRequest) {
  ListFlagsRequest req;
  ASSERT_TRUE(QueryToMessage({{"min_severity", "SEVERITY_HIGH"},
                              {"status", "2"},
                              {"rule", "compute_tier:"},
                              {"datacenter", "dc \"east\""},
                              {"limit", "25"}},
                             &req)
                  .ok());
  EXPECT_EQ(req.min_severity(), SEVERITY_HIGH);
  EXPECT_EQ(req.status(), FLAG_STATUS_ACKNOWLEDGED);
  EXPECT_EQ(req.rule(), "compute_tier:");
  EXPECT_EQ(req.datacenter(), "dc \"east\"");
  EXPECT_EQ(req.limit(), 25u);

  WatchFlagsRequest watch;
  ASSERT_TRUE(QueryToMessage({{"include_existing", "true"}}, &watch).ok());
  EXPECT_TRUE(watch.include_existing());

  provenance::v1::GetAccountUsageRequest usage;
  ASSERT_TRUE(QueryToMessage({{"since", "2026-12-01T00:00:00Z"}}, &usage).ok());
  EXPECT_EQ(usage.since().seconds(), 1796083200);
}

TEST(GrpcJsonTest, BadParametersNameTheParameter) {
  ListFlagsRequest req;
  absl::Status s = QueryToMessage({{"severity", "SEVERITY_HIGH"}}, &req);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("severity"));
  s = QueryToMessage({{"min_severity", "SEVERE"}}, &req);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("min_severity"));
  s = QueryToMessage({{"limit", "ten"}}, &req);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  s = QueryToMessage({{"limit", "1"}, {"limit", "2"}}, &req);
  EXPECT_THAT(std::string(s.message()), HasSubstr("more than once"));
  WatchFlagsRequest watch;
  EXPECT_FALSE(QueryToMessage({{"include_existing", "yes"}}, &watch).ok());
  // Percent-decoded bytes that are not UTF-8 (found by fuzz_web_query): a 400 naming the
  // parameter, not an exception out of the JSON writer.
  s = QueryToMessage({{"rule",
                       "compute_t\x93\x9a\x8d\xda"
                       "3A"}},
                     &req);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("rule: value is not valid UTF-8"));
}

TEST(GrpcJsonTest, BodiesAndPathFields) {
  UpdateCaseRequest req;
  ASSERT_TRUE(BodyToMessage(R"({"action":"resolve","disposition":"DISPOSITION_LICENSED",
                                "expected_revision":"3"})",
                            &req)
                  .ok());
  ASSERT_TRUE(SetStringField("flag_id", "F-000007", &req).ok());
  EXPECT_EQ(req.action(), "resolve");
  EXPECT_EQ(req.disposition(), DISPOSITION_LICENSED);
  EXPECT_EQ(req.expected_revision(), 3u);
  EXPECT_EQ(req.flag_id(), "F-000007");
  EXPECT_FALSE(BodyToMessage(R"({"actor":"someone else"})", &req).ok());
  EXPECT_FALSE(BodyToMessage("not json", &req).ok());
}

TEST(GrpcJsonTest, StatusesAndErrorBodies) {
  EXPECT_EQ(HttpStatusFor(grpc::StatusCode::UNAUTHENTICATED), 401);
  EXPECT_EQ(HttpStatusFor(grpc::StatusCode::PERMISSION_DENIED), 403);
  EXPECT_EQ(HttpStatusFor(grpc::StatusCode::NOT_FOUND), 404);
  EXPECT_EQ(HttpStatusFor(grpc::StatusCode::INVALID_ARGUMENT), 400);
  EXPECT_EQ(HttpStatusFor(grpc::StatusCode::FAILED_PRECONDITION), 409);
  EXPECT_EQ(HttpStatusFor(grpc::StatusCode::INTERNAL), 500);
  HttpReply r = ErrorReply(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "needs \"analyst\""));
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.body, R"({"error":{"code":"PERMISSION_DENIED","message":"needs \"analyst\""}})");
}

TEST(GrpcJsonTest, ResponsesCarryDefaultsAndProtoNames) {
  Flag f;
  f.set_flag_id("F-1");
  const std::string json = MessageJson(f);
  EXPECT_THAT(json, HasSubstr(R"("flag_id":"F-1")"));
  EXPECT_THAT(json, HasSubstr(R"("severity":"SEVERITY_UNSPECIFIED")"));
  EXPECT_THAT(json, HasSubstr(R"("accounts":[])"));
  EXPECT_EQ(json.find('\n'), std::string::npos);  // one line: one SSE data field
}

TEST(WebServerTest, ParsesAddresses) {
  auto v4 = ParseHostPort("127.0.0.1:8080");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->first, "127.0.0.1");
  EXPECT_EQ(v4->second, 8080);
  auto v6 = ParseHostPort("[::1]:0");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->first, "::1");
  EXPECT_FALSE(ParseHostPort("8080").ok());
  EXPECT_FALSE(ParseHostPort("host:99999").ok());
  EXPECT_FALSE(ParseHostPort(":80").ok());
  EXPECT_FALSE(ParseHostPort("::1:80").ok());
}

TEST(WebAssetsTest, EmbeddedFilesAreThereAndPathsAreChecked) {
  WebAssets assets;
  auto index = assets.Find("index.html");
  ASSERT_TRUE(index.has_value());
  EXPECT_EQ(index->content_type, "text/html; charset=utf-8");
  EXPECT_THAT(index->body, HasSubstr("js/app.js"));
  auto app = assets.Find("js/app.js");
  ASSERT_TRUE(app.has_value());
  EXPECT_EQ(app->content_type, "text/javascript; charset=utf-8");
  EXPECT_THAT(WebAssets::EmbeddedPaths(), ::testing::Contains("app.css"));
  EXPECT_FALSE(assets.Find("../CMakeLists.txt").has_value());
  EXPECT_FALSE(assets.Find("/etc/passwd").has_value());
  EXPECT_FALSE(assets.Find("nope.js").has_value());
}

TEST(WebAssetsTest, DiskFolderForDevelopment) {
  testing::TempDir dir;
  std::ofstream(dir.path() + "/index.html") << "<p>dev</p>";
  WebAssets assets(dir.path());
  auto index = assets.Find("index.html");
  ASSERT_TRUE(index.has_value());
  EXPECT_EQ(index->body, "<p>dev</p>");
  EXPECT_FALSE(assets.Find("../provd.db").has_value());
}

}  // namespace
}  // namespace prov::server::web
