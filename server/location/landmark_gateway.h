// LandmarkGatewayImpl (location.proto): where the provider's landmarks fetch their assignment and
// submit signed measurement records (issue 11). Sync gRPC handlers over the LocationHub.
//
//   LandmarkGatewayImpl gateway(hub, {.require_client_cert = true, .trust_domain =
//   "prov.example"}); builder.RegisterService(&gateway);
//
// Authentication: with `require_client_cert` (provd runs with --tls-client-ca) a call needs a
// verified client certificate naming a landmark: a SAN URI spiffe://<td>/landmark/<id> (of
// `trust_domain` when set), else the subject CN "landmark:<id>"; anything else (a node's or a
// person's certificate, none at all) is refused and counted (reason "caller_not_landmark" /
// "caller_unauthenticated"). Without it (server-only TLS) every call without a landmark
// certificate is refused too, unless `allow_anonymous` (provd --insecure: tests). Every record is
// in any case verified against the Ed25519 key the location file configures for its landmark, and
// must be the caller's. Thread-safe (the hub serialises).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/server_context.h"
#include "provenance/v1/location.grpc.pb.h"
#include "server/location/location_hub.h"

namespace prov::server::location {

struct LandmarkAuthOptions {
  bool require_client_cert = false;
  // Without require_client_cert, calls without a landmark certificate are refused (the gateway
  // discloses node ids, responder addresses and keys) unless this is set: provd sets it only
  // when it serves plain text (--insecure, for tests).
  bool allow_anonymous = false;
  std::string trust_domain;  // empty: any
};

// The landmark a certificate names ("" when none): SAN URI spiffe://<td>/landmark/<id>, else CN
// "landmark:<id>". INVALID_ARGUMENT when it names one badly (another trust domain, a bad id).
absl::StatusOr<std::string> LandmarkIdFromCert(const std::string& leaf_pem,
                                               const std::string& trust_domain);

class LandmarkGatewayImpl final : public provenance::v1::LandmarkGateway::Service {
 public:
  LandmarkGatewayImpl(LocationHub& hub, LandmarkAuthOptions options)
      : hub_(hub), options_(std::move(options)) {}

  grpc::Status GetAssignment(grpc::ServerContext* context,
                             const provenance::v1::GetAssignmentRequest* request,
                             provenance::v1::Assignment* response) override;
  grpc::Status SubmitMeasurements(grpc::ServerContext* context,
                                  const provenance::v1::SubmitMeasurementsRequest* request,
                                  provenance::v1::SubmitMeasurementsResponse* response) override;

 private:
  // The caller's landmark id ("" without client certificates), or the refusal.
  grpc::Status Caller(const grpc::ServerContext& context, std::string* landmark) const;

  LocationHub& hub_;
  const LandmarkAuthOptions options_;
};

}  // namespace prov::server::location
