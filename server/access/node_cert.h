// Which node an agent's client certificate speaks for (issue 10 §1): with mutual TLS, provd binds
// every AgentGateway stream to the node its certificate names, and a report for another node is
// refused.
//
//   PROV_ASSIGN_OR_RETURN(NodeIdentityMode mode, ParseNodeIdentityMode("cert"));
//   PROV_ASSIGN_OR_RETURN(auto binder, NodeCertBinder::Create({.trust_domain = "prov.example"},
//                                                             people));  // people: may be null
//   absl::StatusOr<BoundNode> node = binder->Bind(leaf_pem, chain_pem);  // ->node_id "gpu-017"
//
// A node certificate names its node by a SAN URI spiffe://<trust-domain>/node/<node_id> (the
// SPIFFE convention), or else by its subject common name. It is refused (PERMISSION_DENIED,
// saying why) when it is a person's: issued by provd's --people-ca, or carrying a URI SAN that is
// not a SPIFFE node path, or an email SAN; when its SPIFFE node URIs name two nodes; when the
// node path is empty or not a plain id; with a trust domain set, when its SPIFFE URI is of
// another trust domain; and, with a revocation list, when its node was revoked at or after the
// certificate was issued (node_revocation_list.h).
//
// Thread-safe (immutable after Create).
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace prov::server {

class PeopleCertMapper;
class NodeRevocationList;

// cert: the client certificate names the node (default with --tls-client-ca).
// report: the report's node.node_id is believed (only without client certificates).
enum class NodeIdentityMode { kCert, kReport };
absl::StatusOr<NodeIdentityMode> ParseNodeIdentityMode(absl::string_view name);
const char* NodeIdentityModeName(NodeIdentityMode mode);

// The node id of a SPIFFE node URI (spiffe://<td>/node/<id>); `trust_domain` set: the URI must
// be of it. INVALID_ARGUMENT naming the problem otherwise (empty id, an id with '/', another
// trust domain, not a node URI).
absl::StatusOr<std::string> NodeIdFromSpiffeUri(absl::string_view uri,
                                                absl::string_view trust_domain);

struct NodeCertOptions {
  std::string trust_domain;  // empty: any trust domain
  // Set (must outlive the binder): certificates of revoked nodes are refused.
  const NodeRevocationList* revoked = nullptr;
};

struct BoundNode {
  std::string node_id;
  absl::Time not_before;  // the certificate's issue time (revocation compares against it)
};

class NodeCertBinder {
 public:
  // `people` (may be null, must outlive the binder): with a people CA, certificates chaining to
  // it are people's and never bind a node.
  static absl::StatusOr<std::unique_ptr<NodeCertBinder>> Create(NodeCertOptions options,
                                                                const PeopleCertMapper* people);

  // `leaf_pem`: the peer's verified certificate; `chain_pem`: what it presented (may be empty).
  absl::StatusOr<BoundNode> Bind(absl::string_view leaf_pem, absl::string_view chain_pem) const;
  // Whether a bound certificate is revoked (now); the gateway checks again once the stream is
  // registered, so a revocation racing the call's start still ends it.
  bool Revoked(const BoundNode& node) const;

 private:
  NodeCertBinder(NodeCertOptions options, const PeopleCertMapper* people)
      : options_(std::move(options)), people_(people) {}

  const NodeCertOptions options_;
  const PeopleCertMapper* const people_;
};

}  // namespace prov::server
