#include "server/access/access_service.h"

#include "absl/strings/str_cat.h"
#include "common/grpc/status.h"
#include "google/protobuf/util/time_util.h"

namespace prov::server {
grpc::Status AccessServiceImpl::WhoAmI(grpc::ServerContext* context,
                                       const provenance::v1::WhoAmIRequest*,
                                       provenance::v1::Principal* response) {
  return auth_.Require(context, provenance::v1::ROLE_VIEWER, response);
}

grpc::Status AccessServiceImpl::IssueToken(grpc::ServerContext* context,
                                           const provenance::v1::IssueTokenRequest* request,
                                           provenance::v1::IssueTokenResponse* response) {
  Principal who;
  if (auto s = auth_.Require(context, provenance::v1::ROLE_ADMIN, &who); !s.ok()) return s;
  if (request->ttl_seconds() > uint64_t{366} * 86400) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "ttl_seconds: at most a year (366 days)");
  }
  auto issued = tokens_.Issue(request->name(), request->role(), who.actor(),
                              absl::Seconds(static_cast<int64_t>(request->ttl_seconds())));
  if (!issued.ok()) return ToGrpcStatus(issued.status());
  *response = *std::move(issued);
  return grpc::Status::OK;
}

grpc::Status AccessServiceImpl::ListTokens(grpc::ServerContext* context,
                                           const provenance::v1::ListTokensRequest*,
                                           provenance::v1::ListTokensResponse* response) {
  if (auto s = auth_.Require(context, provenance::v1::ROLE_ADMIN, nullptr); !s.ok()) return s;
  for (auto& t : tokens_.List()) *response->add_tokens() = std::move(t);
  return grpc::Status::OK;
}

grpc::Status AccessServiceImpl::RevokeToken(grpc::ServerContext* context,
                                            const provenance::v1::RevokeTokenRequest* request,
                                            provenance::v1::TokenInfo* response) {
  Principal who;
  if (auto s = auth_.Require(context, provenance::v1::ROLE_ADMIN, &who); !s.ok()) return s;
  auto revoked = tokens_.Revoke(request->token_id(), who.actor());
  if (!revoked.ok()) return ToGrpcStatus(revoked.status());
  *response = *std::move(revoked);
  return grpc::Status::OK;
}

grpc::Status AuditLogServiceImpl::ListAuditEntries(
    grpc::ServerContext* context, const provenance::v1::ListAuditEntriesRequest* request,
    provenance::v1::ListAuditEntriesResponse* response) {
  if (auto s = auth_.Require(context, provenance::v1::ROLE_ANALYST, nullptr); !s.ok()) return s;
  const uint32_t limit = request->limit() == 0 ? 1000 : std::min(request->limit(), 100000u);
  auto entries = reader_.List(request->after_seq(), limit, request->action_prefix());
  if (!entries.ok()) return ToGrpcStatus(entries.status());
  for (const auto& e : *entries) {
    auto* out = response->add_entries();
    out->set_seq(e.seq);
    *out->mutable_time() =
        google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(e.time_unix_micros);
    out->set_actor(e.actor);
    out->set_action(e.action);
    out->set_payload(e.payload);
    out->set_prev_hash(e.prev_hash);
    out->set_hash(e.hash);
  }
  return grpc::Status::OK;
}

grpc::Status AuditLogServiceImpl::VerifyAuditLog(
    grpc::ServerContext* context, const provenance::v1::VerifyAuditLogRequest* request,
    provenance::v1::VerifyAuditLogResponse* response) {
  if (auto s = auth_.Require(context, provenance::v1::ROLE_ADMIN, nullptr); !s.ok()) return s;
  std::optional<integrity::ChainAnchor> anchor;
  if (request->anchor_seq() > 0) {
    if (request->anchor_hash().size() != 64) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "anchor_hash: must be 64 hex characters when anchor_seq is set");
    }
    anchor = integrity::ChainAnchor{request->anchor_seq(), request->anchor_hash()};
  }
  auto v = reader_.Verify(anchor);
  if (!v.ok()) return ToGrpcStatus(v.status());
  response->set_intact(v->intact());
  response->set_entries(v->entries);
  response->set_head_seq(v->head.seq);
  response->set_head_hash(v->head.hash);
  if (v->anchor.has_value()) response->set_anchor_seq(v->anchor->seq);
  for (const auto& p : v->problems) response->add_problems(p.message);
  return grpc::Status::OK;
}

}  // namespace prov::server
