#include "server/access/authenticator.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/integrity/random.h"
#include "common/sha256.h"
#include "server/access/role.h"

namespace prov::server {

absl::StatusOr<CertRoles> ParseCertRoles(absl::string_view text, absl::string_view file_name) {
  CertRoles out;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    std::vector<absl::string_view> parts =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (parts.size() != 2) {
      return absl::InvalidArgumentError(
          absl::StrCat(file_name, ":", line_no,
                       ": expected '<certificate common name> <role>', got '", line, "'"));
    }
    auto role = ParseRole(parts[1]);
    if (!role.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(file_name, ":", line_no, ": ", role.status().message()));
    }
    out[std::string(parts[0])] = *role;
  }
  return out;
}

Authenticator::Authenticator(const TokenStore& tokens, CertRoles cert_roles)
    : tokens_(tokens),
      cert_roles_(std::move(cert_roles)),
      internal_token_(absl::StrCat("prov_internal_", integrity::RandomHex(32))),
      internal_token_sha256_(Sha256Hex(internal_token_)) {}

absl::StatusOr<Principal> Authenticator::FromToken(absl::string_view token) const {
  Principal p;
  // Compared as digests, so the time taken says nothing about how much of the secret matched.
  if (Sha256Hex(token) == internal_token_sha256_) {
    p.set_actor("provd");
    p.set_role(provenance::v1::ROLE_ADMIN);
    p.set_method("internal");
    return p;
  }
  auto info = tokens_.Lookup(token);
  if (!info.has_value()) {
    return absl::UnauthenticatedError("the bearer token is not valid (unknown or revoked)");
  }
  p.set_actor(absl::StrCat("token:", info->name()));
  p.set_role(info->role());
  p.set_method("token");
  return p;
}

absl::StatusOr<Principal> Authenticator::AuthenticateBearer(absl::string_view header) const {
  header = absl::StripAsciiWhitespace(header);
  if (header.empty()) {
    return absl::UnauthenticatedError(
        "no credentials: send 'authorization: Bearer <token>' (provctl --token-file) or a client "
        "certificate listed in provd's --cert-roles");
  }
  if (!absl::ConsumePrefix(&header, "Bearer ") && !absl::ConsumePrefix(&header, "bearer ")) {
    return absl::UnauthenticatedError("authorization: expected 'Bearer <token>'");
  }
  return FromToken(absl::StripAsciiWhitespace(header));
}

absl::StatusOr<Principal> Authenticator::Authenticate(const grpc::ServerContext& context) const {
  const auto& md = context.client_metadata();
  auto it = md.find("authorization");
  if (it != md.end()) {
    return AuthenticateBearer(absl::string_view(it->second.data(), it->second.size()));
  }
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth != nullptr && auth->IsPeerAuthenticated()) {
    for (const auto& cn_ref : auth->FindPropertyValues("x509_common_name")) {
      const std::string cn(cn_ref.data(), cn_ref.size());
      auto role = cert_roles_.find(cn);
      if (role == cert_roles_.end()) {
        return absl::UnauthenticatedError(absl::StrCat(
            "client certificate '", cn, "' is not mapped to a role (provd --cert-roles)"));
      }
      Principal p;
      p.set_actor(absl::StrCat("cert:", cn));
      p.set_role(role->second);
      p.set_method("certificate");
      return p;
    }
  }
  return AuthenticateBearer("");
}

absl::Status Authenticator::Check(const absl::StatusOr<Principal>& who,
                                  provenance::v1::Role need) const {
  if (!who.ok()) {
    unauthenticated_.fetch_add(1, std::memory_order_relaxed);
    return who.status();
  }
  if (!AtLeast(who->role(), need)) {
    denied_.fetch_add(1, std::memory_order_relaxed);
    return absl::PermissionDeniedError(absl::StrCat("this needs the ", RoleName(need), " role; ",
                                                    who->actor(), " is ", RoleName(who->role())));
  }
  return absl::OkStatus();
}

grpc::Status Authenticator::Require(const grpc::ServerContext* context, provenance::v1::Role need,
                                    Principal* who) const {
  absl::StatusOr<Principal> p = Authenticate(*context);
  absl::Status checked = Check(p, need);
  if (!checked.ok()) {
    return grpc::Status(static_cast<grpc::StatusCode>(checked.code()),
                        std::string(checked.message()));
  }
  if (who != nullptr) *who = *std::move(p);
  return grpc::Status::OK;
}

AuthCounters Authenticator::counters() const {
  return {unauthenticated_.load(std::memory_order_relaxed),
          denied_.load(std::memory_order_relaxed)};
}

}  // namespace prov::server
