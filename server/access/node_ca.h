// NodeCa: signs short-lived client certificates for exactly one node from its CSR (issue 10 §1,
// enrolment's signing half). The CSR's own names are ignored: the certificate names the node
// provd decided (SAN URI spiffe://<trust-domain>/node/<node_id>, CN <node_id>, EKU clientAuth),
// so NodeCertBinder (node_cert.h) binds it to that node only.
//
//   PROV_ASSIGN_OR_RETURN(auto ca, NodeCa::Create(ca_cert_pem, ca_key_pem,
//                                                 {.trust_domain = "prov.example"}));
//   PROV_ASSIGN_OR_RETURN(std::string cert_pem, ca->Sign(csr_pem, "gpu-017", clock.Now()));
//
// The CSR must carry a valid self-signature (proof the requester holds the key) over an EC P-256
// or Ed25519 public key. Serials are 128 random bits. Used by EnrollmentServiceImpl
// (enrollment_service.h), which records each serial it issues.
//
// Thread-safe (immutable after Create; OpenSSL signing with a shared key is thread-safe).
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace prov::server {

struct NodeCaOptions {
  std::string trust_domain;                   // required
  absl::Duration cert_ttl = absl::Hours(24);  // notAfter = now + cert_ttl
};

struct IssuedNodeCert {
  std::string cert_pem;    // the leaf certificate
  std::string serial_hex;  // uppercase hex, as `openssl x509 -serial` shows it
  absl::Time not_after;
};

class NodeCa {
 public:
  // INVALID_ARGUMENT naming the problem: no certificate or key in the PEM, a key that does not
  // match the certificate, a CA certificate without CA:TRUE, an empty trust domain, a TTL not
  // in (0, 366d].
  static absl::StatusOr<std::unique_ptr<NodeCa>> Create(absl::string_view ca_cert_pem,
                                                        absl::string_view ca_key_pem,
                                                        NodeCaOptions options);
  ~NodeCa();

  // INVALID_ARGUMENT: not a PEM CSR, a bad self-signature, a key type other than EC P-256 or
  // Ed25519, an empty node id or one with '/'.
  absl::StatusOr<std::string> Sign(absl::string_view csr_pem, absl::string_view node_id,
                                   absl::Time now) const;
  // Sign, with the new certificate's serial and expiry (for the record of issued certificates).
  absl::StatusOr<IssuedNodeCert> Issue(absl::string_view csr_pem, absl::string_view node_id,
                                       absl::Time now) const;
  // The CA certificate (PEM), sent after the leaf as the chain.
  std::string ca_cert_pem() const;
  absl::Duration cert_ttl() const { return options_.cert_ttl; }

 private:
  struct Keys;
  NodeCa(std::unique_ptr<Keys> keys, NodeCaOptions options);

  const std::unique_ptr<Keys> keys_;
  const NodeCaOptions options_;
};

}  // namespace prov::server
