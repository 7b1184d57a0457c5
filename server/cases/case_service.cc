#include "server/cases/case_service.h"

#include "common/grpc/status.h"

namespace prov::server {
grpc::Status CaseServiceImpl::GetCase(grpc::ServerContext* context,
                                      const provenance::v1::GetCaseRequest* request,
                                      provenance::v1::Case* response) {
  if (auto s = auth_.Require(context, provenance::v1::ROLE_VIEWER, nullptr); !s.ok()) return s;
  auto c = cases_.Get(request->flag_id());
  if (!c.ok()) return ToGrpcStatus(c.status());
  *response = *std::move(c);
  return grpc::Status::OK;
}

grpc::Status CaseServiceImpl::ListCases(grpc::ServerContext* context,
                                        const provenance::v1::ListCasesRequest* request,
                                        provenance::v1::ListCasesResponse* response) {
  if (auto s = auth_.Require(context, provenance::v1::ROLE_VIEWER, nullptr); !s.ok()) return s;
  if (!provenance::v1::FlagStatus_IsValid(request->status())) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "status: not a flag status");
  }
  for (auto& c : cases_.List(*request)) *response->add_cases() = std::move(c);
  return grpc::Status::OK;
}

grpc::Status CaseServiceImpl::UpdateCase(grpc::ServerContext* context,
                                         const provenance::v1::UpdateCaseRequest* request,
                                         provenance::v1::Case* response) {
  provenance::v1::Principal who;
  if (auto s = auth_.Require(context, provenance::v1::ROLE_ANALYST, &who); !s.ok()) return s;
  auto c = cases_.Update(who, *request);
  if (!c.ok()) return ToGrpcStatus(c.status());
  *response = *std::move(c);
  return grpc::Status::OK;
}

}  // namespace prov::server
