// A node's own key and certificate request for enrolment (issue 10 §1), with OpenSSL: the key is
// generated on the node and never leaves it; only the CSR (public key + self-signature) is sent.
//
//   PROV_ASSIGN_OR_RETURN(std::string key_pem, prov::GenerateNodeKeyPem());   // EC P-256, PKCS#8
//   PROV_ASSIGN_OR_RETURN(std::string csr_pem, prov::MakeCsrPem(key_pem, "gpu-017"));
//   ... provd signs it (NodeEnrollmentService.Enroll) ...
//   PROV_ASSIGN_OR_RETURN(prov::CertValidity v, prov::ReadCertValidity(cert_pem));
//   absl::Time renew_at = prov::RenewAt(v);   // 2/3 of the lifetime
//
// Thread-safe (no shared state).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace prov {

// A fresh EC P-256 private key, PEM (PKCS#8, unencrypted). INTERNAL if OpenSSL fails.
absl::StatusOr<std::string> GenerateNodeKeyPem();

// A PEM PKCS#10 request for `key_pem`'s public key, signed by it, subject CN `common_name` (a
// hint only: provd names the node itself). INVALID_ARGUMENT when the key does not parse.
absl::StatusOr<std::string> MakeCsrPem(absl::string_view key_pem, absl::string_view common_name);

struct CertValidity {
  absl::Time not_before;
  absl::Time not_after;
};
// The first certificate in `cert_pem`. INVALID_ARGUMENT when there is none.
absl::StatusOr<CertValidity> ReadCertValidity(absl::string_view cert_pem);

// The subject common name of the first certificate in `cert_pem` (provd's node CA writes the
// node id there); INVALID_ARGUMENT when there is no certificate or no CN.
absl::StatusOr<std::string> ReadCertCommonName(absl::string_view cert_pem);

// Whether the first certificate in `cert_pem` is for the private key `key_pem`.
bool CertMatchesKey(absl::string_view cert_pem, absl::string_view key_pem);

// When to renew: once two thirds of the lifetime have passed.
absl::Time RenewAt(const CertValidity& validity);

}  // namespace prov
