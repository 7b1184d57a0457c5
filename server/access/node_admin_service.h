// NodeAdminServiceImpl (node_admin.proto): revoking a node's certificates and creating its
// one-time enrolment tokens (issue 10 §1). Admin only; each revocation is stored
// (server/store/node_revocations.h) with its "node.revoke" audit entry in one transaction, then
// added to the gateway's NodeRevocationList and the node's open agent streams are ended. An
// enrolment token's secret is returned once; only its SHA-256 is stored
// (server/store/node_enrollment.h), with a "node.enroll_token" audit entry in the same
// transaction.
//
//   PROV_ASSIGN_OR_RETURN(auto admin, NodeAdminServiceImpl::Create(
//       db_path, clock, auth, revoked, [&](const std::string& node) { return EndStreams(node); }));
//   builder.RegisterService(admin.get());
//
// Sync gRPC handlers; thread-safe (one write at a time under its mutex, on its own connection).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "provenance/v1/node_admin.grpc.pb.h"
#include "server/access/authenticator.h"
#include "server/access/node_revocation_list.h"
#include "server/store/sqlite.h"

namespace prov::server {

class NodeAdminServiceImpl final : public provenance::v1::NodeAdminService::Service {
 public:
  // Ends the open agent streams of a node; returns how many.
  using EndStreams = std::function<int(const std::string& node_id)>;

  // Loads the stored revocations into `revoked` (which must outlive the service).
  static absl::StatusOr<std::unique_ptr<NodeAdminServiceImpl>> Create(const std::string& db_path,
                                                                      const Clock& clock,
                                                                      const Authenticator& auth,
                                                                      NodeRevocationList& revoked,
                                                                      EndStreams end_streams);

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
  NodeAdminServiceImpl(std::unique_ptr<SqliteDb> db, const Clock& clock, const Authenticator& auth,
                       NodeRevocationList& revoked, EndStreams end_streams)
      : db_(std::move(db)),
        clock_(clock),
        auth_(auth),
        revoked_(revoked),
        end_streams_(std::move(end_streams)) {}

  absl::Mutex mu_;
  std::unique_ptr<SqliteDb> db_ ABSL_GUARDED_BY(mu_);
  const Clock& clock_;
  const Authenticator& auth_;
  NodeRevocationList& revoked_;
  const EndStreams end_streams_;
};

}  // namespace prov::server
