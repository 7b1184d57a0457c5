// provctl command-line parsing (no I/O), kept apart from main.cc so it can be unit tested.
//
//   provctl [--server HOST:PORT] [--insecure | --tls-ca F [--tls-cert F --tls-key F]]
//           [-o table|json] [--timeout SECONDS] <command> [args]
//   commands: nodes [--datacenter D]
//             node <node-id>
//             workloads [--account A] [--node N] [--datacenter D] [--limit N]
//             usage [--account A]
//
//   absl::StatusOr<prov::provctl::Invocation> inv = prov::provctl::ParseArgs(args);
// Flags may come before or after the command. Errors name the offending argument.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/grpc/tls.h"

namespace prov::provctl {

inline constexpr char kDefaultServer[] = "localhost:50051";

struct Invocation {
  std::string command;  // "nodes", "node", "workloads", "usage", "help"
  std::string node_id;  // node <id>, workloads --node
  std::string account;
  std::string datacenter;
  uint32_t limit = 0;
  std::string server = kDefaultServer;
  TlsFiles tls;
  bool insecure = false;
  bool json = false;
  double timeout_seconds = 10;
};

absl::StatusOr<Invocation> ParseArgs(const std::vector<std::string>& args);
std::string Usage();

}  // namespace prov::provctl
