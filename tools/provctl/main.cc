// provctl: query and administer provd (AuditService, IdentityService, AnalysisService). See cli.h
// for the commands and flags. Exit status: 0 success, 1 the call failed (unreachable server, error
// from provd, unreadable file), 2 bad usage.
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "common/grpc/tls.h"
#include "grpcpp/create_channel.h"
#include "tools/provctl/cli.h"
#include "tools/provctl/commands.h"

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
  grpc::ChannelArguments channel_args;
  channel_args.SetMaxSendMessageSize(-1);     // imports up to provd's own limit (256 MiB)
  channel_args.SetMaxReceiveMessageSize(-1);  // a long flag or bundle list
  auto channel = grpc::CreateCustomChannel(inv->server, *creds, channel_args);
  const std::string& c = inv->command;
  if (c == "nodes" || c == "node" || c == "workloads" || c == "usage") {
    return prov::provctl::RunAudit(*inv, channel);
  }
  if (c.rfind("flags", 0) == 0 || c.rfind("bundle", 0) == 0) {
    return prov::provctl::RunAnalysis(*inv, channel);
  }
  return prov::provctl::RunIdentity(*inv, channel);
}
