// LocationServiceImpl (location.proto): the people-facing views of location verification (viewer
// role, like AuditService): one node's verdict with its disks, every node's (keyset paging by
// node id, optionally one verdict), the landmarks with their calibration pairs.
//
//   LocationServiceImpl service(hub, auth);
//   builder.RegisterService(&service);
//
// Sync gRPC handlers; thread-safe (the hub serialises).
#pragma once

#include "provenance/v1/location.grpc.pb.h"
#include "server/access/authenticator.h"
#include "server/location/location_hub.h"

namespace prov::server::location {

class LocationServiceImpl final : public provenance::v1::LocationService::Service {
 public:
  LocationServiceImpl(LocationHub& hub, const Authenticator& auth) : hub_(hub), auth_(auth) {}

  grpc::Status GetNodeLocation(grpc::ServerContext* context,
                               const provenance::v1::GetNodeLocationRequest* request,
                               provenance::v1::NodeLocation* response) override;
  grpc::Status ListNodeLocations(grpc::ServerContext* context,
                                 const provenance::v1::ListNodeLocationsRequest* request,
                                 provenance::v1::ListNodeLocationsResponse* response) override;
  grpc::Status ListLandmarks(grpc::ServerContext* context,
                             const provenance::v1::ListLandmarksRequest* request,
                             provenance::v1::ListLandmarksResponse* response) override;

 private:
  LocationHub& hub_;
  const Authenticator& auth_;
};

}  // namespace prov::server::location
