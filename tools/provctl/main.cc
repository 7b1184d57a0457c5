// provctl: query and administer provd (AuditService, IdentityService, AnalysisService). See cli.h
// for the commands and flags. Exit status: 0 success, 1 the call failed (unreachable server, error
// from provd, unreadable file), 2 bad usage.
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "common/grpc/bearer_channel.h"
#include "common/grpc/tls.h"
#include "common/version.h"
#include "grpcpp/create_channel.h"
#include "tools/provctl/cli.h"
#include "tools/provctl/commands.h"

namespace prov::provctl {

// --token, else --token-file, else $PROV_TOKEN, else $PROV_TOKEN_FILE; none is fine (a client
// certificate may identify the caller). A token file holds the token on its first line.
absl::Status ResolveToken(Invocation* inv) {
  std::string file = inv->token_file;
  if (inv->token.empty() && file.empty()) {
    if (const char* t = std::getenv("PROV_TOKEN"); t != nullptr && *t != '\0') {
      inv->token = t;
      return absl::OkStatus();
    }
    if (const char* f = std::getenv("PROV_TOKEN_FILE"); f != nullptr && *f != '\0') file = f;
  }
  if (!inv->token.empty() || file.empty()) return absl::OkStatus();
  absl::StatusOr<std::string> token = ReadTokenFile(file);
  if (!token.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--token-file: ", token.status().message()));
  }
  inv->token = *std::move(token);
  return absl::OkStatus();
}

}  // namespace prov::provctl

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 1 && args[0] == "--version") {
    std::printf("%s\n", prov::VersionLine("provctl").c_str());
    return 0;
  }
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
  // Offline: no server, no credentials.
  if (inv->command == "export verify") return prov::provctl::RunExportVerify(*inv);
  if (inv->command == "location verify") return prov::provctl::RunLocationVerify(*inv);
  if (absl::Status token = prov::provctl::ResolveToken(&*inv); !token.ok()) {
    std::fprintf(stderr, "provctl: %s\n", std::string(token.message()).c_str());
    return 2;
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
  if (c == "nodes revoke" || c == "nodes revocations" || c == "nodes enroll-token") {
    return prov::provctl::RunNodeAdmin(*inv, channel);
  }
  if (c == "nodes" || c == "node" || c == "workloads" || c == "usage" || c == "status") {
    return prov::provctl::RunAudit(*inv, channel);
  }
  if (c.rfind("export", 0) == 0) return prov::provctl::RunExport(*inv, channel);
  if (c.rfind("inventory", 0) == 0) return prov::provctl::RunInventory(*inv, channel);
  if (c.rfind("location", 0) == 0) return prov::provctl::RunLocation(*inv, channel);
  if (c.rfind("flags", 0) == 0 || c.rfind("bundle", 0) == 0) {
    return prov::provctl::RunAnalysis(*inv, channel);
  }
  if (c == "whoami" || c.rfind("tokens", 0) == 0 || c.rfind("case", 0) == 0 ||
      c.rfind("audit", 0) == 0) {
    return prov::provctl::RunCompliance(*inv, channel);
  }
  return prov::provctl::RunIdentity(*inv, channel);
}
