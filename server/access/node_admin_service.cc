#include "server/access/node_admin_service.h"

#include "absl/strings/str_cat.h"
#include "common/grpc/status.h"
#include "common/integrity/random.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "google/protobuf/util/time_util.h"
#include "server/store/repo/audit_log.h"

namespace prov::server {
namespace {

using google::protobuf::util::TimeUtil;

void ToProto(const StoredRevocation& r, provenance::v1::NodeRevocation* out) {
  out->set_node_id(r.node_id);
  *out->mutable_revoked_at() = TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(r.revoked_at));
  out->set_revoked_by(r.revoked_by);
  out->set_reason(r.reason);
}

}  // namespace

absl::StatusOr<std::unique_ptr<NodeAdminServiceImpl>> NodeAdminServiceImpl::Create(
    std::unique_ptr<NodeRevocationRepository> revocations,
    std::unique_ptr<NodeEnrollmentRepository> enrollments, const Clock& clock,
    const Authenticator& auth, NodeRevocationList& revoked, EndStreams end_streams) {
  if (revocations == nullptr || enrollments == nullptr) {
    return absl::InvalidArgumentError("revocations, enrollments: must not be null");
  }
  PROV_ASSIGN_OR_RETURN(std::vector<StoredRevocation> stored, revocations->List());
  for (const StoredRevocation& r : stored) revoked.Add(r.node_id, r.revoked_at);
  return std::unique_ptr<NodeAdminServiceImpl>(
      new NodeAdminServiceImpl(std::move(revocations), std::move(enrollments), clock, auth, revoked,
                               std::move(end_streams)));
}

grpc::Status NodeAdminServiceImpl::RevokeNode(grpc::ServerContext* context,
                                              const provenance::v1::RevokeNodeRequest* request,
                                              provenance::v1::NodeRevocation* response) {
  provenance::v1::Principal who;
  if (auto s = auth_.Require(context, provenance::v1::ROLE_ADMIN, &who); !s.ok()) return s;
  const std::string& node_id = request->node_id();
  if (node_id.empty() || node_id.size() > 256) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "node_id: must be 1..256 bytes");
  }
  if (request->reason().size() > 1024) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "reason: at most 1024 bytes");
  }
  const absl::Time now = clock_.Now();
  absl::StatusOr<StoredRevocation> stored = revocations_->Revoke(
      {node_id, now, who.actor(), request->reason()},
      {who.actor(), "node.revoke",
       AuditPayload({{"node_id", node_id}, {"reason", request->reason()}}), now});
  if (!stored.ok()) return ToGrpcStatus(stored.status());
  revoked_.Add(stored->node_id, stored->revoked_at);
  const int ended = end_streams_ ? end_streams_(node_id) : 0;
  ToProto(*stored, response);
  response->set_streams_ended(static_cast<uint32_t>(ended));
  return grpc::Status::OK;
}

grpc::Status NodeAdminServiceImpl::ListNodeRevocations(
    grpc::ServerContext* context, const provenance::v1::ListNodeRevocationsRequest* request,
    provenance::v1::ListNodeRevocationsResponse* response) {
  if (auto s = auth_.Require(context, provenance::v1::ROLE_ADMIN, nullptr); !s.ok()) return s;
  absl::StatusOr<std::vector<StoredRevocation>> all = revocations_->List();
  if (!all.ok()) return ToGrpcStatus(all.status());
  for (const StoredRevocation& r : *all) ToProto(r, response->add_revocations());
  return grpc::Status::OK;
}

grpc::Status NodeAdminServiceImpl::CreateEnrollToken(
    grpc::ServerContext* context, const provenance::v1::CreateEnrollTokenRequest* request,
    provenance::v1::EnrollToken* response) {
  provenance::v1::Principal who;
  if (auto s = auth_.Require(context, provenance::v1::ROLE_ADMIN, &who); !s.ok()) return s;
  const std::string& node_id = request->node_id();
  if (node_id.empty() || node_id.size() > 256 || node_id.find('/') != std::string::npos) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "node_id: must be 1..256 bytes without '/'");
  }
  constexpr uint32_t kMaxTtlSeconds = 7 * 24 * 3600;
  if (request->ttl_seconds() > kMaxTtlSeconds) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "ttl_seconds: at most 7 days");
  }
  const absl::Duration ttl =
      request->ttl_seconds() == 0 ? absl::Hours(1) : absl::Seconds(request->ttl_seconds());
  const absl::Time now = clock_.Now();
  StoredEnrollToken token;
  token.token_id = absl::StrCat("E-", integrity::RandomHex(8));
  const std::string secret = integrity::RandomHex(32);
  token.secret_sha256 = Sha256Hex(secret);
  token.node_id = node_id;
  token.created_at = now;
  token.created_by = who.actor();
  token.expires_at = now + ttl;
  absl::Status stored = enrollments_->CreateToken(
      token, {who.actor(), "node.enroll_token",
              AuditPayload({{"node_id", node_id},
                            {"token_id", token.token_id},
                            {"expires_at", absl::FormatTime(token.expires_at)}}),
              now});
  if (!stored.ok()) return ToGrpcStatus(stored);
  response->set_token(absl::StrCat(token.token_id, ".", secret));
  response->set_token_id(token.token_id);
  response->set_node_id(node_id);
  *response->mutable_expires_at() =
      TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(token.expires_at));
  return grpc::Status::OK;
}

}  // namespace prov::server
