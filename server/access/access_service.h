// AccessServiceImpl (compliance.proto): WhoAmI for anyone authenticated; IssueToken, ListTokens
// and RevokeToken for admins. AuditLogServiceImpl: ListAuditEntries (analyst) and VerifyAuditLog
// (admin) over the hash-chained audit log.
//
//   AccessServiceImpl access(tokens, auth);
//   AuditLogServiceImpl audit_log(*reader, auth);
//   builder.RegisterService(&access);
//   builder.RegisterService(&audit_log);
//
// Sync gRPC handlers; thread-safe (the stores are).
#pragma once

#include "provenance/v1/compliance.grpc.pb.h"
#include "server/access/authenticator.h"
#include "server/access/token_store.h"
#include "server/store/repo/audit_log.h"

namespace prov::server {

class AccessServiceImpl final : public provenance::v1::AccessService::Service {
 public:
  AccessServiceImpl(TokenStore& tokens, const Authenticator& auth) : tokens_(tokens), auth_(auth) {}

  grpc::Status WhoAmI(grpc::ServerContext* context, const provenance::v1::WhoAmIRequest* request,
                      provenance::v1::Principal* response) override;
  grpc::Status IssueToken(grpc::ServerContext* context,
                          const provenance::v1::IssueTokenRequest* request,
                          provenance::v1::IssueTokenResponse* response) override;
  grpc::Status ListTokens(grpc::ServerContext* context,
                          const provenance::v1::ListTokensRequest* request,
                          provenance::v1::ListTokensResponse* response) override;
  grpc::Status RevokeToken(grpc::ServerContext* context,
                           const provenance::v1::RevokeTokenRequest* request,
                           provenance::v1::TokenInfo* response) override;

 private:
  TokenStore& tokens_;
  const Authenticator& auth_;
};

class AuditLogServiceImpl final : public provenance::v1::AuditLogService::Service {
 public:
  AuditLogServiceImpl(AuditLogRepository& reader, const Authenticator& auth)
      : reader_(reader), auth_(auth) {}

  grpc::Status ListAuditEntries(grpc::ServerContext* context,
                                const provenance::v1::ListAuditEntriesRequest* request,
                                provenance::v1::ListAuditEntriesResponse* response) override;
  grpc::Status VerifyAuditLog(grpc::ServerContext* context,
                              const provenance::v1::VerifyAuditLogRequest* request,
                              provenance::v1::VerifyAuditLogResponse* response) override;

 private:
  AuditLogRepository& reader_;
  const Authenticator& auth_;
};

}  // namespace prov::server
