#include "server/location/landmark_gateway.h"

#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "grpc/grpc_security_constants.h"
#include "grpcpp/security/auth_context.h"
#include "server/access/cert_identity.h"

namespace prov::server::location {
namespace {

std::string FirstProperty(const grpc::ServerContext& context, const char* name) {
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr) return "";
  auto values = auth->FindPropertyValues(name);
  return values.empty() ? std::string() : std::string(values[0].data(), values[0].size());
}

grpc::Status ToGrpc(const absl::Status& s) {
  const auto code = s.code() == absl::StatusCode::kInvalidArgument
                        ? grpc::StatusCode::INVALID_ARGUMENT
                        : grpc::StatusCode::INTERNAL;
  return grpc::Status(code, std::string(s.message()));
}

}  // namespace

absl::StatusOr<std::string> LandmarkIdFromCert(const std::string& leaf_pem,
                                               const std::string& trust_domain) {
  auto names = ReadCertNames(leaf_pem);
  if (!names.ok()) return absl::InvalidArgumentError("client certificate could not be read");
  for (const std::string& uri : names->uris) {
    if (!absl::StartsWithIgnoreCase(uri, "spiffe://")) continue;
    absl::string_view rest = absl::string_view(uri).substr(9);
    const size_t slash = rest.find('/');
    if (slash == absl::string_view::npos) continue;
    const absl::string_view domain = rest.substr(0, slash);
    absl::string_view path = rest.substr(slash);
    if (!absl::ConsumePrefix(&path, "/landmark/")) continue;
    if (!trust_domain.empty() && !absl::EqualsIgnoreCase(domain, trust_domain)) {
      return absl::InvalidArgumentError(absl::StrCat("'", uri, "' is of trust domain '", domain,
                                                     "', not provd's '", trust_domain, "'"));
    }
    if (!ValidLandmarkId(path)) {
      return absl::InvalidArgumentError(absl::StrCat("'", uri, "' does not end in a landmark id"));
    }
    return std::string(path);
  }
  absl::string_view cn = names->common_name;
  if (absl::ConsumePrefix(&cn, "landmark:")) {
    if (!ValidLandmarkId(cn)) {
      return absl::InvalidArgumentError(
          absl::StrCat("CN '", names->common_name, "' does not name a landmark id"));
    }
    return std::string(cn);
  }
  return std::string();
}

grpc::Status LandmarkGatewayImpl::Caller(const grpc::ServerContext& context,
                                         std::string* landmark) const {
  landmark->clear();
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  const std::string leaf = FirstProperty(context, GRPC_X509_PEM_CERT_PROPERTY_NAME);
  if (auth == nullptr || !auth->IsPeerAuthenticated() || leaf.empty()) {
    if (!options_.require_client_cert && options_.allow_anonymous) return grpc::Status::OK;
    hub_.CountRefusedCall("caller_unauthenticated");
    return grpc::Status(
        grpc::StatusCode::UNAUTHENTICATED,
        options_.require_client_cert
            ? "LandmarkGateway needs a landmark's client certificate"
            : "LandmarkGateway needs a landmark's client certificate: provd serves it only with "
              "--tls-client-ca (or, for tests, --insecure)");
  }
  auto id = LandmarkIdFromCert(leaf, options_.trust_domain);
  if (!id.ok() || id->empty()) {
    hub_.CountRefusedCall("caller_not_landmark");
    return grpc::Status(
        grpc::StatusCode::PERMISSION_DENIED,
        id.ok() ? "the client certificate names no landmark (spiffe://<td>/landmark/<id> or CN "
                  "landmark:<id>)"
                : absl::StrCat("client certificate: ", id.status().message()));
  }
  *landmark = *id;
  return grpc::Status::OK;
}

grpc::Status LandmarkGatewayImpl::GetAssignment(grpc::ServerContext* context,
                                                const provenance::v1::GetAssignmentRequest* request,
                                                provenance::v1::Assignment* response) {
  std::string caller;
  if (grpc::Status s = Caller(*context, &caller); !s.ok()) return s;
  const std::string& id = request->landmark_id().empty() ? caller : request->landmark_id();
  if (!caller.empty() && id != caller) {
    hub_.CountRefusedCall("caller_mismatch");
    return grpc::Status(
        grpc::StatusCode::PERMISSION_DENIED,
        absl::StrCat("the client certificate names landmark ", caller, ", not ", id));
  }
  if (id.empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "landmark_id: empty");
  }
  *response = hub_.GetAssignment(id);
  if (response->targets_size() == 0 && !hub_.KnowsLandmark(id)) {
    hub_.CountRefusedCall("unknown_landmark");
    return grpc::Status(
        grpc::StatusCode::NOT_FOUND,
        absl::StrCat("landmark_id: \"", id, "\" is not configured in provd's location file"));
  }
  return grpc::Status::OK;
}

grpc::Status LandmarkGatewayImpl::SubmitMeasurements(
    grpc::ServerContext* context, const provenance::v1::SubmitMeasurementsRequest* request,
    provenance::v1::SubmitMeasurementsResponse* response) {
  std::string caller;
  if (grpc::Status s = Caller(*context, &caller); !s.ok()) return s;
  auto result = hub_.Submit(*request, caller);
  if (!result.ok()) return ToGrpc(result.status());
  *response = *std::move(result);
  return grpc::Status::OK;
}

}  // namespace prov::server::location
