// In-process test certificates (OpenSSL): a CA and leaf certificates with a chosen common name
// and subjectAltName, as PEM text. For tests only.
//
//   TestCa ca("agents-ca");
//   std::string pem = ca.Issue("alice", "URI:spiffe://prov.test/node/n1");
//   TestCa::KeyPair server = ca.IssueWithKey("localhost", "DNS:localhost,IP:127.0.0.1",
//                                            "serverAuth");   // .cert_pem, .key_pem for TLS
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <string>

namespace prov::testing {

class TestCa {
 public:
  explicit TestCa(const std::string& name) : key_(NewKey()), cert_(X509_new()) {
    Fill(cert_, name, /*serial=*/1);
    X509_set_issuer_name(cert_, X509_get_subject_name(cert_));
    X509_set_pubkey(cert_, key_);
    AddExt(cert_, cert_, NID_basic_constraints, "critical,CA:TRUE");
    AddExt(cert_, cert_, NID_key_usage, "critical,keyCertSign,cRLSign");
    X509_sign(cert_, key_, EVP_sha256());
  }
  ~TestCa() {
    X509_free(cert_);
    EVP_PKEY_free(key_);
  }
  TestCa(const TestCa&) = delete;
  TestCa& operator=(const TestCa&) = delete;

  std::string pem() const { return Pem(cert_); }
  std::string key_pem() const { return KeyPem(key_); }
  // `san`: OpenSSL's subjectAltName syntax ("URI:...,email:..."), or empty.
  std::string Issue(const std::string& common_name, const std::string& san) {
    return IssueWithKey(common_name, san, "clientAuth").cert_pem;
  }
  struct KeyPair {
    std::string cert_pem;
    std::string key_pem;  // PKCS#8, unencrypted
  };
  // `usage`: extendedKeyUsage ("clientAuth", "serverAuth").
  KeyPair IssueWithKey(const std::string& common_name, const std::string& san,
                       const std::string& usage) {
    EVP_PKEY* key = NewKey();
    X509* leaf = X509_new();
    Fill(leaf, common_name, ++serial_);
    X509_set_issuer_name(leaf, X509_get_subject_name(cert_));
    X509_set_pubkey(leaf, key);
    AddExt(cert_, leaf, NID_basic_constraints, "CA:FALSE");
    AddExt(cert_, leaf, NID_ext_key_usage, usage.c_str());
    if (!san.empty()) AddExt(cert_, leaf, NID_subject_alt_name, san.c_str());
    X509_sign(leaf, key_, EVP_sha256());
    KeyPair out{Pem(leaf), KeyPem(key)};
    X509_free(leaf);
    EVP_PKEY_free(key);
    return out;
  }

 private:
  static EVP_PKEY* NewKey() { return EVP_EC_gen("P-256"); }
  static void Fill(X509* x, const std::string& cn, long serial) {
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_NAME* name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  }
  static void AddExt(X509* issuer, X509* subject, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer, subject, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    X509_add_ext(subject, ext, -1);
    X509_EXTENSION_free(ext);
  }
  static std::string Pem(X509* x) {
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(bio, x);
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<size_t>(n));
    BIO_free(bio);
    return out;
  }

  static std::string KeyPem(EVP_PKEY* key) {
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<size_t>(n));
    BIO_free(bio);
    return out;
  }

  EVP_PKEY* key_;
  X509* cert_;
  long serial_ = 1;
};

}  // namespace prov::testing
