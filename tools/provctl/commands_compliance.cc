// provctl: the compliance workflow (whoami, tokens, cases, audit log).
#include <iostream>

#include "provenance/v1/compliance.grpc.pb.h"
#include "tools/provctl/commands.h"
#include "tools/provctl/format_compliance.h"

namespace prov::provctl {
namespace {

using namespace provenance::v1;

int RunTokens(const Invocation& inv, const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = AccessService::NewStub(channel);
  grpc::ClientContext ctx;
  SetDeadline(&ctx, inv);
  if (inv.command == "whoami") {
    Principal resp;
    grpc::Status s = stub->WhoAmI(&ctx, WhoAmIRequest(), &resp);
    return s.ok() ? Emit(inv, resp, PrincipalText(resp)) : Fail(inv, s);
  }
  if (inv.command == "tokens issue") {
    IssueTokenRequest req;
    req.set_name(inv.name);
    req.set_role(inv.role);
    req.set_ttl_seconds(inv.ttl_seconds);
    IssueTokenResponse resp;
    grpc::Status s = stub->IssueToken(&ctx, req, &resp);
    return s.ok() ? Emit(inv, resp, IssuedTokenText(resp)) : Fail(inv, s);
  }
  if (inv.command == "tokens list") {
    ListTokensResponse resp;
    grpc::Status s = stub->ListTokens(&ctx, ListTokensRequest(), &resp);
    return s.ok() ? Emit(inv, resp, TokensTable(resp)) : Fail(inv, s);
  }
  RevokeTokenRequest req;
  req.set_token_id(inv.name);
  TokenInfo resp;
  grpc::Status s = stub->RevokeToken(&ctx, req, &resp);
  return s.ok()
             ? Emit(inv, resp, absl::StrCat("revoked ", resp.token_id(), " (", resp.name(), ")\n"))
             : Fail(inv, s);
}

int RunCases(const Invocation& inv, const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = CaseService::NewStub(channel);
  grpc::ClientContext ctx;
  SetDeadline(&ctx, inv);
  if (inv.command == "cases list") {
    ListCasesRequest req;
    req.set_status(inv.status);
    req.set_assignee(inv.assignee);
    req.set_limit(inv.limit);
    ListCasesResponse resp;
    grpc::Status s = stub->ListCases(&ctx, req, &resp);
    return s.ok() ? Emit(inv, resp, CasesTable(resp)) : Fail(inv, s);
  }
  Case resp;
  grpc::Status s;
  if (inv.command == "case show") {
    GetCaseRequest req;
    req.set_flag_id(inv.flag_id);
    s = stub->GetCase(&ctx, req, &resp);
  } else {
    UpdateCaseRequest req;
    req.set_flag_id(inv.flag_id);
    req.set_action(inv.case_action);
    req.set_assignee(inv.assignee);
    req.set_disposition(inv.disposition);
    req.set_note(inv.note);
    req.set_duplicate_of(inv.duplicate_of);
    req.set_expected_revision(inv.expected_revision);
    s = stub->UpdateCase(&ctx, req, &resp);
  }
  return s.ok() ? Emit(inv, resp, CaseDetail(resp)) : Fail(inv, s);
}

int RunAuditLog(const Invocation& inv, const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = AuditLogService::NewStub(channel);
  grpc::ClientContext ctx;
  SetDeadline(&ctx, inv);
  if (inv.command == "audit log") {
    ListAuditEntriesRequest req;
    req.set_after_seq(inv.after_seq);
    req.set_limit(inv.limit);
    req.set_action_prefix(inv.action_prefix);
    ListAuditEntriesResponse resp;
    grpc::Status s = stub->ListAuditEntries(&ctx, req, &resp);
    return s.ok() ? Emit(inv, resp, AuditTable(resp)) : Fail(inv, s);
  }
  VerifyAuditLogRequest req;
  req.set_anchor_seq(inv.anchor_seq);
  req.set_anchor_hash(inv.anchor_hash);
  VerifyAuditLogResponse resp;
  grpc::Status s = stub->VerifyAuditLog(&ctx, req, &resp);
  if (!s.ok()) return Fail(inv, s);
  Emit(inv, resp, VerifyText(resp));
  return resp.intact() ? 0 : 1;  // a tampered log fails the command (scripts, cron)
}

}  // namespace

int RunCompliance(const Invocation& inv, const std::shared_ptr<grpc::Channel>& channel) {
  const std::string& c = inv.command;
  if (c == "whoami" || c.rfind("tokens ", 0) == 0) return RunTokens(inv, channel);
  if (c.rfind("case", 0) == 0) return RunCases(inv, channel);
  return RunAuditLog(inv, channel);
}

}  // namespace prov::provctl
