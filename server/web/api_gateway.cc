#include "server/web/api_gateway.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/web/grpc_json.h"

namespace prov::server::web {
namespace {

using namespace provenance::v1;

HttpReply NotFound(const HttpCall& call) {
  return ErrorReply(404, "NOT_FOUND", absl::StrCat("no API route ", call.method, " ", call.path));
}

HttpReply MethodNotAllowed(const HttpCall& call) {
  return ErrorReply(405, "METHOD_NOT_ALLOWED",
                    absl::StrCat(call.method, " is not allowed on ", call.path));
}

}  // namespace

bool ForwardableCredential(const std::string& authorization) {
  if (authorization.size() > 4096) return false;
  for (char c : authorization) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

ApiGateway::ApiGateway(std::shared_ptr<grpc::Channel> channel, Options options)
    : channel_(std::move(channel)),
      options_(options),
      audit_(AuditService::NewStub(channel_)),
      analysis_(AnalysisService::NewStub(channel_)),
      identity_(IdentityService::NewStub(channel_)),
      cases_(CaseService::NewStub(channel_)),
      access_(AccessService::NewStub(channel_)),
      inventory_(InventoryService::NewStub(channel_)),
      location_(LocationService::NewStub(channel_)) {}

void ApiGateway::Prepare(grpc::ClientContext& context, const std::string& authorization,
                         bool with_deadline) const {
  if (!authorization.empty() && ForwardableCredential(authorization)) {
    context.AddMetadata("authorization", authorization);
  }
  if (!with_deadline) return;
  context.set_deadline(std::chrono::system_clock::now() +
                       absl::ToChronoMilliseconds(options_.deadline));
}

grpc::Status ApiGateway::WhoAmI(const std::string& authorization, Principal* who) const {
  grpc::ClientContext context;
  Prepare(context, authorization);
  return access_->WhoAmI(&context, WhoAmIRequest(), who);
}

template <typename Stub, typename Req, typename Resp>
HttpReply ApiGateway::Unary(Stub& stub,
                            grpc::Status (Stub::*rpc)(grpc::ClientContext*, const Req&, Resp*),
                            const HttpCall& call, const PathFields& path_fields) const {
  Req request;
  absl::Status parsed = call.method == "POST"
                            ? BodyToMessage(call.body.empty() ? "{}" : call.body, &request)
                            : QueryToMessage(call.query, &request);
  if (!parsed.ok()) return ErrorReply(400, "INVALID_ARGUMENT", std::string(parsed.message()));
  for (const auto& [field, value] : path_fields) {
    absl::Status set = SetStringField(field, value, &request);
    if (!set.ok()) return ErrorReply(500, "INTERNAL", std::string(set.message()));
  }
  grpc::ClientContext context;
  Prepare(context, call.authorization);
  Resp response;
  grpc::Status status = (stub.*rpc)(&context, request, &response);
  if (!status.ok()) return ErrorReply(status);
  HttpReply reply;
  reply.body = MessageJson(response);
  return reply;
}

HttpReply ApiGateway::Handle(const HttpCall& call) const {
  std::vector<std::string> parts;
  if (call.path.rfind("/api/", 0) == 0) {
    parts = absl::StrSplit(call.path.substr(5), '/');
  }
  if (parts.empty() || parts[0].empty() || parts.size() > 3) return NotFound(call);
  for (size_t i = 1; i < parts.size(); ++i) {
    if (parts[i].empty()) return NotFound(call);
  }
  const std::string& what = parts[0];
  const bool get = call.method == "GET";
  const bool post = call.method == "POST";
  const size_t n = parts.size();

  if (what == "cases" && n == 2) {
    if (post) return Unary(*cases_, &CaseService::Stub::UpdateCase, call, {{"flag_id", parts[1]}});
    if (get) return Unary(*cases_, &CaseService::Stub::GetCase, call, {{"flag_id", parts[1]}});
    return MethodNotAllowed(call);
  }
  if (!get) return MethodNotAllowed(call);

  if (n == 1) {
    if (what == "whoami") return Unary(*access_, &AccessService::Stub::WhoAmI, call, {});
    if (what == "overview") {
      return Unary(*audit_, &AuditService::Stub::GetFleetOverview, call, {});
    }
    if (what == "nodes") return Unary(*audit_, &AuditService::Stub::ListNodes, call, {});
    if (what == "workloads") return Unary(*audit_, &AuditService::Stub::ListWorkloads, call, {});
    if (what == "accelerators") {
      return Unary(*audit_, &AuditService::Stub::ListAccelerators, call, {});
    }
    if (what == "usage") return Unary(*audit_, &AuditService::Stub::GetAccountUsage, call, {});
    if (what == "flags") return Unary(*analysis_, &AnalysisService::Stub::ListFlags, call, {});
    if (what == "bundles") return Unary(*analysis_, &AnalysisService::Stub::ListBundles, call, {});
    if (what == "cases") return Unary(*cases_, &CaseService::Stub::ListCases, call, {});
    if (what == "policy") return Unary(*identity_, &IdentityService::Stub::GetPolicy, call, {});
    if (what == "inventory") {
      return Unary(*inventory_, &InventoryService::Stub::ListInventory, call, {});
    }
    if (what == "inventory-view") {
      return Unary(*inventory_, &InventoryService::Stub::GetInventoryView, call, {});
    }
    if (what == "locations") {
      return Unary(*location_, &LocationService::Stub::ListNodeLocations, call, {});
    }
    if (what == "landmarks") {
      return Unary(*location_, &LocationService::Stub::ListLandmarks, call, {});
    }
    return NotFound(call);
  }
  const std::string& id = parts[1];
  if (n == 2) {
    if (what == "nodes")
      return Unary(*audit_, &AuditService::Stub::GetNode, call, {{"node_id", id}});
    if (what == "accounts") {
      return Unary(*identity_, &IdentityService::Stub::GetAccount, call, {{"account_id", id}});
    }
    if (what == "flags") {
      return Unary(*analysis_, &AnalysisService::Stub::GetFlag, call, {{"flag_id", id}});
    }
    if (what == "bundles") {
      return Unary(*analysis_, &AnalysisService::Stub::GetBundle, call, {{"bundle_id", id}});
    }
    if (what == "inventory") {
      return Unary(*inventory_, &InventoryService::Stub::GetInventory, call, {{"serial", id}});
    }
    if (what == "locations") {
      return Unary(*location_, &LocationService::Stub::GetNodeLocation, call, {{"node_id", id}});
    }
    return NotFound(call);
  }
  if (what == "accounts" && parts[2] == "usage") {
    return Unary(*audit_, &AuditService::Stub::GetAccountUsageSeries, call, {{"account", id}});
  }
  return NotFound(call);
}

}  // namespace prov::server::web
