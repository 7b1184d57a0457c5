// Families that attack provd's people-facing side: failed-login floods and refused admin attempts,
// slow dashboard clients, and hostile import files.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "httplib.h"
#include "provenance/v1/audit.grpc.pb.h"
#include "provenance/v1/compliance.grpc.pb.h"
#include "tools/probe/probe_ingest.h"

namespace prov::probe {
namespace {

namespace pb = provenance::v1;

void Authorize(grpc::ClientContext& ctx, const std::string& token) {
  ctx.AddMetadata("authorization", "Bearer " + token);
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
}

size_t AuditEntries(ProbeProvd& provd) {
  auto stub = pb::AuditLogService::NewStub(provd.channel());
  size_t total = 0;
  uint64_t after = 0;
  for (;;) {
    grpc::ClientContext ctx;
    Authorize(ctx, provd.token());
    pb::ListAuditEntriesRequest req;
    req.set_after_seq(after);
    pb::ListAuditEntriesResponse resp;
    if (!stub->ListAuditEntries(&ctx, req, &resp).ok() || resp.entries().empty()) break;
    total += resp.entries_size();
    after = resp.entries(resp.entries_size() - 1).seq();
  }
  return total;
}

// A TCP connection to the dashboard from 127.0.0.<source_host> (the whole 127/8 is loopback), so a
// flood can come from many addresses as it would from a botnet, not only from the probe's own.
int Connect(int port, int source_host) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in source{};
  source.sin_family = AF_INET;
  source.sin_addr.s_addr = htonl((127u << 24) | static_cast<uint32_t>(source_host));
  if (bind(fd, reinterpret_cast<sockaddr*>(&source), sizeof(source)) != 0) {
    close(fd);
    return -1;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

constexpr char kKycHeader[] =
    "account_id,legal_entity,country_of_incorporation,beneficial_owners,addresses,"
    "payment_fingerprint,email_domains,source_ips,parent_account,is_reseller\n";

}  // namespace

FamilyResult AuthFlood(const ProbeEnv& env) {
  FamilyResult out{.name = "auth"};
  auto provd = StartFamilyProvd(env, out);
  if (provd == nullptr) return out;
  // 1,000 failed logins on gRPC.
  auto audit = pb::AuditService::NewStub(provd->channel());
  int limited = 0, refused = 0;
  absl::Time start = absl::Now();
  for (int i = 0; i < 1000; ++i) {
    grpc::ClientContext ctx;
    Authorize(ctx, absl::StrFormat("prov_%064d", i));
    pb::ListNodesResponse resp;
    grpc::Status s = audit->ListNodes(&ctx, pb::ListNodesRequest(), &resp);
    if (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) ++limited;
    if (s.error_code() == grpc::StatusCode::UNAUTHENTICATED) ++refused;
  }
  ++out.variants;
  out.details.push_back(absl::StrFormat(
      "gRPC: 1,000 bad tokens in %.2f s: %d refused as unauthenticated, %d rate-limited",
      absl::ToDoubleSeconds(absl::Now() - start), refused, limited));
  if (limited == 0) ++out.wrong_acceptances;

  // 1,000 failed logins on the dashboard's HTTP API.
  httplib::Client http("127.0.0.1", provd->web_port());
  http.set_connection_timeout(5);
  http.set_read_timeout(5);
  int http_limited = 0, http_refused = 0, retry_after = 0;
  start = absl::Now();
  for (int i = 0; i < 1000; ++i) {
    auto res =
        http.Get("/api/overview", {{"Authorization", absl::StrFormat("Bearer prov_%064d", i)}});
    if (!res) continue;
    if (res->status == 429) {
      ++http_limited;
      if (res->has_header("Retry-After")) ++retry_after;
    }
    if (res->status == 401) ++http_refused;
  }
  ++out.variants;
  out.details.push_back(absl::StrFormat(
      "HTTP: 1,000 bad tokens in %.2f s: %d answered 401, %d answered 429 (%d with Retry-After)",
      absl::ToDoubleSeconds(absl::Now() - start), http_refused, http_limited, retry_after));
  if (http_limited == 0) ++out.wrong_acceptances;

  // The flood came from the probe's own address, whose valid tokens now wait too (by design):
  // let its failed-login bucket refill (burst 20 at 1/s) before using the admin token.
  std::this_thread::sleep_for(std::chrono::seconds(22));
  // A viewer's refused admin attempts must reach the audit log.
  auto access = pb::AccessService::NewStub(provd->channel());
  std::string viewer_token;
  {
    grpc::ClientContext ctx;
    Authorize(ctx, provd->token());
    pb::IssueTokenRequest req;
    req.set_name("probe-viewer");
    req.set_role(pb::ROLE_VIEWER);
    pb::IssueTokenResponse resp;
    grpc::Status s = access->IssueToken(&ctx, req, &resp);
    viewer_token = resp.token();
    if (!s.ok()) out.details.push_back("could not issue a viewer token: " + s.error_message());
  }
  const size_t entries_before = AuditEntries(*provd);
  int denied = 0;
  for (int i = 0; i < 5; ++i) {
    grpc::ClientContext ctx;
    Authorize(ctx, viewer_token);
    pb::IssueTokenRequest req;
    req.set_name(absl::StrCat("probe-escalation-", i));
    req.set_role(pb::ROLE_ADMIN);
    pb::IssueTokenResponse resp;
    if (access->IssueToken(&ctx, req, &resp).error_code() == grpc::StatusCode::PERMISSION_DENIED) {
      ++denied;
    }
  }
  const size_t entries_after = AuditEntries(*provd);
  ++out.variants;
  out.details.push_back(absl::StrFormat(
      "viewer tried to issue admin tokens 5 times: %d refused, %d new audit entries", denied,
      static_cast<int>(entries_after - entries_before)));
  if (denied != 5) ++out.wrong_acceptances;
  if (entries_after <= entries_before) ++out.wrong_acceptances;

  // A valid token still works (from the same loopback peer, after the flood has cooled down).
  {
    grpc::ClientContext ctx;
    Authorize(ctx, provd->token());
    pb::ListNodesResponse resp;
    grpc::Status s = audit->ListNodes(&ctx, pb::ListNodesRequest(), &resp);
    out.details.push_back(absl::StrCat("the admin token once the address's bucket refilled: ",
                                       s.ok() ? "OK" : s.error_message()));
  }
  if (!provd->Running()) ++out.crashes;
  out.notes = "all from one loopback peer";
  return out;
}

FamilyResult Slowloris(const ProbeEnv& env) {
  FamilyResult out{.name = "slowloris"};
  auto provd = StartFamilyProvd(env, out);
  if (provd == nullptr) return out;
  // From many addresses (a botnet), and from the requester's own address (then the per-address
  // connection limit refuses the request at once, with 429: refused, not hanging).
  struct Variant {
    int connections;
    bool own_address;
  };
  for (const Variant v : {Variant{24, false}, Variant{40, false}, Variant{40, true}}) {
    std::vector<int> fds;
    for (int i = 0; i < v.connections; ++i) {
      int fd = Connect(provd->web_port(), v.own_address ? 1 : 2 + i);  // the request: .1
      if (fd >= 0) fds.push_back(fd);
    }
    const std::string header = "GET /api/overview HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    int hung = 0, asked = 0;
    std::vector<std::string> outcomes;
    for (int second = 0; second < 12; ++second) {
      // One header byte per connection every second.
      for (int fd : fds) {
        char c = header[std::min<size_t>(second, header.size() - 1)];
        (void)!::send(fd, &c, 1, MSG_NOSIGNAL);
      }
      if (second % 3 == 2) {
        ++asked;
        httplib::Client http("127.0.0.1", provd->web_port());
        http.set_connection_timeout(3);
        http.set_read_timeout(3);
        absl::Time t0 = absl::Now();
        auto res = http.Get("/");
        const double ms = absl::ToDoubleMilliseconds(absl::Now() - t0);
        if (res) {
          outcomes.push_back(absl::StrFormat("%d in %.0f ms", res->status, ms));
        } else if (ms < 1000) {
          outcomes.push_back(absl::StrFormat("refused in %.0f ms", ms));
        } else {
          ++hung;
          outcomes.push_back(absl::StrFormat("no answer in %.0f ms", ms));
        }
      }
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    for (int fd : fds) close(fd);
    ++out.variants;
    out.details.push_back(
        absl::StrCat(v.connections, " trickling connections from ",
                     v.own_address ? "the requester's own address" : "other addresses", ": ",
                     absl::StrJoin(outcomes, ", ")));
    // From other addresses every request must be served; from its own, refused at once is right.
    const bool all_served = std::all_of(outcomes.begin(), outcomes.end(), [](const std::string& o) {
      return o.rfind("200", 0) == 0;
    });
    if (hung > 0 || (!v.own_address && !all_served)) ++out.wrong_acceptances;
  }
  if (!provd->Running()) ++out.crashes;
  out.notes = "GET / asked every 3 s while the slow connections trickle";
  return out;
}

FamilyResult HostileImports(const ProbeEnv& env) {
  FamilyResult out{.name = "imports"};
  auto provd = StartFamilyProvd(env, out);
  if (provd == nullptr) return out;
  const std::string dir = provd->data_dir();
  const std::string token_file = dir + "/admin.token";
  auto import = [&](const std::string& file, absl::Duration timeout) {
    return RunProgram({env.bin_dir + "/provctl", "--server", provd->address(), "--insecure",
                       "--token-file", token_file, "accounts", "import", file},
                      file + ".log", timeout);
  };
  struct Variant {
    std::string label;
    std::string text;
  };
  std::string big_row = absl::StrCat("big,", std::string(5 << 20, 'B'), ",US,,,,,,,no\n");
  std::vector<Variant> variants = {
      {"Windows-1252 byte", absl::StrCat(kKycHeader, "good-1,Good One Ltd,US,,,,,,,no\n",
                                         "socgen,Soci\xe9t\xe9 G\xe9n\xe9rale,FR,,,,,,,no\n")},
      {"unterminated quote on line 3", absl::StrCat(kKycHeader, "good-1,Good One Ltd,US,,,,,,,no\n",
                                                    "bad-quote,\"Open Quote Ltd,US,,,,,,,no\n",
                                                    "good-3,Good Three Ltd,US,,,,,,,no\n")},
      {"per-row field error", absl::StrCat(kKycHeader, "good-1,Good One Ltd,US,,,,,,,no\n",
                                           "bad-country,Bad Country Ltd,USA,,,,,,,no\n")},
      {"5 MiB legal_entity", absl::StrCat(kKycHeader, big_row)},
  };
  for (size_t i = 0; i < variants.size(); ++i) {
    const std::string file = absl::StrCat(dir, "/import-", i, ".csv");
    WriteFile(file, variants[i].text);
    const int code = import(file, absl::Seconds(120));
    ++out.variants;
    out.details.push_back(absl::StrCat(variants[i].label, ": provctl exit ", code));
    if (code == 0) ++out.wrong_acceptances;
    if (!StillServing(*provd, out)) break;
  }
  // SIGTERM during a large import must return promptly, and provd must start again on the data.
  {
    std::string rows = kKycHeader;
    for (int i = 0; i < 100000; ++i) {
      absl::StrAppend(&rows, "acct-", i, ",Company Number ", i, " Ltd,GB,Owner ", i,
                      " (GB),,,,,,no\n");
    }
    const std::string file = dir + "/import-large.csv";
    WriteFile(file, rows);
    std::thread client([&] { import(file, absl::Seconds(120)); });
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    auto took = provd->Stop(absl::Seconds(30));
    client.join();
    ++out.variants;
    if (took.ok()) {
      out.details.push_back(absl::StrFormat("SIGTERM during a 100,000-row import: exited in %.1f s",
                                            absl::ToDoubleSeconds(*took)));
      if (*took > absl::Seconds(10)) ++out.wrong_acceptances;
    } else {
      ++out.wrong_acceptances;
      out.details.push_back(absl::StrCat("SIGTERM during an import: ", took.status().message()));
    }
    ++out.variants;
    absl::Status restarted = provd->Restart();
    out.details.push_back(absl::StrCat("provd starts again on the data directory: ",
                                       restarted.ok() ? "yes" : restarted.message()));
    if (!restarted.ok()) ++out.crashes;
  }
  out.notes = "KYC CSV through provctl; a failure must exit non-zero and keep provd serving";
  return out;
}

}  // namespace prov::probe
