// NodeAdminServiceImpl (node_admin.proto): revoking a node's certificates and creating its
// one-time enrolment tokens (issue 10 §1). Admin only; each revocation is stored
// (NodeRevocationRepository, server/store/repo/node_revocations.h) with its "node.revoke" audit
// entry in one transaction, then added to the gateway's NodeRevocationList and the node's open
// agent streams are ended. An enrolment token's secret is returned once; only its SHA-256 is
// stored (NodeEnrollmentRepository, server/store/repo/node_enrollment.h), with a
// "node.enroll_token" audit entry in the same transaction.
//
//   PROV_ASSIGN_OR_RETURN(auto admin, NodeAdminServiceImpl::Create(
//       std::move(revocations), std::move(enrollments), clock, auth, revoked,
//       [&](const std::string& node) { return EndStreams(node); }));
//   builder.RegisterService(admin.get());
//
// Only this replica's NodeRevocationList learns of a revocation made here at once; other replicas
// on the same PostgreSQL learn of it through their NodeRevocationSync (node_revocation_sync.h).
// Sync gRPC handlers; thread-safe (the repositories serialise their own calls).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "provenance/v1/node_admin.grpc.pb.h"
#include "server/access/authenticator.h"
#include "server/access/node_revocation_list.h"
#include "server/store/repo/node_enrollment.h"
#include "server/store/repo/node_revocations.h"

namespace prov::server {

class NodeAdminServiceImpl final : public provenance::v1::NodeAdminService::Service {
 public:
  // Ends the open agent streams of a node; returns how many.
  using EndStreams = std::function<int(const std::string& node_id)>;

  // Loads the stored revocations into `revoked` (which must outlive the service).
  static absl::StatusOr<std::unique_ptr<NodeAdminServiceImpl>> Create(
      std::unique_ptr<NodeRevocationRepository> revocations,
      std::unique_ptr<NodeEnrollmentRepository> enrollments, const Clock& clock,
      const Authenticator& auth, NodeRevocationList& revoked, EndStreams end_streams);

  grpc::Status RevokeNode(grpc::ServerContext* context,
                          const provenance::v1::RevokeNodeRequest* request,
                          provenance::v1::NodeRevocation* response) override;
  grpc::Status ListNodeRevocations(grpc::ServerContext* context,
                                   const provenance::v1::ListNodeRevocationsRequest* request,
                                   provenance::v1::ListNodeRevocationsResponse* response) override;
  grpc::Status CreateEnrollToken(grpc::ServerContext* context,
                                 const provenance::v1::CreateEnrollTokenRequest* request,
                                 provenance::v1::EnrollToken* response) override;

 private:
  NodeAdminServiceImpl(std::unique_ptr<NodeRevocationRepository> revocations,
                       std::unique_ptr<NodeEnrollmentRepository> enrollments, const Clock& clock,
                       const Authenticator& auth, NodeRevocationList& revoked,
                       EndStreams end_streams)
      : revocations_(std::move(revocations)),
        enrollments_(std::move(enrollments)),
        clock_(clock),
        auth_(auth),
        revoked_(revoked),
        end_streams_(std::move(end_streams)) {}

  const std::unique_ptr<NodeRevocationRepository> revocations_;
  const std::unique_ptr<NodeEnrollmentRepository> enrollments_;
  const Clock& clock_;
  const Authenticator& auth_;
  NodeRevocationList& revoked_;
  const EndStreams end_streams_;
};

}  // namespace prov::server
