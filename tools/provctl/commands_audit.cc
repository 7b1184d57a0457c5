// provctl: AuditService commands, and the helpers every command uses.
#include <chrono>
#include <cstdio>
#include <iostream>

#include "common/proto_json.h"
#include "provenance/v1/audit.grpc.pb.h"
#include "tools/provctl/commands.h"
#include "tools/provctl/format.h"

namespace prov::provctl {

using namespace provenance::v1;

int Fail(const Invocation& inv, const grpc::Status& status) {
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
      status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    std::fprintf(stderr, "provctl: cannot reach provd at %s: %s\n", inv.server.c_str(),
                 status.error_message().c_str());
  } else {
    std::fprintf(stderr, "provctl: %s failed: %s (code %d)\n", inv.command.c_str(),
                 status.error_message().c_str(), static_cast<int>(status.error_code()));
  }
  return 1;
}

void AddCredentials(grpc::ClientContext* ctx, const Invocation& inv) {
  if (!inv.token.empty()) ctx->AddMetadata("authorization", "Bearer " + inv.token);
}

void SetDeadline(grpc::ClientContext* ctx, const Invocation& inv) {
  ctx->set_deadline(std::chrono::system_clock::now() +
                    std::chrono::milliseconds(static_cast<int64_t>(inv.timeout_seconds * 1000)));
  AddCredentials(ctx, inv);
}

int Emit(const Invocation& inv, const google::protobuf::Message& message,
         const std::string& table) {
  std::cout << (inv.json ? ToJson(message) + "\n" : table);
  std::cout.flush();
  return 0;
}

int RunAudit(const Invocation& inv, const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = AuditService::NewStub(channel);
  grpc::ClientContext ctx;
  SetDeadline(&ctx, inv);
  if (inv.command == "nodes") {
    ListNodesRequest req;
    req.set_datacenter(inv.datacenter);
    req.set_limit(inv.limit);
    ListNodesResponse resp;
    grpc::Status s = stub->ListNodes(&ctx, req, &resp);
    return s.ok() ? Emit(inv, resp, NodesTable(resp)) : Fail(inv, s);
  }
  if (inv.command == "node") {
    GetNodeRequest req;
    req.set_node_id(inv.node_id);
    GetNodeResponse resp;
    grpc::Status s = stub->GetNode(&ctx, req, &resp);
    return s.ok() ? Emit(inv, resp, NodeDetail(resp)) : Fail(inv, s);
  }
  if (inv.command == "status") {
    GetServerStatusResponse resp;
    grpc::Status s = stub->GetServerStatus(&ctx, GetServerStatusRequest(), &resp);
    return s.ok() ? Emit(inv, resp, ServerStatusText(resp)) : Fail(inv, s);
  }
  if (inv.command == "workloads") {
    ListWorkloadsRequest req;
    req.set_account(inv.account);
    req.set_node_id(inv.node_id);
    req.set_datacenter(inv.datacenter);
    req.set_limit(inv.limit);
    ListWorkloadsResponse resp;
    grpc::Status s = stub->ListWorkloads(&ctx, req, &resp);
    return s.ok() ? Emit(inv, resp, WorkloadsTable(resp)) : Fail(inv, s);
  }
  GetAccountUsageRequest req;
  req.set_account(inv.account);
  GetAccountUsageResponse resp;
  grpc::Status s = stub->GetAccountUsage(&ctx, req, &resp);
  return s.ok() ? Emit(inv, resp, UsageTable(resp)) : Fail(inv, s);
}

}  // namespace prov::provctl
