// Authenticator: who is calling, and may they? Every people-facing gRPC handler (and provd's web
// dashboard) starts with Require():
//
//   Principal who;
//   if (grpc::Status s = auth.Require(context, provenance::v1::ROLE_ANALYST, &who); !s.ok()) {
//     return s;                    // UNAUTHENTICATED, PERMISSION_DENIED or RESOURCE_EXHAUSTED
//   }
//   ... who.actor() goes into the audit log ...
//
//   // HTTP (dashboard): the same tokens, from the Authorization header.
//   absl::StatusOr<Principal> who = auth.AuthenticateBearer(req.get_header_value("Authorization"));
//
// A caller is known by, in order: a bearer token in the `authorization` metadata
// ("Bearer prov_..."), issued through TokenStore; the internal token provd's own components use
// (actor "provd", admin); or a verified client certificate that PeopleCertMapper maps to a person
// (cert_identity.h: by URI or email SAN, or by common name only under a separate people CA; a
// node certificate, spiffe://<td>/node/..., never). Any other certificate grants nothing:
// agents' node certificates open the agent stream, not the people-facing services.
//
// Guessing is slowed (issue 14): with a FailedAuthLimiter, Require() counts each failed
// authentication against the caller's address (the port left off), and while that address is
// over the limit answers RESOURCE_EXHAUSTED ("... retry in N s") without looking at the
// credentials. Only network peers (ipv4:, ipv6:, unix:) are limited; provd's in-process channel
// (the dashboard, which limits by the browser's address itself) is not.
// With a DenialAuditor, a PERMISSION_DENIED becomes an "access.denied" audit entry.
//
// Thread-safe. Failures are counted per reason (counters()).
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/server_context.h"
#include "provenance/v1/compliance.pb.h"
#include "server/access/cert_identity.h"
#include "server/access/denial_auditor.h"
#include "server/access/failed_auth_limiter.h"
#include "server/access/token_store.h"

namespace prov::server {

using Principal = provenance::v1::Principal;

struct AuthCounters {
  uint64_t unauthenticated = 0;  // no or unknown credentials
  uint64_t denied = 0;           // known caller, role too low
  uint64_t rate_limited = 0;     // refused unchecked: too many failures from the address
};

struct AuthenticatorOptions {
  std::unique_ptr<PeopleCertMapper> people;  // null: no certificate is a person
  FailedAuthLimiter* limiter = nullptr;      // null: no rate limit (not owned)
  DenialAuditor* denials = nullptr;          // null: denials only counted (not owned)
};

class Authenticator {
 public:
  Authenticator(const TokenStore& tokens, AuthenticatorOptions options);

  absl::StatusOr<Principal> Authenticate(const grpc::ServerContext& context) const;
  // `header` is the Authorization header's value ("Bearer <token>").
  absl::StatusOr<Principal> AuthenticateBearer(absl::string_view header) const;
  // UNAUTHENTICATED / PERMISSION_DENIED ("this call needs the analyst role; token:bob is a
  // viewer") / RESOURCE_EXHAUSTED (rate limited); OK fills *who (may be null).
  grpc::Status Require(const grpc::ServerContext* context, provenance::v1::Role need,
                       Principal* who) const;
  // The same check for a principal already authenticated (HTTP handlers).
  absl::Status Check(const absl::StatusOr<Principal>& who, provenance::v1::Role need) const;

  // For provd's own in-process clients (dashboard back end, alert notifier, scheduler).
  const std::string& internal_token() const { return internal_token_; }
  AuthCounters counters() const;

  // The certificate-to-person mapper (null without --cert-roles); node_cert.h refuses people.
  const PeopleCertMapper* people() const { return options_.people.get(); }

 private:
  absl::StatusOr<Principal> FromToken(absl::string_view token) const;

  const TokenStore& tokens_;
  const AuthenticatorOptions options_;
  const std::string internal_token_;
  const std::string internal_token_sha256_;
  mutable std::atomic<uint64_t> unauthenticated_{0};
  mutable std::atomic<uint64_t> denied_{0};
  mutable std::atomic<uint64_t> rate_limited_{0};
};

}  // namespace prov::server
