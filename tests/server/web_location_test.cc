// The dashboard gateway's location routes (/api/locations, /api/locations/<node>, /api/landmarks)
// against a LocationService double on a real in-process gRPC server: each route reaches the right
// RPC with the path and query in the request, the caller's Authorization header travels as
// metadata, and the service's refusal becomes the HTTP status. (provd's real LocationService
// lands on another branch; the lead adds the test against it after the merge.)
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "provenance/v1/location.grpc.pb.h"
#include "server/web/api_gateway.h"

namespace prov::server::web {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace provenance::v1;

constexpr char kToken[] = "Bearer prov_viewer";

// Answers only calls carrying kToken, and remembers what it was asked.
class FakeLocationService final : public LocationService::Service {
 public:
  grpc::Status GetNodeLocation(grpc::ServerContext* ctx, const GetNodeLocationRequest* req,
                               NodeLocation* resp) override {
    if (!Authorized(ctx)) return Unauthenticated();
    if (req->node_id() != "gpu-2")
      return {grpc::StatusCode::NOT_FOUND, "no node " + req->node_id()};
    resp->set_node_id(req->node_id());
    resp->set_verdict(LOCATION_VERDICT_CONTRADICTED);
    auto* d = resp->add_disks();
    d->set_landmark_id("lm-nyc");
    d->set_radius_km(200);
    return grpc::Status::OK;
  }
  grpc::Status ListNodeLocations(grpc::ServerContext* ctx, const ListNodeLocationsRequest* req,
                                 ListNodeLocationsResponse* resp) override {
    if (!Authorized(ctx)) return Unauthenticated();
    last_list = *req;
    resp->add_nodes()->set_node_id("gpu-2");
    return grpc::Status::OK;
  }
  grpc::Status ListLandmarks(grpc::ServerContext* ctx, const ListLandmarksRequest*,
                             ListLandmarksResponse* resp) override {
    if (!Authorized(ctx)) return Unauthenticated();
    resp->add_landmarks()->set_landmark_id("lm-fra");
    return grpc::Status::OK;
  }
  ListNodeLocationsRequest last_list;

 private:
  static bool Authorized(grpc::ServerContext* ctx) {
    auto it = ctx->client_metadata().find("authorization");
    return it != ctx->client_metadata().end() &&
           std::string(it->second.data(), it->second.size()) == kToken;
  }
  static grpc::Status Unauthenticated() {
    return {grpc::StatusCode::UNAUTHENTICATED, "no valid token"};
  }
};

class WebLocationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    gateway_ = std::make_unique<ApiGateway>(server_->InProcessChannel(grpc::ChannelArguments()));
  }
  void TearDown() override { server_->Shutdown(); }

  HttpReply Get(const std::string& path, std::multimap<std::string, std::string> query = {},
                const std::string& auth = kToken) {
    return gateway_->Handle(
        {.method = "GET", .path = path, .query = std::move(query), .authorization = auth});
  }

  FakeLocationService service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<ApiGateway> gateway_;
};

TEST_F(WebLocationTest, NodeLocationByPath) {
  HttpReply r = Get("/api/locations/gpu-2");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.body, HasSubstr("\"node_id\":\"gpu-2\""));
  EXPECT_THAT(r.body, HasSubstr("\"verdict\":\"LOCATION_VERDICT_CONTRADICTED\""));
  EXPECT_THAT(r.body, HasSubstr("\"landmark_id\":\"lm-nyc\""));
  EXPECT_EQ(Get("/api/locations/gpu-9").status, 404);
}

TEST_F(WebLocationTest, ListTakesItsFiltersFromTheQuery) {
  HttpReply r = Get("/api/locations", {{"verdict", "LOCATION_VERDICT_UNVERIFIED"}, {"limit", "7"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(service_.last_list.verdict(), LOCATION_VERDICT_UNVERIFIED);
  EXPECT_EQ(service_.last_list.limit(), 7u);
  EXPECT_THAT(r.body, HasSubstr("\"nodes\":[{\"node_id\":\"gpu-2\""));
  r = Get("/api/locations", {{"verdict", "PROBABLY"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("verdict"));
}

TEST_F(WebLocationTest, Landmarks) {
  HttpReply r = Get("/api/landmarks");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.body, HasSubstr("\"landmark_id\":\"lm-fra\""));
}

TEST_F(WebLocationTest, CredentialIsForwardedAndRefusalsKeepTheirStatus) {
  for (const char* path : {"/api/locations", "/api/locations/gpu-2", "/api/landmarks"}) {
    HttpReply r = Get(path, {}, "");
    EXPECT_EQ(r.status, 401) << path;
    EXPECT_THAT(r.body, Not(HasSubstr("gpu-2"))) << path;
    EXPECT_EQ(Get(path, {}, "Bearer someone_else").status, 401) << path;
  }
  HttpReply post =
      gateway_->Handle({.method = "POST", .path = "/api/locations/gpu-2", .authorization = kToken});
  EXPECT_EQ(post.status, 405);
}

}  // namespace
}  // namespace prov::server::web
