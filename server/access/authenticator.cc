#include "server/access/authenticator.h"

#include <algorithm>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/integrity/random.h"
#include "common/sha256.h"
#include "grpc/grpc_security_constants.h"
#include "server/access/role.h"
#include "server/access/rpc_name.h"

namespace prov::server {

Authenticator::Authenticator(const TokenStore& tokens, AuthenticatorOptions options)
    : tokens_(tokens),
      options_(std::move(options)),
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
        "no credentials: send 'authorization: Bearer <token>' (provctl --token-file) or a "
        "person's client certificate listed in provd's --cert-roles");
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
    auto first = [&](const char* property) {
      auto values = auth->FindPropertyValues(property);
      return values.empty() ? std::string() : std::string(values[0].data(), values[0].size());
    };
    const std::string leaf = first(GRPC_X509_PEM_CERT_PROPERTY_NAME);
    if (!leaf.empty()) {
      if (options_.people == nullptr) {
        return absl::UnauthenticatedError(
            "client certificates are not mapped to people here (provd --cert-roles); send "
            "'authorization: Bearer <token>'");
      }
      return options_.people->Map(leaf, first(GRPC_X509_PEM_CERT_CHAIN_PROPERTY_NAME));
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
  // Only network peers are limited. provd's own in-process channel (gRPC names its peer
  // "unknown") is not: the dashboard behind it limits by the browser's address itself.
  const std::string grpc_peer = context->peer();
  const bool network = absl::StartsWith(grpc_peer, "ipv4:") ||
                       absl::StartsWith(grpc_peer, "ipv6:") || absl::StartsWith(grpc_peer, "unix:");
  const std::string peer = PeerAddress(grpc_peer);
  FailedAuthLimiter* limiter = network ? options_.limiter : nullptr;
  if (limiter != nullptr) {
    if (std::optional<absl::Duration> wait = limiter->Blocked(peer)) {
      rate_limited_.fetch_add(1, std::memory_order_relaxed);
      const int64_t seconds =
          std::max<int64_t>(1, absl::ToInt64Seconds(absl::Ceil(*wait, absl::Seconds(1))));
      return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          absl::StrCat("too many failed authentications from ", peer, "; retry in ",
                                       seconds, " s"));
    }
  }
  absl::StatusOr<Principal> p = Authenticate(*context);
  absl::Status checked = Check(p, need);
  if (!checked.ok()) {
    if (!p.ok() && limiter != nullptr) limiter->RecordFailure(peer);
    if (p.ok() && options_.denials != nullptr)
      options_.denials->Record(*p, RpcName(*context), need);
    return grpc::Status(static_cast<grpc::StatusCode>(checked.code()),
                        std::string(checked.message()));
  }
  if (who != nullptr) *who = *std::move(p);
  return grpc::Status::OK;
}

AuthCounters Authenticator::counters() const {
  return {unauthenticated_.load(std::memory_order_relaxed), denied_.load(std::memory_order_relaxed),
          rate_limited_.load(std::memory_order_relaxed)};
}

}  // namespace prov::server
