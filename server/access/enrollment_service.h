// EnrollmentServiceImpl (node_admin.proto's NodeEnrollmentService, issue 10 §1): a node trades a
// one-time enrolment token (or, to renew, its current certificate) and a CSR for a short-lived
// client certificate signed by provd's node CA (node_ca.h) for exactly that node.
//
//   PROV_ASSIGN_OR_RETURN(auto enroll, EnrollmentServiceImpl::Create(
//       std::move(enrollments), std::move(audit), clock, *node_ca, node_certs.get(), &limiter,
//       *registry));   // a NodeEnrollmentRepository and an AuditAppender, of either engine
//   enroll_builder.RegisterService(enroll.get());   // on the enrolment listener only
//
// Served on its own listener (provd --enroll-listen), whose TLS requests but does not require a
// client certificate: every other service stays on the main listener, which requires one.
// Token: "<token_id>.<secret>". It is looked up by id and its secret's SHA-256 compared in
// constant time with the stored one; it must be unused and unexpired (provd's clock). The token
// is marked used in the transaction that records the issued serial and the "node.enroll" audit
// entry (NodeEnrollmentRepository::RecordCertificate: of two enrolments racing with one token,
// on any replicas, one wins). Every refusal is PERMISSION_DENIED "enrolment refused" without saying
// which check failed, counted, audited ("node.enroll_refused", with the reason, for the operator),
// and counted against the caller's address in the FailedAuthLimiter (RESOURCE_EXHAUSTED past it).
// Renewal (no token): the peer's verified certificate must bind a node (NodeCertBinder: right
// trust domain, not a person's, not revoked); the new certificate names the same node.
//
// Metrics: prov_node_enrollments_total{result="issued"|"renewed"|"refused"|"invalid"|"error"}.
// Sync gRPC handlers; thread-safe (the repositories serialise their own calls).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"
#include "provenance/v1/node_admin.grpc.pb.h"
#include "server/access/failed_auth_limiter.h"
#include "server/access/node_ca.h"
#include "server/access/node_cert.h"
#include "server/store/repo/audit_appender.h"
#include "server/store/repo/node_enrollment.h"

namespace prov::server {

class EnrollmentServiceImpl final : public provenance::v1::NodeEnrollmentService::Service {
 public:
  // `ca` must outlive the service; `renewals` (may be null: no renewal) binds a renewing node's
  // certificate; `limiter` may be null.
  static absl::StatusOr<std::unique_ptr<EnrollmentServiceImpl>> Create(
      std::unique_ptr<NodeEnrollmentRepository> enrollments, std::unique_ptr<AuditAppender> audit,
      const Clock& clock, const NodeCa& ca, const NodeCertBinder* renewals,
      FailedAuthLimiter* limiter, prometheus::Registry& registry);

  grpc::Status Enroll(grpc::ServerContext* context, const provenance::v1::EnrollRequest* request,
                      provenance::v1::EnrollResponse* response) override;
  // Called (before serving) with each certificate issued and stored: location verification
  // records the node's key (issue 11). It must only queue.
  void SetOnIssued(std::function<void(const std::string& node_id, const std::string& cert_pem)> f) {
    on_issued_ = std::move(f);
  }

 private:
  std::function<void(const std::string&, const std::string&)> on_issued_;
  struct Counters {
    prometheus::Counter* issued;
    prometheus::Counter* renewed;
    prometheus::Counter* refused;
    prometheus::Counter* invalid;
    prometheus::Counter* error;
  };
  EnrollmentServiceImpl(std::unique_ptr<NodeEnrollmentRepository> enrollments,
                        std::unique_ptr<AuditAppender> audit, const Clock& clock, const NodeCa& ca,
                        const NodeCertBinder* renewals, FailedAuthLimiter* limiter,
                        Counters counters)
      : enrollments_(std::move(enrollments)),
        audit_(std::move(audit)),
        clock_(clock),
        ca_(ca),
        renewals_(renewals),
        limiter_(limiter),
        counters_(counters) {}

  // The node a token enrols; the refusal reason (audit only) otherwise.
  absl::StatusOr<std::string> CheckToken(const std::string& token, std::string* token_id,
                                         absl::Time now);
  grpc::Status Refuse(const std::string& peer, const std::string& actor, const std::string& reason,
                      absl::Time now);
  grpc::Status Issue(const std::string& peer, const std::string& node_id,
                     const std::string& csr_pem, const std::string& actor,
                     const std::string& token_id, absl::Time now,
                     provenance::v1::EnrollResponse* response);

  const std::unique_ptr<NodeEnrollmentRepository> enrollments_;
  const std::unique_ptr<AuditAppender> audit_;
  const Clock& clock_;
  const NodeCa& ca_;
  const NodeCertBinder* const renewals_;
  FailedAuthLimiter* const limiter_;
  const Counters counters_;
};

}  // namespace prov::server
