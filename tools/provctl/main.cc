// provctl: query provd's AuditService. See cli.h for the commands and flags.
// Exit status: 0 success, 1 the call failed (unreachable server, error from provd), 2 bad usage.
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "common/grpc/tls.h"
#include "common/proto_json.h"
#include "grpcpp/create_channel.h"
#include "provenance/v1/audit.grpc.pb.h"
#include "tools/provctl/cli.h"
#include "tools/provctl/format.h"

namespace {

using namespace provenance::v1;

int Fail(const prov::provctl::Invocation& inv, const grpc::Status& status) {
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

void SetDeadline(grpc::ClientContext* ctx, const prov::provctl::Invocation& inv) {
  ctx->set_deadline(std::chrono::system_clock::now() +
                    std::chrono::milliseconds(static_cast<int64_t>(inv.timeout_seconds * 1000)));
}

int Run(const prov::provctl::Invocation& inv, AuditService::Stub& stub) {
  grpc::ClientContext ctx;
  SetDeadline(&ctx, inv);
  auto emit = [&](const google::protobuf::Message& msg, const std::string& table) {
    std::cout << (inv.json ? prov::ToJson(msg) + "\n" : table);
    return 0;
  };
  if (inv.command == "nodes") {
    ListNodesRequest req;
    req.set_datacenter(inv.datacenter);
    req.set_limit(inv.limit);
    ListNodesResponse resp;
    grpc::Status s = stub.ListNodes(&ctx, req, &resp);
    return s.ok() ? emit(resp, prov::provctl::NodesTable(resp)) : Fail(inv, s);
  }
  if (inv.command == "node") {
    GetNodeRequest req;
    req.set_node_id(inv.node_id);
    GetNodeResponse resp;
    grpc::Status s = stub.GetNode(&ctx, req, &resp);
    return s.ok() ? emit(resp, prov::provctl::NodeDetail(resp)) : Fail(inv, s);
  }
  if (inv.command == "workloads") {
    ListWorkloadsRequest req;
    req.set_account(inv.account);
    req.set_node_id(inv.node_id);
    req.set_datacenter(inv.datacenter);
    req.set_limit(inv.limit);
    ListWorkloadsResponse resp;
    grpc::Status s = stub.ListWorkloads(&ctx, req, &resp);
    return s.ok() ? emit(resp, prov::provctl::WorkloadsTable(resp)) : Fail(inv, s);
  }
  GetAccountUsageRequest req;
  req.set_account(inv.account);
  GetAccountUsageResponse resp;
  grpc::Status s = stub.GetAccountUsage(&ctx, req, &resp);
  return s.ok() ? emit(resp, prov::provctl::UsageTable(resp)) : Fail(inv, s);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (const char* env = std::getenv("PROV_SERVER"); env != nullptr && *env != '\0') {
    args.insert(args.begin(), {"--server", env});  // an explicit --server later wins
  }
  auto inv = prov::provctl::ParseArgs(args);
  if (!inv.ok()) {
    std::fprintf(stderr, "provctl: %s\n\n%s", std::string(inv.status().message()).c_str(),
                 prov::provctl::Usage().c_str());
    return 2;
  }
  if (inv->command == "help") {
    std::cout << prov::provctl::Usage();
    return 0;
  }
  auto creds = prov::MakeClientCredentials(inv->tls, inv->insecure);
  if (!creds.ok()) {
    std::fprintf(stderr, "provctl: %s\n", std::string(creds.status().message()).c_str());
    return 2;
  }
  auto channel = grpc::CreateChannel(inv->server, *creds);
  auto stub = AuditService::NewStub(channel);
  return Run(*inv, *stub);
}
