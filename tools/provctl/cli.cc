#include "tools/provctl/cli.h"

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"

namespace prov::provctl {
namespace {

using provenance::v1::FlagStatus;
using provenance::v1::Severity;

// One command: its words ("flags", "list"), its positional argument (if any) and the filter flags
// it takes. Connection and output flags (--server, -o, ...) are accepted by every command.
struct CommandSpec {
  std::vector<std::string> words;
  std::string argument;  // "<node-id>", "FILE", ... or empty
  std::set<std::string> filters;
};

const std::vector<CommandSpec>& Commands() {
  static const auto* commands = new std::vector<CommandSpec>{
      // "nodes revoke|revocations" before "nodes": a one-word command ends the search.
      {{"nodes", "revoke"}, "<node-id>", {"--note"}},
      {{"nodes", "revocations"}, "", {}},
      {{"nodes", "enroll-token"}, "", {"--node", "--ttl"}},
      {{"nodes"}, "", {"--datacenter", "--limit"}},
      {{"node"}, "<node-id>", {}},
      {{"workloads"}, "", {"--account", "--node", "--datacenter", "--limit"}},
      {{"usage"}, "", {"--account"}},
      {{"status"}, "", {}},
      {{"accounts", "import"}, "FILE", {"--format", "--encoding"}},
      {{"account"}, "<account-id>", {}},
      {{"screening", "import"}, "FILE", {"--encoding"}},
      {{"policy", "load"}, "FILE", {}},
      {{"policy", "show"}, "", {}},
      {{"flags", "list"},
       "",
       {"--severity", "--status", "--rule", "--account", "--datacenter", "--limit"}},
      {{"flags", "show"}, "<flag-id>", {}},
      {{"flags", "watch"}, "", {"--severity", "--count"}},
      {{"bundles", "list"}, "", {"--account", "--limit"}},
      {{"bundle"}, "<bundle-id>", {}},
      {{"whoami"}, "", {}},
      {{"tokens", "issue"}, "<name>", {"--role", "--ttl"}},
      {{"tokens", "list"}, "", {}},
      {{"tokens", "revoke"}, "<token-id>", {}},
      {{"cases", "list"}, "", {"--status", "--assignee", "--limit"}},
      {{"case", "show"}, "<flag-id>", {}},
      {{"case", "acknowledge"}, "<flag-id>", {"--note", "--expect-revision"}},
      {{"case", "escalate"}, "<flag-id>", {"--note", "--expect-revision"}},
      {{"case", "reopen"}, "<flag-id>", {"--note", "--expect-revision"}},
      {{"case", "resolve"},
       "<flag-id>",
       {"--disposition", "--duplicate-of", "--note", "--expect-revision"}},
      {{"case", "assign"}, "<flag-id>", {"--assignee", "--note", "--expect-revision"}},
      {{"case", "note"}, "<flag-id>", {"--note", "--expect-revision"}},
      {{"audit", "log"}, "", {"--after", "--action", "--limit"}},
      {{"audit", "verify"}, "", {"--anchor-seq", "--anchor-hash"}},
      // "export verify" before "export": a one-word command ends the search for its word.
      {{"export", "verify"}, "DIR", {"--public-key", "--previous"}},
      {{"export"}, "", {"--out"}},
      {{"exports", "list"}, "", {}},
      {{"exports", "key"}, "", {}},
      {{"inventory", "import"}, "FILE", {"--format"}},
      {{"inventory", "list"}, "", {"--datacenter", "--node", "--limit"}},
      {{"inventory", "show"}, "<serial>", {}},
      {{"location", "show"}, "<node-id>", {}},
      {{"location", "list"}, "", {"--verdict", "--limit"}},
      {{"location", "landmarks"}, "", {}},
      {{"location", "verify"}, "DIR", {"--public-key"}},
  };
  return *commands;
}

std::string CommandNames() {
  std::set<std::string> first;
  for (const auto& c : Commands()) first.insert(c.words[0]);
  return absl::StrJoin(first, ", ");
}

// Where the positional argument of a command goes.
void SetArgument(const std::string& command, const std::string& value, Invocation* inv) {
  if (command == "node" || command == "nodes revoke" || command == "location show") {
    inv->node_id = value;
  }
  if (command == "account") inv->account = value;
  if (command == "flags show") inv->flag_id = value;
  if (command == "bundle") inv->bundle_id = value;
  if (command == "tokens issue" || command == "tokens revoke") inv->name = value;
  if (command.rfind("case ", 0) == 0) inv->flag_id = value;
  if (command == "export verify" || command == "inventory import" || command == "location verify") {
    inv->file = value;
  }
  if (command == "inventory show") inv->name = value;
  if (command == "accounts import" || command == "screening import" || command == "policy load") {
    inv->file = value;
  }
}

absl::Status ParseCount(const std::string& flag, const std::string& text, uint32_t* out) {
  if (!absl::SimpleAtoi(text, out)) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": not a count: '", text, "'"));
  }
  return absl::OkStatus();
}

absl::Status ResolveCommand(const std::vector<std::string>& positional,
                            const std::set<std::string>& filters_given, Invocation* inv) {
  if (positional.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("missing command (", CommandNames(), ")"));
  }
  const CommandSpec* spec = nullptr;
  std::vector<std::string> subcommands;
  for (const auto& c : Commands()) {
    if (c.words[0] != positional[0]) continue;
    if (c.words.size() == 1) {
      spec = &c;
      break;
    }
    subcommands.push_back(c.words[1]);
    if (positional.size() > 1 && positional[1] == c.words[1]) {
      spec = &c;
      break;
    }
  }
  if (spec == nullptr && subcommands.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown command '", positional[0], "' (want ", CommandNames(), ")"));
  }
  if (spec == nullptr) {
    return absl::InvalidArgumentError(
        positional.size() < 2 ? absl::StrCat(positional[0], ": missing subcommand (",
                                             absl::StrJoin(subcommands, ", "), ")")
                              : absl::StrCat(positional[0], ": unknown subcommand '", positional[1],
                                             "' (want ", absl::StrJoin(subcommands, ", "), ")"));
  }
  inv->command = absl::StrJoin(spec->words, " ");
  if (spec->words[0] == "case" && spec->words[1] != "show") inv->case_action = spec->words[1];
  size_t next = spec->words.size();
  if (!spec->argument.empty()) {
    if (positional.size() <= next) {
      return absl::InvalidArgumentError(absl::StrCat(inv->command, ": missing ", spec->argument));
    }
    if (positional[next].empty()) {
      return absl::InvalidArgumentError(absl::StrCat(inv->command, ": empty ", spec->argument));
    }
    SetArgument(inv->command, positional[next], inv);
    ++next;
  }
  if (positional.size() > next) {
    return absl::InvalidArgumentError(
        absl::StrCat(inv->command, ": unexpected argument '", positional[next], "'"));
  }
  for (const std::string& flag : filters_given) {
    if (spec->filters.count(flag) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(inv->command, ": does not take ", flag,
                       spec->filters.empty()
                           ? ""
                           : absl::StrCat(" (it takes ", absl::StrJoin(spec->filters, ", "), ")")));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Severity> ParseSeverityName(const std::string& name) {
  std::string n = absl::AsciiStrToLower(name);
  if (n == "info") return provenance::v1::SEVERITY_INFO;
  if (n == "low") return provenance::v1::SEVERITY_LOW;
  if (n == "medium") return provenance::v1::SEVERITY_MEDIUM;
  if (n == "high") return provenance::v1::SEVERITY_HIGH;
  if (n == "critical") return provenance::v1::SEVERITY_CRITICAL;
  return absl::InvalidArgumentError(absl::StrCat("--severity: unknown severity '", name,
                                                 "' (want info, low, medium, high or critical)"));
}

absl::StatusOr<provenance::v1::Role> ParseRoleName(const std::string& name) {
  std::string n = absl::AsciiStrToLower(name);
  if (n == "viewer") return provenance::v1::ROLE_VIEWER;
  if (n == "analyst") return provenance::v1::ROLE_ANALYST;
  if (n == "admin") return provenance::v1::ROLE_ADMIN;
  return absl::InvalidArgumentError(
      absl::StrCat("--role: unknown role '", name, "' (want viewer, analyst or admin)"));
}

absl::StatusOr<provenance::v1::Disposition> ParseDispositionName(const std::string& name) {
  std::string n = absl::AsciiStrToLower(name);
  std::replace(n.begin(), n.end(), '-', '_');
  if (n == "confirmed") return provenance::v1::DISPOSITION_CONFIRMED;
  if (n == "false_positive") return provenance::v1::DISPOSITION_FALSE_POSITIVE;
  if (n == "licensed") return provenance::v1::DISPOSITION_LICENSED;
  if (n == "duplicate") return provenance::v1::DISPOSITION_DUPLICATE;
  return absl::InvalidArgumentError(
      absl::StrCat("--disposition: unknown disposition '", name,
                   "' (want confirmed, false_positive, licensed or duplicate)"));
}

absl::StatusOr<FlagStatus> ParseFlagStatusName(const std::string& name) {
  std::string n = absl::AsciiStrToLower(name);
  if (n == "open") return provenance::v1::FLAG_STATUS_OPEN;
  if (n == "acknowledged") return provenance::v1::FLAG_STATUS_ACKNOWLEDGED;
  if (n == "escalated") return provenance::v1::FLAG_STATUS_ESCALATED;
  if (n == "resolved") return provenance::v1::FLAG_STATUS_RESOLVED;
  return absl::InvalidArgumentError(absl::StrCat(
      "--status: unknown status '", name, "' (want open, acknowledged, escalated or resolved)"));
}

absl::StatusOr<provenance::v1::LocationVerdict> ParseLocationVerdictName(const std::string& name) {
  std::string n = absl::AsciiStrToLower(name);
  if (n == "verified") return provenance::v1::LOCATION_VERDICT_VERIFIED;
  if (n == "unverified") return provenance::v1::LOCATION_VERDICT_UNVERIFIED;
  if (n == "contradicted") return provenance::v1::LOCATION_VERDICT_CONTRADICTED;
  return absl::InvalidArgumentError(absl::StrCat("--verdict: unknown verdict '", name,
                                                 "' (want verified, unverified or contradicted)"));
}

absl::StatusOr<Invocation> ParseArgs(const std::vector<std::string>& args) {
  Invocation inv;
  std::vector<std::string> positional;
  std::set<std::string> filters_given;
  bool timeout_given = false;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    std::string value;
    bool has_inline = false;
    if (arg.rfind("--", 0) == 0 && arg.find('=') != std::string::npos) {
      value = arg.substr(arg.find('=') + 1);
      arg = arg.substr(0, arg.find('='));
      has_inline = true;
    }
    auto take = [&](std::string* out) -> absl::Status {
      if (has_inline) {
        *out = value;
        return absl::OkStatus();
      }
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(absl::StrCat(arg, " needs a value"));
      }
      *out = args[++i];
      return absl::OkStatus();
    };
    std::string text;
    absl::Status s;
    if (arg == "--server") {
      s = take(&inv.server);
    } else if (arg == "--insecure") {
      inv.insecure = true;
    } else if (arg == "--tls-ca") {
      s = take(&inv.tls.ca_file);
    } else if (arg == "--tls-cert") {
      s = take(&inv.tls.cert_file);
    } else if (arg == "--tls-key") {
      s = take(&inv.tls.key_file);
    } else if (arg == "-o" || arg == "--output") {
      s = take(&text);
      if (s.ok() && text != "table" && text != "json") {
        return absl::InvalidArgumentError(
            absl::StrCat("-o: unknown output format '", text, "' (want table or json)"));
      }
      inv.json = text == "json";
    } else if (arg == "--timeout") {
      timeout_given = true;
      s = take(&text);
      if (s.ok() && (!absl::SimpleAtod(text, &inv.timeout_seconds) || inv.timeout_seconds <= 0)) {
        return absl::InvalidArgumentError(
            absl::StrCat("--timeout: not a positive number: '", text, "'"));
      }
    } else if (arg == "--limit" || arg == "--count") {
      s = take(&text);
      if (s.ok()) s = ParseCount(arg, text, arg == "--limit" ? &inv.limit : &inv.count);
    } else if (arg == "--account") {
      s = take(&inv.account);
    } else if (arg == "--node") {
      s = take(&inv.node_id);
    } else if (arg == "--datacenter") {
      s = take(&inv.datacenter);
    } else if (arg == "--rule") {
      s = take(&inv.rule);
    } else if (arg == "--encoding") {
      s = take(&inv.encoding);
    } else if (arg == "--format") {
      s = take(&inv.format);
      if (s.ok() && inv.format != "csv" && inv.format != "json" && inv.format != "jsonl") {
        return absl::InvalidArgumentError(
            absl::StrCat("--format: unknown format '", inv.format, "' (want csv, json or jsonl)"));
      }
    } else if (arg == "--severity") {
      s = take(&text);
      if (s.ok()) {
        absl::StatusOr<Severity> sev = ParseSeverityName(text);
        if (!sev.ok()) return sev.status();
        inv.min_severity = *sev;
      }
    } else if (arg == "--status") {
      s = take(&text);
      if (s.ok()) {
        absl::StatusOr<FlagStatus> status = ParseFlagStatusName(text);
        if (!status.ok()) return status.status();
        inv.status = *status;
      }
    } else if (arg == "--token") {
      s = take(&inv.token);
    } else if (arg == "--token-file") {
      s = take(&inv.token_file);
    } else if (arg == "--verdict") {
      s = take(&text);
      if (s.ok()) {
        auto v = ParseLocationVerdictName(text);
        if (!v.ok()) return v.status();
        inv.location_verdict = *v;
      }
    } else if (arg == "--role") {
      s = take(&text);
      if (s.ok()) {
        auto role = ParseRoleName(text);
        if (!role.ok()) return role.status();
        inv.role = *role;
      }
    } else if (arg == "--disposition") {
      s = take(&text);
      if (s.ok()) {
        auto d = ParseDispositionName(text);
        if (!d.ok()) return d.status();
        inv.disposition = *d;
      }
    } else if (arg == "--note") {
      s = take(&inv.note);
    } else if (arg == "--ttl") {
      s = take(&text);
      absl::Duration ttl;
      // API tokens (tokens issue) live at most a year; enrolment tokens a week (checked below).
      const absl::Duration most = absl::Hours(24 * 7 * 52);
      if (s.ok() && (!absl::ParseDuration(text, &ttl) || ttl < absl::Seconds(1) || ttl > most)) {
        return absl::InvalidArgumentError(
            absl::StrCat("--ttl: '", text, "' is not a duration in [1s, ", absl::ToInt64Hours(most),
                         "h] (e.g. 1h, 30m)"));
      }
      if (s.ok()) inv.ttl_seconds = static_cast<uint32_t>(absl::ToInt64Seconds(ttl));
    } else if (arg == "--assignee") {
      s = take(&inv.assignee);
      inv.assignee_given = true;
    } else if (arg == "--duplicate-of") {
      s = take(&inv.duplicate_of);
    } else if (arg == "--action") {
      s = take(&inv.action_prefix);
    } else if (arg == "--anchor-hash") {
      s = take(&inv.anchor_hash);
    } else if (arg == "--expect-revision" || arg == "--after" || arg == "--anchor-seq") {
      s = take(&text);
      uint64_t* out = arg == "--after"        ? &inv.after_seq
                      : arg == "--anchor-seq" ? &inv.anchor_seq
                                              : &inv.expected_revision;
      if (s.ok() && !absl::SimpleAtoi(text, out)) {
        return absl::InvalidArgumentError(absl::StrCat(arg, ": not a number: '", text, "'"));
      }
    } else if (arg == "--out") {
      s = take(&inv.out_dir);
    } else if (arg == "--public-key") {
      s = take(&inv.public_key);
    } else if (arg == "--previous") {
      s = take(&inv.previous_dir);
    } else if (arg == "-h" || arg == "--help") {
      inv.command = "help";
      return inv;
    } else if (!arg.empty() && arg[0] == '-') {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag '", arg, "'"));
    } else {
      positional.push_back(arg);
      continue;
    }
    if (!s.ok()) return s;
    static const std::set<std::string> kGlobal = {
        "--server", "--insecure", "--tls-ca",  "--tls-cert", "--tls-key",
        "-o",       "--output",   "--timeout", "--token",    "--token-file"};
    if (kGlobal.count(arg) == 0) filters_given.insert(arg);
  }
  if (!positional.empty() && positional[0] == "help") {
    inv.command = "help";
    return inv;
  }
  absl::Status resolved = ResolveCommand(positional, filters_given, &inv);
  if (!resolved.ok()) return resolved;
  if (inv.command == "nodes enroll-token" && inv.ttl_seconds > 7 * 24 * 3600) {
    return absl::InvalidArgumentError(
        "--ttl: an enrolment token lives at most 168h (e.g. 1h, 30m)");
  }
  if (inv.command == "tokens issue" && inv.role == provenance::v1::ROLE_UNSPECIFIED) {
    return absl::InvalidArgumentError("tokens issue: --role is required (viewer, analyst, admin)");
  }
  if (inv.command == "case resolve" && inv.disposition == provenance::v1::DISPOSITION_UNSPECIFIED) {
    return absl::InvalidArgumentError(
        "case resolve: --disposition is required (confirmed, false_positive, licensed, "
        "duplicate)");
  }
  if (inv.command == "case assign" && !inv.assignee_given) {
    return absl::InvalidArgumentError("case assign: --assignee is required ('' to unassign)");
  }
  if (inv.command == "nodes enroll-token" && inv.node_id.empty()) {
    return absl::InvalidArgumentError("nodes enroll-token: --node is required");
  }
  if (inv.command == "case note" && inv.note.empty()) {
    return absl::InvalidArgumentError("case note: --note is required");
  }
  if (!timeout_given && inv.command == "export") inv.timeout_seconds = kExportTimeoutSeconds;
  if (!timeout_given && (inv.command == "accounts import" || inv.command == "screening import" ||
                         inv.command == "policy load" || inv.command == "inventory import")) {
    inv.timeout_seconds = kImportTimeoutSeconds;
  }
  return inv;
}

}  // namespace prov::provctl
