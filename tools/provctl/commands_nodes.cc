// provctl: node identity administration (nodes revoke, nodes revocations, nodes enroll-token;
// issue 10).
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "provenance/v1/node_admin.grpc.pb.h"
#include "tools/provctl/commands.h"

namespace prov::provctl {
namespace {

using namespace provenance::v1;

std::string When(const google::protobuf::Timestamp& t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixSeconds(t.seconds()),
                          absl::UTCTimeZone());
}

std::string RevocationsTable(const ListNodeRevocationsResponse& resp) {
  if (resp.revocations().empty()) return "no revoked nodes\n";
  std::string out = "NODE\tREVOKED AT\tBY\tREASON\n";
  for (const NodeRevocation& r : resp.revocations()) {
    absl::StrAppend(&out, r.node_id(), "\t", When(r.revoked_at()), "\t", r.revoked_by(), "\t",
                    r.reason().empty() ? "-" : r.reason(), "\n");
  }
  return out;
}

}  // namespace

int RunNodeAdmin(const Invocation& inv, const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = NodeAdminService::NewStub(channel);
  grpc::ClientContext ctx;
  SetDeadline(&ctx, inv);
  if (inv.command == "nodes revocations") {
    ListNodeRevocationsResponse resp;
    grpc::Status s = stub->ListNodeRevocations(&ctx, ListNodeRevocationsRequest(), &resp);
    return s.ok() ? Emit(inv, resp, RevocationsTable(resp)) : Fail(inv, s);
  }
  if (inv.command == "nodes enroll-token") {
    CreateEnrollTokenRequest req;
    req.set_node_id(inv.node_id);
    req.set_ttl_seconds(inv.ttl_seconds);
    EnrollToken resp;
    grpc::Status s = stub->CreateEnrollToken(&ctx, req, &resp);
    // The token alone on the first line, so `provctl ... | head -1 > token` works.
    return s.ok()
               ? Emit(inv, resp,
                      absl::StrCat(resp.token(), "\n", "# enrols node ", resp.node_id(),
                                   " once, until ", When(resp.expires_at()), " (", resp.token_id(),
                                   "); shown once: provd keeps only its hash\n"))
               : Fail(inv, s);
  }
  RevokeNodeRequest req;
  req.set_node_id(inv.node_id);
  req.set_reason(inv.note);
  NodeRevocation resp;
  grpc::Status s = stub->RevokeNode(&ctx, req, &resp);
  return s.ok()
             ? Emit(inv, resp,
                    absl::StrCat("revoked node ", resp.node_id(), " at ", When(resp.revoked_at()),
                                 " (", resp.streams_ended(), " open stream(s) ended)\n"))
             : Fail(inv, s);
}

}  // namespace prov::provctl
