// provctl command-line parsing (no I/O), kept apart from main.cc so it can be unit tested.
//
//   provctl [--server HOST:PORT] [--insecure | --tls-ca F [--tls-cert F --tls-key F]]
//           [-o table|json] [--timeout SECONDS] <command> [args]
//   commands: nodes [--datacenter D]
//             node <node-id>
//             workloads [--account A] [--node N] [--datacenter D] [--limit N]
//             usage [--account A]
//             accounts import FILE [--format csv|json|jsonl] [--encoding NAME]
//             account <account-id>
//             screening import FILE [--encoding NAME]
//             policy load FILE
//             policy show
//             flags list [--severity S] [--status S] [--rule R] [--account A] [--datacenter D]
//                        [--limit N]
//             flags show <flag-id>
//             flags watch [--severity S] [--count N]
//             bundles list [--account A] [--limit N]
//             bundle <bundle-id>
//             whoami
//             tokens issue <name> --role viewer|analyst|admin
//             tokens list
//             tokens revoke <token-id>
//             nodes revoke <node-id> [--note REASON]
//             nodes revocations
//             cases list [--status S] [--assignee A] [--limit N]
//             case show <flag-id>
//             case acknowledge|escalate|reopen <flag-id> [--note TEXT] [--expect-revision N]
//             case resolve <flag-id> --disposition confirmed|false_positive|licensed|duplicate
//                          [--duplicate-of F-...] [--note TEXT] [--expect-revision N]
//             case assign <flag-id> --assignee NAME   (empty NAME: unassign)
//             case note <flag-id> --note TEXT
//             audit log [--after SEQ] [--action PREFIX] [--limit N]
//             audit verify [--anchor-seq N --anchor-hash HEX]
//             export [--out DIR]
//             exports list
//             exports key              (the public key exports are signed with; viewer role)
//             export verify DIR [--public-key FILE|HEX] [--previous DIR]   (offline)
//             location show <node-id>
//             location list [--verdict verified|unverified|contradicted] [--limit N]
//             location landmarks
//             location verify DIR [--public-key FILE|HEX]   (offline: re-derives the verdicts)
//
// Credentials for the people-facing services: --token TOKEN, --token-file FILE, or the
// environment (PROV_TOKEN, PROV_TOKEN_FILE); a client certificate (--tls-cert/--tls-key) that
// provd maps to a role works as well.
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
#include "provenance/v1/compliance.pb.h"
#include "provenance/v1/location.pb.h"

namespace prov::provctl {

inline constexpr char kDefaultServer[] = "localhost:50051";
inline constexpr double kDefaultTimeoutSeconds = 10;
inline constexpr double kImportTimeoutSeconds = 600;
inline constexpr double kExportTimeoutSeconds = 3600;  // provctl export (a large store)

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
  std::string encoding;   // accounts/screening import --encoding: "windows-1252"...; empty: UTF-8
  std::string flag_id;    // flags show <id>
  std::string bundle_id;  // bundle <id>
  std::string rule;       // flags list --rule
  provenance::v1::Severity min_severity = provenance::v1::SEVERITY_UNSPECIFIED;
  provenance::v1::FlagStatus status = provenance::v1::FLAG_STATUS_UNSPECIFIED;
  uint32_t limit = 0;
  uint32_t count = 0;  // flags watch: exit after this many flags (0: run until interrupted)
  // Compliance workflow.
  std::string token;         // --token (main.cc fills it from --token-file or the environment)
  std::string token_file;    // --token-file
  std::string out_dir;       // export --out DIR
  std::string public_key;    // export verify / location verify --public-key FILE|HEX
  std::string previous_dir;  // export verify --previous DIR
  std::string name;          // tokens issue <name>; tokens revoke <token-id>
  provenance::v1::Role role = provenance::v1::ROLE_UNSPECIFIED;  // tokens issue --role
  std::string case_action;  // case <action>: "acknowledge", "resolve", ...
  std::string note;
  // --ttl: nodes enroll-token (0: provd's default, one hour); tokens issue (0: never expires)
  uint32_t ttl_seconds = 0;
  std::string assignee;
  bool assignee_given = false;
  provenance::v1::Disposition disposition = provenance::v1::DISPOSITION_UNSPECIFIED;
  std::string duplicate_of;
  uint64_t expected_revision = 0;
  // location list --verdict (UNSPECIFIED: all)
  provenance::v1::LocationVerdict location_verdict = provenance::v1::LOCATION_VERDICT_UNSPECIFIED;
  uint64_t after_seq = 0;     // audit log --after
  std::string action_prefix;  // audit log --action
  uint64_t anchor_seq = 0;    // audit verify
  std::string anchor_hash;
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
// "analyst" -> ROLE_ANALYST; "false_positive" (or "false-positive") -> DISPOSITION_FALSE_POSITIVE.
absl::StatusOr<provenance::v1::Role> ParseRoleName(const std::string& name);
absl::StatusOr<provenance::v1::Disposition> ParseDispositionName(const std::string& name);
// "contradicted" -> LOCATION_VERDICT_CONTRADICTED (case-insensitive).
absl::StatusOr<provenance::v1::LocationVerdict> ParseLocationVerdictName(const std::string& name);

}  // namespace prov::provctl
