#include "server/location/location_service.h"

namespace prov::server::location {
namespace {

// NOT_FOUND: no verdict; INVALID_ARGUMENT: an id the store refuses (a NUL byte, oversize);
// otherwise a standby could not read the stored verdicts.
grpc::StatusCode CodeOf(const absl::Status& s) {
  if (absl::IsNotFound(s)) return grpc::StatusCode::NOT_FOUND;
  if (absl::IsInvalidArgument(s)) return grpc::StatusCode::INVALID_ARGUMENT;
  return grpc::StatusCode::UNAVAILABLE;
}

}  // namespace

grpc::Status LocationServiceImpl::GetNodeLocation(
    grpc::ServerContext* context, const provenance::v1::GetNodeLocationRequest* request,
    provenance::v1::NodeLocation* response) {
  if (auto s = auth_.Require(context, provenance::v1::ROLE_VIEWER, nullptr); !s.ok()) return s;
  if (request->node_id().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "node_id: empty");
  }
  auto loc = hub_.GetNodeLocation(request->node_id());
  if (!loc.ok()) {
    return grpc::Status(CodeOf(loc.status()), std::string(loc.status().message()));
  }
  *response = *std::move(loc);
  return grpc::Status::OK;
}

grpc::Status LocationServiceImpl::ListNodeLocations(
    grpc::ServerContext* context, const provenance::v1::ListNodeLocationsRequest* request,
    provenance::v1::ListNodeLocationsResponse* response) {
  if (auto s = auth_.Require(context, provenance::v1::ROLE_VIEWER, nullptr); !s.ok()) return s;
  auto list = hub_.ListNodeLocations(*request);
  if (!list.ok()) {
    return grpc::Status(CodeOf(list.status()), std::string(list.status().message()));
  }
  *response = *std::move(list);
  return grpc::Status::OK;
}

grpc::Status LocationServiceImpl::ListLandmarks(grpc::ServerContext* context,
                                                const provenance::v1::ListLandmarksRequest*,
                                                provenance::v1::ListLandmarksResponse* response) {
  if (auto s = auth_.Require(context, provenance::v1::ROLE_VIEWER, nullptr); !s.ok()) return s;
  *response = hub_.ListLandmarks();
  return grpc::Status::OK;
}

}  // namespace prov::server::location
