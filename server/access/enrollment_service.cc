#include "server/access/enrollment_service.h"

#include <openssl/crypto.h>

#include <optional>

#include "absl/strings/str_cat.h"
#include "common/grpc/status.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "google/protobuf/util/time_util.h"
#include "grpc/grpc_security_constants.h"
#include "grpcpp/security/auth_context.h"
#include "server/store/repo/audit_log.h"

namespace prov::server {
namespace {

using google::protobuf::util::TimeUtil;

constexpr size_t kMaxCsrBytes = 16 * 1024;
constexpr size_t kMaxTokenBytes = 256;

std::string FirstProperty(const grpc::ServerContext& context, const char* name) {
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr) return "";
  auto values = auth->FindPropertyValues(name);
  return values.empty() ? std::string() : std::string(values[0].data(), values[0].size());
}

bool PeerAuthenticated(const grpc::ServerContext& context) {
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  return auth != nullptr && auth->IsPeerAuthenticated();
}

}  // namespace

absl::StatusOr<std::unique_ptr<EnrollmentServiceImpl>> EnrollmentServiceImpl::Create(
    std::unique_ptr<NodeEnrollmentRepository> enrollments, std::unique_ptr<AuditAppender> audit,
    const Clock& clock, const NodeCa& ca, const NodeCertBinder* renewals,
    FailedAuthLimiter* limiter, prometheus::Registry& registry) {
  if (enrollments == nullptr || audit == nullptr) {
    return absl::InvalidArgumentError("enrollments, audit: must not be null");
  }
  auto& family = prometheus::BuildCounter()
                     .Name("prov_node_enrollments_total")
                     .Help(
                         "Node enrolment calls by result (issued, renewed, refused, invalid, "
                         "error)")
                     .Register(registry);
  Counters counters{&family.Add({{"result", "issued"}}), &family.Add({{"result", "renewed"}}),
                    &family.Add({{"result", "refused"}}), &family.Add({{"result", "invalid"}}),
                    &family.Add({{"result", "error"}})};
  return std::unique_ptr<EnrollmentServiceImpl>(new EnrollmentServiceImpl(
      std::move(enrollments), std::move(audit), clock, ca, renewals, limiter, counters));
}

absl::StatusOr<std::string> EnrollmentServiceImpl::CheckToken(const std::string& token,
                                                              std::string* token_id,
                                                              absl::Time now) {
  const size_t dot = token.find('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == token.size()) {
    return absl::PermissionDeniedError("malformed token");
  }
  *token_id = token.substr(0, dot);
  PROV_ASSIGN_OR_RETURN(std::optional<StoredEnrollToken> stored,
                        enrollments_->FindToken(*token_id));
  if (!stored.has_value()) return absl::PermissionDeniedError("unknown token id");
  const std::string hash = Sha256Hex(absl::string_view(token).substr(dot + 1));
  if (hash.size() != stored->secret_sha256.size() ||
      CRYPTO_memcmp(hash.data(), stored->secret_sha256.data(), hash.size()) != 0) {
    return absl::PermissionDeniedError("wrong secret");
  }
  if (stored->used_at.has_value()) {
    return absl::PermissionDeniedError(
        absl::StrCat("token used already at ", absl::FormatTime(*stored->used_at)));
  }
  if (now >= stored->expires_at) {
    return absl::PermissionDeniedError(
        absl::StrCat("token expired at ", absl::FormatTime(stored->expires_at)));
  }
  return stored->node_id;
}

grpc::Status EnrollmentServiceImpl::Refuse(const std::string& peer, const std::string& actor,
                                           const std::string& reason, absl::Time now) {
  counters_.refused->Increment();
  if (limiter_ != nullptr) limiter_->RecordFailure(peer);
  absl::Status audited = audit_->Append(
      {actor, "node.enroll_refused", AuditPayload({{"reason", reason}, {"peer", peer}}), now});
  if (!audited.ok()) counters_.error->Increment();
  return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "enrolment refused");
}

grpc::Status EnrollmentServiceImpl::Enroll(grpc::ServerContext* context,
                                           const provenance::v1::EnrollRequest* request,
                                           provenance::v1::EnrollResponse* response) {
  const std::string peer = PeerAddress(context->peer());
  if (limiter_ != nullptr) {
    if (std::optional<absl::Duration> wait = limiter_->Blocked(peer)) {
      counters_.refused->Increment();
      return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          absl::StrCat("too many failed enrolments from this address; retry in ",
                                       absl::FormatDuration(*wait)));
    }
  }
  if (request->csr_pem().empty() || request->csr_pem().size() > kMaxCsrBytes) {
    counters_.invalid->Increment();
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "csr_pem: must be 1..16384 bytes");
  }
  if (request->token().size() > kMaxTokenBytes) {
    counters_.invalid->Increment();
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "token: at most 256 bytes");
  }
  const absl::Time now = clock_.Now();
  if (!request->token().empty()) {
    std::string token_id;
    absl::StatusOr<std::string> node = CheckToken(request->token(), &token_id, now);
    if (!node.ok()) {
      if (node.status().code() != absl::StatusCode::kPermissionDenied) {
        counters_.error->Increment();
        return ToGrpcStatus(node.status());
      }
      return Refuse(peer, token_id.empty() ? "enroll-token:?" : "enroll-token:" + token_id,
                    std::string(node.status().message()), now);
    }
    return Issue(peer, *node, request->csr_pem(), "enroll-token:" + token_id, token_id, now,
                 response);
  }
  // Renewal: the node's current certificate authenticates the call.
  const std::string leaf = FirstProperty(*context, GRPC_X509_PEM_CERT_PROPERTY_NAME);
  if (!PeerAuthenticated(*context) || leaf.empty()) {
    counters_.refused->Increment();
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "enrolment needs a token, or the node's current client certificate to "
                        "renew");
  }
  if (renewals_ == nullptr) {
    return Refuse(peer, "enroll-cert:?", "renewal needs --node-identity=cert", now);
  }
  absl::StatusOr<BoundNode> bound =
      renewals_->Bind(leaf, FirstProperty(*context, GRPC_X509_PEM_CERT_CHAIN_PROPERTY_NAME));
  if (!bound.ok()) {
    return Refuse(peer, "enroll-cert:?", std::string(bound.status().message()), now);
  }
  return Issue(peer, bound->node_id, request->csr_pem(), "node:" + bound->node_id, "", now,
               response);
}

grpc::Status EnrollmentServiceImpl::Issue(const std::string& peer, const std::string& node_id,
                                          const std::string& csr_pem, const std::string& actor,
                                          const std::string& token_id, absl::Time now,
                                          provenance::v1::EnrollResponse* response) {
  absl::StatusOr<IssuedNodeCert> cert = ca_.Issue(csr_pem, node_id, now);
  if (!cert.ok()) {
    (cert.status().code() == absl::StatusCode::kInvalidArgument ? counters_.invalid
                                                                : counters_.error)
        ->Increment();
    return ToGrpcStatus(cert.status());
  }
  const bool renewal = token_id.empty();
  absl::Status stored = enrollments_->RecordCertificate(
      {cert->serial_hex, node_id, now, cert->not_after, renewal ? "renewal" : "token"}, token_id,
      {actor, renewal ? "node.renew" : "node.enroll",
       AuditPayload({{"node_id", node_id},
                     {"serial", cert->serial_hex},
                     {"token_id", token_id},
                     {"not_after", absl::FormatTime(cert->not_after)}}),
       now});
  if (stored.code() == absl::StatusCode::kFailedPrecondition) {
    // Another enrolment used the token between the check and this transaction.
    return Refuse(peer, actor, std::string(stored.message()), now);
  }
  if (!stored.ok()) {
    counters_.error->Increment();
    return ToGrpcStatus(stored);
  }
  (renewal ? counters_.renewed : counters_.issued)->Increment();
  if (on_issued_) on_issued_(node_id, cert->cert_pem);
  response->set_node_id(node_id);
  response->set_certificate_pem(cert->cert_pem + ca_.ca_cert_pem());
  response->set_serial(cert->serial_hex);
  *response->mutable_not_before() = TimeUtil::SecondsToTimestamp(absl::ToUnixSeconds(now));
  *response->mutable_not_after() =
      TimeUtil::SecondsToTimestamp(absl::ToUnixSeconds(cert->not_after));
  return grpc::Status::OK;
}

}  // namespace prov::server
