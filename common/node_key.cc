#include "common/node_key.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <ctime>
#include <memory>

#include "common/openssl_ptr.h"

namespace prov {
namespace {

using openssl::BioPtr;
using openssl::KeyPtr;
using openssl::MemBio;
using openssl::ReqPtr;
using openssl::X509Ptr;

std::string Drain(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

absl::StatusOr<absl::Time> ToTime(const ASN1_TIME* t) {
  struct tm tm = {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) {
    return absl::InvalidArgumentError("certificate: unreadable validity time");
  }
  return absl::FromTimeT(timegm(&tm));
}

}  // namespace

absl::StatusOr<std::string> GenerateNodeKeyPem() {
  KeyPtr key(EVP_EC_gen("P-256"));
  BioPtr out(BIO_new(BIO_s_mem()));
  if (key == nullptr || out == nullptr ||
      PEM_write_bio_PrivateKey(out.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return absl::InternalError("generating an EC P-256 key failed (OpenSSL)");
  }
  return Drain(out.get());
}

absl::StatusOr<std::string> MakeCsrPem(absl::string_view key_pem, absl::string_view common_name) {
  KeyPtr key(PEM_read_bio_PrivateKey(MemBio(key_pem).get(), nullptr, nullptr, nullptr));
  if (key == nullptr) return absl::InvalidArgumentError("node key: not a PEM private key");
  ReqPtr req(X509_REQ_new());
  const std::string cn(common_name);
  bool ok = req != nullptr && X509_REQ_set_version(req.get(), 0) == 1 &&
            X509_REQ_set_pubkey(req.get(), key.get()) == 1;
  if (ok && !cn.empty()) {
    ok = X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req.get()), "CN", MBSTRING_UTF8,
                                    reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                                    0) == 1;
  }
  ok = ok && X509_REQ_sign(req.get(), key.get(), EVP_sha256()) > 0;
  BioPtr out(BIO_new(BIO_s_mem()));
  if (!ok || out == nullptr || PEM_write_bio_X509_REQ(out.get(), req.get()) != 1) {
    return absl::InternalError("building the certificate request failed (OpenSSL)");
  }
  return Drain(out.get());
}

absl::StatusOr<CertValidity> ReadCertValidity(absl::string_view cert_pem) {
  X509Ptr cert(PEM_read_bio_X509(MemBio(cert_pem).get(), nullptr, nullptr, nullptr));
  if (cert == nullptr) return absl::InvalidArgumentError("certificate: no PEM certificate");
  CertValidity v;
  absl::StatusOr<absl::Time> from = ToTime(X509_get0_notBefore(cert.get()));
  if (!from.ok()) return from.status();
  absl::StatusOr<absl::Time> to = ToTime(X509_get0_notAfter(cert.get()));
  if (!to.ok()) return to.status();
  v.not_before = *from;
  v.not_after = *to;
  return v;
}

absl::StatusOr<std::string> ReadCertCommonName(absl::string_view cert_pem) {
  X509Ptr cert(PEM_read_bio_X509(MemBio(cert_pem).get(), nullptr, nullptr, nullptr));
  if (cert == nullptr) return absl::InvalidArgumentError("certificate: no PEM certificate");
  X509_NAME* name = X509_get_subject_name(cert.get());
  const int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  ASN1_STRING* data = i < 0 ? nullptr : X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
  if (data == nullptr) return absl::InvalidArgumentError("certificate: no common name");
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(data)),
                     static_cast<size_t>(ASN1_STRING_length(data)));
}

bool CertMatchesKey(absl::string_view cert_pem, absl::string_view key_pem) {
  X509Ptr cert(PEM_read_bio_X509(MemBio(cert_pem).get(), nullptr, nullptr, nullptr));
  KeyPtr key(PEM_read_bio_PrivateKey(MemBio(key_pem).get(), nullptr, nullptr, nullptr));
  return cert != nullptr && key != nullptr && X509_check_private_key(cert.get(), key.get()) == 1;
}

absl::Time RenewAt(const CertValidity& validity) {
  return validity.not_before + (validity.not_after - validity.not_before) * 2 / 3;
}

}  // namespace prov
