#include "server/access/node_cert.h"

#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/access/cert_identity.h"
#include "server/access/node_revocation_list.h"

namespace prov::server {

absl::StatusOr<NodeIdentityMode> ParseNodeIdentityMode(absl::string_view name) {
  if (name == "cert") return NodeIdentityMode::kCert;
  if (name == "report") return NodeIdentityMode::kReport;
  return absl::InvalidArgumentError(
      absl::StrCat("node_identity: \"", name, "\" is not one of cert, report"));
}

const char* NodeIdentityModeName(NodeIdentityMode mode) {
  return mode == NodeIdentityMode::kCert ? "cert" : "report";
}

absl::StatusOr<std::string> NodeIdFromSpiffeUri(absl::string_view uri,
                                                absl::string_view trust_domain) {
  if (!IsSpiffeNodeUri(uri)) {
    return absl::InvalidArgumentError(absl::StrCat("'", uri, "' is not spiffe://<td>/node/<id>"));
  }
  absl::string_view rest = uri.substr(9);  // after "spiffe://"
  const size_t slash = rest.find('/');
  const absl::string_view domain = rest.substr(0, slash);
  if (!trust_domain.empty() && !absl::EqualsIgnoreCase(domain, trust_domain)) {
    return absl::InvalidArgumentError(absl::StrCat("'", uri, "' is of trust domain '", domain,
                                                   "', not provd's '", trust_domain, "'"));
  }
  absl::string_view id = rest.substr(slash + 1 + 4);  // after "/node"
  if (!id.empty()) id.remove_prefix(1);               // the '/' before the id
  if (id.empty() || id.find('/') != absl::string_view::npos || id.size() > 256) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", uri, "' does not end in one node id (spiffe://<td>/node/<id>)"));
  }
  return std::string(id);
}

absl::StatusOr<std::unique_ptr<NodeCertBinder>> NodeCertBinder::Create(
    NodeCertOptions options, const PeopleCertMapper* people) {
  if (absl::StrContains(options.trust_domain, "/") ||
      absl::StrContains(options.trust_domain, ":")) {
    return absl::InvalidArgumentError(absl::StrCat("trust_domain: '", options.trust_domain,
                                                   "' must be a bare name like prov.example"));
  }
  return std::unique_ptr<NodeCertBinder>(new NodeCertBinder(std::move(options), people));
}

bool NodeCertBinder::Revoked(const BoundNode& node) const {
  return options_.revoked != nullptr && options_.revoked->Refuses(node.node_id, node.not_before);
}

absl::StatusOr<BoundNode> NodeCertBinder::Bind(absl::string_view leaf_pem,
                                               absl::string_view chain_pem) const {
  auto names = ReadCertNames(leaf_pem);
  if (!names.ok()) return absl::PermissionDeniedError("client certificate could not be read");
  std::string node_id;
  for (const std::string& uri : names->uris) {
    if (!IsSpiffeNodeUri(uri)) continue;
    auto id = NodeIdFromSpiffeUri(uri, options_.trust_domain);
    if (!id.ok()) {
      return absl::PermissionDeniedError(
          absl::StrCat("client certificate: ", id.status().message()));
    }
    if (!node_id.empty() && node_id != *id) {
      return absl::PermissionDeniedError(
          absl::StrCat("client certificate names two nodes (\"", node_id, "\" and \"", *id, "\")"));
    }
    node_id = *std::move(id);
  }
  if (people_ != nullptr && people_->IssuedByPeopleCa(leaf_pem, chain_pem)) {
    return absl::PermissionDeniedError(
        "client certificate is a person's (issued by --people-ca): people never open the agent "
        "stream");
  }
  if (node_id.empty()) {
    for (const std::string& uri : names->uris) {
      return absl::PermissionDeniedError(absl::StrCat("client certificate names '", uri,
                                                      "', not a node (spiffe://<td>/node/<id>)"));
    }
    for (const std::string& email : names->emails) {
      return absl::PermissionDeniedError(
          absl::StrCat("client certificate names a person (", email, "), not a node"));
    }
    if (names->common_name.empty()) {
      return absl::PermissionDeniedError(
          "client certificate names no node: no spiffe://<td>/node/<id> URI SAN and no common "
          "name");
    }
    node_id = names->common_name;
  }
  BoundNode bound{std::move(node_id), names->not_before};
  if (Revoked(bound)) {
    return absl::PermissionDeniedError(
        absl::StrCat("node \"", bound.node_id,
                     "\" is revoked (provctl nodes revocations); its "
                     "certificates issued before the revocation are refused"));
  }
  return bound;
}

}  // namespace prov::server
