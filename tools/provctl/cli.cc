#include "tools/provctl/cli.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace prov::provctl {

std::string Usage() {
  return R"(usage: provctl [flags] <command> [args]

commands:
  nodes [--datacenter D]                                  list nodes
  node <node-id>                                          one node and its accelerators
  workloads [--account A] [--node N] [--datacenter D]     workloads and their compute
  usage [--account A]                                     per-account accelerator-hours and FLOP

flags:
  --server HOST:PORT   provd address (default localhost:50051, or $PROV_SERVER)
  --insecure           plain text (testing only)
  --tls-ca FILE        CA that signed provd's certificate
  --tls-cert FILE      client certificate (mutual TLS), with --tls-key FILE
  -o table|json        output format (default table; json is proto3 JSON)
  --timeout SECONDS    per-call deadline (default 10)
  --limit N            at most N rows (nodes, workloads)
)";
}

absl::StatusOr<Invocation> ParseArgs(const std::vector<std::string>& args) {
  Invocation inv;
  std::vector<std::string> positional;
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
      if (i + 1 >= args.size())
        return absl::InvalidArgumentError(absl::StrCat(arg, " needs a value"));
      *out = args[++i];
      return absl::OkStatus();
    };
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
      std::string format;
      s = take(&format);
      if (s.ok() && format != "table" && format != "json") {
        return absl::InvalidArgumentError(
            absl::StrCat("-o: unknown output format '", format, "' (want table or json)"));
      }
      inv.json = format == "json";
    } else if (arg == "--timeout") {
      std::string t;
      s = take(&t);
      if (s.ok() && (!absl::SimpleAtod(t, &inv.timeout_seconds) || inv.timeout_seconds <= 0)) {
        return absl::InvalidArgumentError(
            absl::StrCat("--timeout: not a positive number: '", t, "'"));
      }
    } else if (arg == "--limit") {
      std::string t;
      s = take(&t);
      if (s.ok() && !absl::SimpleAtoi(t, &inv.limit)) {
        return absl::InvalidArgumentError(absl::StrCat("--limit: not a count: '", t, "'"));
      }
    } else if (arg == "--account") {
      s = take(&inv.account);
    } else if (arg == "--node") {
      s = take(&inv.node_id);
    } else if (arg == "--datacenter") {
      s = take(&inv.datacenter);
    } else if (arg == "-h" || arg == "--help") {
      inv.command = "help";
      return inv;
    } else if (!arg.empty() && arg[0] == '-') {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag '", arg, "'"));
    } else {
      positional.push_back(arg);
    }
    if (!s.ok()) return s;
  }
  if (positional.empty())
    return absl::InvalidArgumentError("missing command (nodes, node, workloads, usage)");
  inv.command = positional[0];
  size_t want_args = 0;
  if (inv.command == "node") {
    if (positional.size() < 2) return absl::InvalidArgumentError("node: missing <node-id>");
    inv.node_id = positional[1];
    want_args = 1;
  } else if (inv.command != "nodes" && inv.command != "workloads" && inv.command != "usage" &&
             inv.command != "help") {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown command '", inv.command, "' (want nodes, node, workloads or usage)"));
  }
  if (positional.size() > want_args + 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(inv.command, ": unexpected argument '", positional[want_args + 1], "'"));
  }
  if (inv.command == "usage" && (!inv.node_id.empty() || !inv.datacenter.empty())) {
    return absl::InvalidArgumentError("usage: only --account filters usage");
  }
  return inv;
}

}  // namespace prov::provctl
