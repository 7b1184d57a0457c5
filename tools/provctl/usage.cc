// provctl's help text (cli.h documents the same commands).
#include "tools/provctl/cli.h"

namespace prov::provctl {

std::string Usage() {
  return R"(usage: provctl [flags] <command> [args]

audit:
  nodes [--datacenter D]                                  list nodes
  node <node-id>                                          one node and its accelerators
  workloads [--account A] [--node N] [--datacenter D]     workloads and their compute
  usage [--account A]                                     per-account accelerator-hours and FLOP
  status                                                  the replica answering, the leader, the
                                                          store, analysis behind ingest, replicas

identity:
  accounts import FILE [--format csv|json|jsonl]          import KYC records as a new KYC version
           [--encoding NAME]                              (format from .csv/.json/.jsonl/.ndjson);
                                                          good rows are imported, every bad row is
                                                          named on stderr and the exit status is 1;
                                                          --encoding windows-1252 (latin1, ...)
                                                          for files that are not UTF-8
  account <account-id>                                    identity, KYC version, screening hits
                                                          with reasons, bundle, flags
  screening import FILE [--encoding NAME]                 import a Consolidated Screening List CSV
                                                          and re-screen every account (row errors:
                                                          as accounts import, exit 1)
  policy load FILE                                        load a policy YAML (checked first)
  policy show                                             the policy in force

analysis:
  flags list [--severity S] [--status S] [--rule R] [--account A] [--datacenter D] [--limit N]
                                                          flags, most severe first
  flags show <flag-id>                                    a flag with its evidence chain and bundle
  flags watch [--severity S] [--count N]                  new and changed flags as they happen, one
                                                          line (or JSON line) each; until ^C, the
                                                          stream's end, or N flags
  bundles list [--account A] [--limit N]                  suspected training lineages
  bundle <bundle-id>                                      accounts, data centres, workloads, FLOP,
                                                          links with their evidence, flags

access (admin):
  whoami                                                  who provd takes you for, and your role
  tokens issue <name> --role viewer|analyst|admin         a bearer token for a person or system
                                                          (printed once; provd keeps its hash)
  tokens list                                             every token, live and revoked
  tokens revoke <token-id>                                stop a token working (T-3)
  nodes revoke <node-id> [--note REASON]                  refuse the node's certificates, end its
                                                          streams (admin)
  nodes revocations                                       revoked nodes (admin)
  nodes enroll-token --node NODE [--ttl 1h]               a one-time enrolment token for that node
                                                          (printed once; provd keeps its hash)

cases (viewer reads, analyst changes):
  cases list [--status S] [--assignee A] [--limit N]      flags as cases
  case show <flag-id>                                     status, disposition, every action
  case acknowledge|escalate|reopen <flag-id> [--note T]
  case resolve <flag-id> --disposition confirmed|false_positive|licensed|duplicate
               [--duplicate-of F-...] [--note T]
  case assign <flag-id> --assignee NAME                   ('' unassigns)
  case note <flag-id> --note T
                       every case command takes --expect-revision N: refused if the case
                       moved on since revision N

audit log:
  audit log [--after SEQ] [--action PREFIX] [--limit N]   who did what, hash-chained (analyst)
  audit verify [--anchor-seq N --anchor-hash HEX]         recompute the chain; names every edited,
                                                          removed or reordered entry; exit 1 if
                                                          not intact (admin)

audit exports (docs/export-format.md):
  export [--out DIR]                                      export now (progress on stderr); with
                                                          --out, download the files into DIR
                                                          (new or empty) and check them
  exports list                                            the exports provd recorded
  exports key                                             the public key exports are signed with
                                                          (save it for export verify --public-key)
  export verify DIR [--public-key FILE|HEX] [--previous DIR]
                                                          offline, no server: signature, every
                                                          file, chain to the previous export,
                                                          audit log; exit 1 naming each problem

declared inventory (docs/inventory-format.md):
  inventory import FILE [--format csv|jsonl]              import the accelerators the provider
                                                          owns as a new inventory version (admin;
                                                          a refused row is named, exit 1)
  inventory list [--datacenter D] [--node N] [--limit N]  the current declared rows
  inventory show SERIAL                                   declared vs last observed: the node that
                                                          reported it last, when, its PCI ID and
                                                          catalog name; the row's history

node location (docs/location.md):
  location show NODE                                      declared site, verdict and reason; per
                                                          landmark RTT, speed, radius, distance,
                                                          inside or not, fresh or not
  location list [--verdict V] [--limit N]                 every node's verdict (verified,
                                                          unverified or contradicted)
  location landmarks                                      landmarks, their records and speeds;
                                                          calibration between landmark pairs
  location verify DIR [--public-key FILE|HEX]             offline, no server: checks the export,
                                                          then re-derives every location verdict
                                                          from the signed records; exit 1 naming
                                                          each problem

flags:
  --server HOST:PORT   provd address (default localhost:50051, or $PROV_SERVER)
  --insecure           plain text (testing only)
  --tls-ca FILE        CA that signed provd's certificate
  --tls-cert FILE      client certificate (mutual TLS), with --tls-key FILE
  --token TOKEN        bearer token (or $PROV_TOKEN); --token-file FILE (or $PROV_TOKEN_FILE):
                       provd's first start writes an admin token to <data-dir>/admin.token
  -o table|json        output format (default table; json is proto3 JSON, one object per line
                       for flags watch)
  --timeout SECONDS    per-call deadline (default 10; imports and policy load 600, since provd
                       re-screens every account before answering; flags watch has none)
  --limit N            at most N rows
  --severity S         info, low, medium, high or critical: at least this severe
  --status S           open, acknowledged, escalated or resolved
  --rule R             an exact rule, or a prefix ending in ':' (compute_tier:)
)";
}

}  // namespace prov::provctl
