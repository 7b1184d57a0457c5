// ApiGateway: the dashboard's JSON API, a thin gateway onto provd's own gRPC services. Every
// request's Authorization header ("Bearer <token>") is forwarded as `authorization` metadata on
// an in-process gRPC call, so the services' own checks (server/access/authenticator.h) decide:
// no or unknown token -> 401, a role too low -> 403, and the data never leaves the service.
//
//   ApiGateway gateway(server->InProcessChannel());
//   HttpReply reply = gateway.Handle({.method = "GET", .path = "/api/flags",
//                                     .query = {{"status", "FLAG_STATUS_OPEN"}},
//                                     .authorization = "Bearer prov_..."});
//
// Routes (GET unless said; query parameters are the request message's fields, see grpc_json.h):
//   /api/whoami                  AccessService.WhoAmI
//   /api/overview                AuditService.GetFleetOverview
//   /api/nodes[/<node_id>]       AuditService.ListNodes / GetNode
//   /api/workloads               AuditService.ListWorkloads
//   /api/accelerators            AuditService.ListAccelerators
//   /api/usage                   AuditService.GetAccountUsage
//   /api/accounts/<id>           IdentityService.GetAccount
//   /api/accounts/<id>/usage     AuditService.GetAccountUsageSeries
//   /api/flags[/<flag_id>]       AnalysisService.ListFlags / GetFlag
//   /api/bundles[/<bundle_id>]   AnalysisService.ListBundles / GetBundle
//   /api/cases                   CaseService.ListCases
//   /api/cases/<flag_id>         CaseService.GetCase; POST: UpdateCase (body: UpdateCaseRequest)
//   /api/policy                  IdentityService.GetPolicy
//   /api/inventory[/<serial>]    InventoryService.ListInventory / GetInventory
//   /api/inventory-view          InventoryService.GetInventoryView (declared vs observed, paged)
//   /api/locations[/<node_id>]   LocationService.ListNodeLocations / GetNodeLocation
//   /api/landmarks               LocationService.ListLandmarks
// Answers: 200 with the response message as proto3 JSON, or {"error":{"code","message"}} with
// the HTTP status of the gRPC code (grpc_json.h). Thread-safe (gRPC stubs are).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "provenance/v1/analysis.grpc.pb.h"
#include "provenance/v1/audit.grpc.pb.h"
#include "provenance/v1/compliance.grpc.pb.h"
#include "provenance/v1/inventory.grpc.pb.h"
#include "provenance/v1/location.grpc.pb.h"
#include "server/web/http_types.h"

namespace prov::server::web {

class ApiGateway {
 public:
  struct Options {
    absl::Duration deadline = absl::Seconds(30);  // per gRPC call
  };
  explicit ApiGateway(std::shared_ptr<grpc::Channel> channel) : ApiGateway(channel, Options()) {}
  ApiGateway(std::shared_ptr<grpc::Channel> channel, Options options);

  HttpReply Handle(const HttpCall& call) const;

  // Who the Authorization header belongs to (the event stream checks this before streaming).
  grpc::Status WhoAmI(const std::string& authorization, provenance::v1::Principal* who) const;
  // Adds the forwarded credential (and, for unary calls, the deadline) to a client context. A
  // header gRPC cannot carry is dropped, so the call is simply unauthenticated.
  void Prepare(grpc::ClientContext& context, const std::string& authorization,
               bool with_deadline = true) const;

  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }

 private:
  using PathFields = std::vector<std::pair<std::string, std::string>>;
  template <typename Stub, typename Req, typename Resp>
  HttpReply Unary(Stub& stub, grpc::Status (Stub::*rpc)(grpc::ClientContext*, const Req&, Resp*),
                  const HttpCall& call, const PathFields& path_fields) const;

  std::shared_ptr<grpc::Channel> channel_;
  Options options_;
  std::unique_ptr<provenance::v1::AuditService::Stub> audit_;
  std::unique_ptr<provenance::v1::AnalysisService::Stub> analysis_;
  std::unique_ptr<provenance::v1::IdentityService::Stub> identity_;
  std::unique_ptr<provenance::v1::CaseService::Stub> cases_;
  std::unique_ptr<provenance::v1::AccessService::Stub> access_;
  std::unique_ptr<provenance::v1::InventoryService::Stub> inventory_;
  std::unique_ptr<provenance::v1::LocationService::Stub> location_;
};

// Whether an Authorization header value can travel as gRPC metadata (printable ASCII, <= 4 KiB).
bool ForwardableCredential(const std::string& authorization);

}  // namespace prov::server::web
