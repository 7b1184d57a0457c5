// Authenticator: who is calling, and may they? Every people-facing gRPC handler (and provd's web
// dashboard) starts with Require():
//
//   Principal who;
//   if (grpc::Status s = auth.Require(context, provenance::v1::ROLE_ANALYST, &who); !s.ok()) {
//     return s;                                  // UNAUTHENTICATED or PERMISSION_DENIED
//   }
//   ... who.actor() goes into the audit log ...
//
//   // HTTP (dashboard): the same tokens, from the Authorization header.
//   absl::StatusOr<Principal> who = auth.AuthenticateBearer(req.get_header_value("Authorization"));
//
// A caller is known by, in order: a bearer token in the `authorization` metadata
// ("Bearer prov_..."), issued through TokenStore; the internal token provd's own components use
// (actor "provd", admin); or a verified client certificate whose common name the cert-roles map
// lists ("cert:<CN>"). A certificate that is not in the map grants nothing: agents' node
// certificates open the agent stream, not the people-facing services.
//
// Thread-safe. Failures are counted per reason (counters()).
#pragma once

#include <atomic>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/server_context.h"
#include "provenance/v1/compliance.pb.h"
#include "server/access/token_store.h"

namespace prov::server {

using Principal = provenance::v1::Principal;

// Common name -> role, from a file of lines "<common name> <role>" ('#' comments, blank lines
// ignored). Errors name the file and line.
using CertRoles = std::map<std::string, provenance::v1::Role>;
absl::StatusOr<CertRoles> ParseCertRoles(absl::string_view text, absl::string_view file_name);

struct AuthCounters {
  uint64_t unauthenticated = 0;  // no or unknown credentials
  uint64_t denied = 0;           // known caller, role too low
};

class Authenticator {
 public:
  Authenticator(const TokenStore& tokens, CertRoles cert_roles);

  absl::StatusOr<Principal> Authenticate(const grpc::ServerContext& context) const;
  // `header` is the Authorization header's value ("Bearer <token>").
  absl::StatusOr<Principal> AuthenticateBearer(absl::string_view header) const;
  // UNAUTHENTICATED / PERMISSION_DENIED ("this call needs the analyst role; token:bob is a
  // viewer"); OK fills *who (may be null).
  grpc::Status Require(const grpc::ServerContext* context, provenance::v1::Role need,
                       Principal* who) const;
  // The same check for a principal already authenticated (HTTP handlers).
  absl::Status Check(const absl::StatusOr<Principal>& who, provenance::v1::Role need) const;

  // For provd's own in-process clients (dashboard back end, alert notifier, scheduler).
  const std::string& internal_token() const { return internal_token_; }
  AuthCounters counters() const;

 private:
  absl::StatusOr<Principal> FromToken(absl::string_view token) const;

  const TokenStore& tokens_;
  const CertRoles cert_roles_;
  const std::string internal_token_;
  const std::string internal_token_sha256_;
  mutable std::atomic<uint64_t> unauthenticated_{0};
  mutable std::atomic<uint64_t> denied_{0};
};

}  // namespace prov::server
