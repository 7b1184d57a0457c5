// provctl: IdentityService commands (accounts import, account, screening import, policy).
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "common/fs.h"
#include "common/grpc/streamed_parts.h"
#include "provenance/v1/analysis.grpc.pb.h"
#include "tools/provctl/commands.h"
#include "tools/provctl/format_identity.h"
#include "tools/provctl/requests.h"

namespace prov::provctl {
namespace {

using namespace provenance::v1;

// Reads FILE whole; prints why not and returns nullopt when it cannot.
std::optional<std::string> ReadInput(const Invocation& inv, size_t max_bytes) {
  absl::StatusOr<std::string> content = ReadFileToString(inv.file, max_bytes + 1);
  if (!content.ok()) {
    std::fprintf(stderr, "provctl: cannot read %s: %s\n", inv.file.c_str(),
                 std::string(content.status().message()).c_str());
    return std::nullopt;
  }
  if (content->size() > max_bytes) {
    std::fprintf(stderr, "provctl: %s is larger than provd accepts (%zu MiB)\n", inv.file.c_str(),
                 max_bytes >> 20);
    return std::nullopt;
  }
  return *std::move(content);
}

// An import the transport refused for its size says so in terms of the file.
int FailImport(const Invocation& inv, const grpc::Status& status, size_t bytes) {
  if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
    std::fprintf(stderr, "provctl: %s (%zu bytes) is larger than provd accepts: %s\n",
                 inv.file.c_str(), bytes, status.error_message().c_str());
    return 1;
  }
  return Fail(inv, status);
}

// kubectl-style: an import that refused rows failed, even though its good rows went in. Every
// refused row is named on stderr (after the summary), and the exit status is 1.
int PartialFailure(const Invocation& inv,
                   const google::protobuf::RepeatedPtrField<std::string>& errors, int emitted) {
  if (errors.empty()) return emitted;
  std::cerr << RowErrorLines(errors, inv.file);
  std::fprintf(stderr, "provctl: %s: %d row error%s; the other rows were imported\n",
               inv.file.c_str(), errors.size(), errors.size() == 1 ? "" : "s");
  return emitted != 0 ? emitted : 1;
}

}  // namespace

int RunIdentity(const Invocation& inv, const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = IdentityService::NewStub(channel);
  grpc::ClientContext ctx;
  SetDeadline(&ctx, inv);
  if (inv.command == "accounts import") {
    std::optional<std::string> content = ReadInput(inv, kMaxImportFileBytes);
    if (!content.has_value()) return 1;
    absl::StatusOr<ImportAccountsRequest> req = ImportAccountsRequestFor(inv, *std::move(content));
    if (!req.ok()) {
      std::fprintf(stderr, "provctl: %s\n", std::string(req.status().message()).c_str());
      return 2;
    }
    ImportAccountsResponse resp;
    grpc::Status s = SendInParts(stub->ImportAccountsStream(&ctx, &resp), *req);
    if (!s.ok()) return FailImport(inv, s, req->content().size());
    return PartialFailure(inv, resp.errors(), Emit(inv, resp, AccountsImported(resp, inv.file)));
  }
  if (inv.command == "screening import") {
    std::optional<std::string> content = ReadInput(inv, kMaxImportFileBytes);
    if (!content.has_value()) return 1;
    ImportScreeningListRequest req = ImportScreeningListRequestFor(inv, *std::move(content));
    ImportScreeningListResponse resp;
    grpc::Status s = SendInParts(stub->ImportScreeningListStream(&ctx, &resp), req);
    if (!s.ok()) return FailImport(inv, s, req.content().size());
    return PartialFailure(inv, resp.errors(), Emit(inv, resp, ScreeningImported(resp, inv.file)));
  }
  if (inv.command == "policy load") {
    std::optional<std::string> yaml = ReadInput(inv, kMaxPolicyFileBytes);
    if (!yaml.has_value()) return 1;
    LoadPolicyResponse resp;
    grpc::Status s = stub->LoadPolicy(&ctx, LoadPolicyRequestFor(inv, *std::move(yaml)), &resp);
    return s.ok() ? Emit(inv, resp, PolicyLoaded(resp, inv.file)) : Fail(inv, s);
  }
  if (inv.command == "policy show") {
    GetPolicyResponse resp;
    grpc::Status s = stub->GetPolicy(&ctx, GetPolicyRequest(), &resp);
    return s.ok() ? Emit(inv, resp, PolicyDetail(resp)) : Fail(inv, s);
  }
  GetAccountRequest req;
  req.set_account_id(inv.account);
  GetAccountResponse resp;
  grpc::Status s = stub->GetAccount(&ctx, req, &resp);
  return s.ok() ? Emit(inv, resp, AccountDetail(resp)) : Fail(inv, s);
}

}  // namespace prov::provctl
