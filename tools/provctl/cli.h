// provctl command-line parsing (no I/O), kept apart from main.cc so it can be unit tested.
//
//   provctl [--server HOST:PORT] [--insecure | --tls-ca F [--tls-cert F --tls-key F]]
//           [-o table|json] [--timeout SECONDS] <command> [args]
//   commands: nodes [--datacenter D]
//             node <node-id>
//             workloads [--account A] [--node N] [--datacenter D] [--limit N]
//             usage [--account A]
//             accounts import FILE [--format csv|json|jsonl]
//             account <account-id>
//             screening import FILE
//             policy load FILE
//             policy show
//             flags list [--severity S] [--status S] [--rule R] [--account A] [--datacenter D]
//                        [--limit N]
//             flags show <flag-id>
//             flags watch [--severity S] [--count N]
//             bundles list [--account A] [--limit N]
//             bundle <bundle-id>
//
//   absl::StatusOr<prov::provctl::Invocation> inv = prov::provctl::ParseArgs(args);
//   inv->command;   // "flags list"
// Flags may come before or after the command. A filter flag a command does not take is an error
// naming both. Errors name the offending argument.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/grpc/tls.h"
#include "provenance/v1/analysis.pb.h"

namespace prov::provctl {

inline constexpr char kDefaultServer[] = "localhost:50051";
inline constexpr double kDefaultTimeoutSeconds = 10;
inline constexpr double kImportTimeoutSeconds = 600;

struct Invocation {
  // "nodes", "node", "workloads", "usage", "accounts import", "account", "screening import",
  // "policy load", "policy show", "flags list", "flags show", "flags watch", "bundles list",
  // "bundle", "help"
  std::string command;
  std::string node_id;  // node <id>, workloads --node
  std::string account;  // account <id>, --account
  std::string datacenter;
  std::string file;       // accounts import / screening import / policy load
  std::string format;     // accounts import --format: "csv", "json", "jsonl"; empty: from FILE
  std::string flag_id;    // flags show <id>
  std::string bundle_id;  // bundle <id>
  std::string rule;       // flags list --rule
  provenance::v1::Severity min_severity = provenance::v1::SEVERITY_UNSPECIFIED;
  provenance::v1::FlagStatus status = provenance::v1::FLAG_STATUS_UNSPECIFIED;
  uint32_t limit = 0;
  uint32_t count = 0;  // flags watch: exit after this many flags (0: run until interrupted)
  std::string server = kDefaultServer;
  TlsFiles tls;
  bool insecure = false;
  bool json = false;
  // Per-call deadline: --timeout, else kDefaultTimeoutSeconds, or kImportTimeoutSeconds for the
  // imports (provd re-screens every account before it answers).
  double timeout_seconds = kDefaultTimeoutSeconds;
};

absl::StatusOr<Invocation> ParseArgs(const std::vector<std::string>& args);
std::string Usage();

// "high" -> SEVERITY_HIGH; "open" -> FLAG_STATUS_OPEN (case-insensitive). Errors list the names.
absl::StatusOr<provenance::v1::Severity> ParseSeverityName(const std::string& name);
absl::StatusOr<provenance::v1::FlagStatus> ParseFlagStatusName(const std::string& name);

}  // namespace prov::provctl
