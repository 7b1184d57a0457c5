// NodeEnroller: prov-agent's side of enrolment (issue 10 §1). The node generates its own EC P-256
// key (written 0600 to the cert dir, never sent), sends a CSR with a one-time token to provd's
// enrolment listener (NodeEnrollmentService), writes the certificate it gets back, and renews it
// with its current certificate once two thirds of its lifetime have passed.
//
//   NodeEnroller enroller({.enroll_server = "provd:7444", .ca_file = "ca.pem",
//                          .cert_dir = "/var/lib/prov-agent/tls",
//                          .token_file = "/etc/prov-agent/enroll.token"}, clock);
//   PROV_ASSIGN_OR_RETURN(TlsFiles tls, enroller.EnsureCredentials());   // enrols when needed
//   ... uplink with MakeClientCredentials(tls) ...
//   if (enroller.RenewDue()) {                          // in the agent loop (injected clock)
//     absl::StatusOr<TlsFiles> renewed = enroller.Renew();
//     if (renewed.ok()) uplink->SetCredentials(...);    // used from the next reconnect
//   }
//
// Files in cert_dir: node.key (PEM, 0600) and node.crt (leaf then CA). Both are replaced by
// write-to-temporary-and-rename, the key first: a crash between the two leaves a key that does
// not match the certificate, which EnsureCredentials detects and (with a token) re-enrols.
// A failed renewal is retried after retry_after while the current certificate is still valid.
//
// Thread-compatible: call from one thread (the agent loop).
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/grpc/tls.h"

namespace prov::agent {

struct NodeEnrollerOptions {
  std::string enroll_server;  // provd's enrolment listener host:port
  std::string ca_file;        // CA that signed provd's server certificate
  std::string cert_dir;       // node.key and node.crt
  std::string token_file;     // one-time token (first enrolment); may be empty once enrolled
  absl::Duration rpc_timeout = absl::Seconds(20);
  absl::Duration retry_after = absl::Minutes(1);
};

class NodeEnroller {
 public:
  NodeEnroller(NodeEnrollerOptions options, const Clock& clock);

  // The key and certificate to use: the stored ones while they are valid and match, else a new
  // enrolment with the token (FAILED_PRECONDITION naming --enroll-token-file when there is
  // none). Errors from provd keep their gRPC code ("enrolment refused" for a bad token).
  absl::StatusOr<TlsFiles> EnsureCredentials();
  // Whether the renewal time (2/3 of the certificate's lifetime, or a retry) has come.
  bool RenewDue() const;
  // A new key and certificate, authenticated by the current certificate. On failure the
  // current files are kept and the next attempt is due after retry_after.
  absl::StatusOr<TlsFiles> Renew();
  std::optional<absl::Time> renew_at() const { return renew_at_; }
  // The node the certificate names (its CN, as provd's node CA writes it); empty before
  // EnsureCredentials.
  std::string node_id() const { return node_id_; }

 private:
  absl::StatusOr<TlsFiles> Enroll(const std::string& token, const TlsFiles* current);
  TlsFiles Files() const;

  const NodeEnrollerOptions options_;
  const Clock& clock_;
  std::optional<absl::Time> renew_at_;
  std::string node_id_;
};

}  // namespace prov::agent
