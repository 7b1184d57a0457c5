// People by client certificate, never nodes (issue 14). Maps a verified client certificate to a
// person's role, given the --cert-roles file and, optionally, a separate people CA (--people-ca).
//
//   PROV_ASSIGN_OR_RETURN(CertRoles roles, ParseCertRoles(text, "cert-roles"));
//   PROV_ASSIGN_OR_RETURN(auto people, PeopleCertMapper::Create(std::move(roles), people_ca_pem));
//   absl::StatusOr<Principal> who = people->Map(leaf_pem, chain_pem);  // from gRPC's auth context
//
// cert-roles lines are "<key> <role>", the key one of
//   uri:spiffe://<trust-domain>/person/alice    a URI SAN (any URI but a SPIFFE node path)
//   email:alice@example.com                     an email (rfc822Name) SAN
//   cn:alice  (or a bare "alice")               the subject common name: only with --people-ca
// A certificate with a SPIFFE node URI SAN (spiffe://<td>/node/<id>, the agents' identity) is
// never a person, whatever else it says. With a people CA, only certificates that chain to it
// are people at all; without one, a common name proves nothing (one CA signs agents and people),
// so cn: entries are refused at start-up.
//
// Thread-safe (immutable after Create).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "provenance/v1/compliance.pb.h"

namespace prov::server {

struct CertRoles {
  std::map<std::string, provenance::v1::Role> by_uri;
  std::map<std::string, provenance::v1::Role> by_email;
  std::map<std::string, provenance::v1::Role> by_cn;
  bool empty() const { return by_uri.empty() && by_email.empty() && by_cn.empty(); }
};

// '#' comments and blank lines ignored. Errors name the file and line.
absl::StatusOr<CertRoles> ParseCertRoles(absl::string_view text, absl::string_view file_name);

// A URI naming a node: spiffe://<trust-domain>/node/...
bool IsSpiffeNodeUri(absl::string_view uri);

// What a certificate says about its holder (subject CN and SANs).
struct CertNames {
  std::string common_name;
  std::vector<std::string> uris;
  std::vector<std::string> emails;
  absl::Time not_before = absl::InfinitePast();  // when it was issued (X.509 notBefore)
};
// INVALID_ARGUMENT when `pem` is not a PEM certificate.
absl::StatusOr<CertNames> ReadCertNames(absl::string_view pem);

class PeopleCertMapper {
 public:
  // `people_ca_pem` empty: no people CA (then `roles` must have no cn: entries).
  // INVALID_ARGUMENT naming the problem otherwise.
  static absl::StatusOr<std::unique_ptr<PeopleCertMapper>> Create(CertRoles roles,
                                                                  absl::string_view people_ca_pem);
  ~PeopleCertMapper();

  // `leaf_pem`: the peer's certificate; `chain_pem`: what the peer presented (leaf first, may
  // hold intermediates; may be empty). UNAUTHENTICATED saying why when the certificate is not a
  // mapped person: a node certificate, not issued by the people CA, or not in cert-roles.
  absl::StatusOr<provenance::v1::Principal> Map(absl::string_view leaf_pem,
                                                absl::string_view chain_pem) const;
  bool has_people_ca() const { return people_ca_ != nullptr; }
  // True when there is a people CA and the certificate chains to it (node_cert.h refuses those).
  bool IssuedByPeopleCa(absl::string_view leaf_pem, absl::string_view chain_pem) const;

 private:
  struct CaStore;
  PeopleCertMapper(CertRoles roles, std::unique_ptr<CaStore> people_ca);
  absl::Status VerifyPeopleCa(absl::string_view leaf_pem, absl::string_view chain_pem) const;

  const CertRoles roles_;
  std::unique_ptr<CaStore> people_ca_;
};

}  // namespace prov::server
