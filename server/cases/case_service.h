// CaseServiceImpl: provenance.v1.CaseService over a CaseManager. GetCase and ListCases need the
// viewer role, UpdateCase the analyst role (a viewer cannot change a case).
//
//   CaseServiceImpl service(*cases, auth);
//   builder.RegisterService(&service);
#pragma once

#include "provenance/v1/compliance.grpc.pb.h"
#include "server/access/authenticator.h"
#include "server/cases/case_manager.h"

namespace prov::server {

class CaseServiceImpl final : public provenance::v1::CaseService::Service {
 public:
  CaseServiceImpl(CaseManager& cases, const Authenticator& auth) : cases_(cases), auth_(auth) {}

  grpc::Status GetCase(grpc::ServerContext* context, const provenance::v1::GetCaseRequest* request,
                       provenance::v1::Case* response) override;
  grpc::Status ListCases(grpc::ServerContext* context,
                         const provenance::v1::ListCasesRequest* request,
                         provenance::v1::ListCasesResponse* response) override;
  grpc::Status UpdateCase(grpc::ServerContext* context,
                          const provenance::v1::UpdateCaseRequest* request,
                          provenance::v1::Case* response) override;

 private:
  CaseManager& cases_;
  const Authenticator& auth_;
};

}  // namespace prov::server
