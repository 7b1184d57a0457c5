#include "server/access/node_ca.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/openssl_ptr.h"
#include "common/status_macros.h"

namespace prov::server {
namespace {

using openssl::BioPtr;
using openssl::KeyPtr;
using openssl::MemBio;
using openssl::ReqPtr;
using openssl::X509Ptr;

// EC P-256 or Ed25519 (what prov-agent generates); anything else is refused.
bool AcceptedKey(EVP_PKEY* key) {
  if (EVP_PKEY_get_id(key) == EVP_PKEY_ED25519) return true;
  if (EVP_PKEY_get_id(key) != EVP_PKEY_EC) return false;
  char group[64] = {};
  size_t len = 0;
  return EVP_PKEY_get_utf8_string_param(key, "group", group, sizeof(group), &len) == 1 &&
         std::string(group, len) == "prime256v1";
}

bool AddExt(X509* issuer, X509* cert, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) return false;
  const bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

}  // namespace

struct NodeCa::Keys {
  X509Ptr cert;
  KeyPtr key;
};

NodeCa::NodeCa(std::unique_ptr<Keys> keys, NodeCaOptions options)
    : keys_(std::move(keys)), options_(std::move(options)) {}
NodeCa::~NodeCa() = default;

absl::StatusOr<std::unique_ptr<NodeCa>> NodeCa::Create(absl::string_view ca_cert_pem,
                                                       absl::string_view ca_key_pem,
                                                       NodeCaOptions options) {
  if (options.trust_domain.empty()) {
    return absl::InvalidArgumentError("node CA: a trust domain is required");
  }
  if (options.cert_ttl <= absl::ZeroDuration() || options.cert_ttl > absl::Hours(24 * 366)) {
    return absl::InvalidArgumentError("node CA: certificate TTL must be in (0, 366d]");
  }
  auto keys = std::make_unique<Keys>();
  keys->cert.reset(PEM_read_bio_X509(MemBio(ca_cert_pem).get(), nullptr, nullptr, nullptr));
  if (keys->cert == nullptr) return absl::InvalidArgumentError("node CA: no PEM certificate");
  keys->key.reset(PEM_read_bio_PrivateKey(MemBio(ca_key_pem).get(), nullptr, nullptr, nullptr));
  if (keys->key == nullptr) return absl::InvalidArgumentError("node CA: no PEM private key");
  if (X509_check_private_key(keys->cert.get(), keys->key.get()) != 1) {
    return absl::InvalidArgumentError("node CA: the key does not match the certificate");
  }
  if (X509_check_ca(keys->cert.get()) == 0) {
    return absl::InvalidArgumentError("node CA: the certificate is not a CA (CA:TRUE)");
  }
  return std::unique_ptr<NodeCa>(new NodeCa(std::move(keys), std::move(options)));
}

std::string NodeCa::ca_cert_pem() const {
  BioPtr out(BIO_new(BIO_s_mem()));
  if (out == nullptr || PEM_write_bio_X509(out.get(), keys_->cert.get()) != 1) return "";
  char* data = nullptr;
  const long n = BIO_get_mem_data(out.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

absl::StatusOr<std::string> NodeCa::Sign(absl::string_view csr_pem, absl::string_view node_id,
                                         absl::Time now) const {
  PROV_ASSIGN_OR_RETURN(IssuedNodeCert issued, Issue(csr_pem, node_id, now));
  return std::move(issued.cert_pem);
}

absl::StatusOr<IssuedNodeCert> NodeCa::Issue(absl::string_view csr_pem, absl::string_view node_id,
                                             absl::Time now) const {
  if (node_id.empty() || node_id.size() > 256 || node_id.find('/') != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat("node id '", node_id, "' is not a plain id"));
  }
  ReqPtr req(PEM_read_bio_X509_REQ(MemBio(csr_pem).get(), nullptr, nullptr, nullptr));
  if (req == nullptr) return absl::InvalidArgumentError("csr: not a PEM certificate request");
  EVP_PKEY* pub = X509_REQ_get0_pubkey(req.get());
  if (pub == nullptr) return absl::InvalidArgumentError("csr: no public key");
  if (X509_REQ_verify(req.get(), pub) != 1) {
    return absl::InvalidArgumentError("csr: its signature does not verify (not made by its key)");
  }
  if (!AcceptedKey(pub)) {
    return absl::InvalidArgumentError("csr: the key must be EC P-256 or Ed25519");
  }
  X509Ptr cert(X509_new());
  const std::string id(node_id);
  bool ok = X509_set_version(cert.get(), 2) == 1;
  BIGNUM* serial = BN_new();
  ok = ok && serial != nullptr && BN_rand(serial, 128, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1 &&
       BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert.get())) != nullptr;
  BN_free(serial);
  X509_NAME* name = X509_get_subject_name(cert.get());
  ok = ok && X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                        reinterpret_cast<const unsigned char*>(id.c_str()), -1, -1,
                                        0) == 1;
  ok = ok && X509_set_issuer_name(cert.get(), X509_get_subject_name(keys_->cert.get())) == 1;
  ok = ok && X509_set_pubkey(cert.get(), pub) == 1;
  time_t start = absl::ToTimeT(now);
  ok = ok && X509_time_adj_ex(X509_getm_notBefore(cert.get()), 0, 0, &start) != nullptr;
  ok = ok && X509_time_adj_ex(X509_getm_notAfter(cert.get()), 0,
                              static_cast<long>(absl::ToInt64Seconds(options_.cert_ttl)),
                              &start) != nullptr;
  ok = ok && AddExt(keys_->cert.get(), cert.get(), NID_basic_constraints, "critical,CA:FALSE");
  ok = ok && AddExt(keys_->cert.get(), cert.get(), NID_key_usage, "critical,digitalSignature");
  ok = ok && AddExt(keys_->cert.get(), cert.get(), NID_ext_key_usage, "clientAuth");
  ok = ok && AddExt(keys_->cert.get(), cert.get(), NID_subject_alt_name,
                    absl::StrCat("URI:spiffe://", options_.trust_domain, "/node/", id));
  const EVP_MD* md = EVP_PKEY_get_id(keys_->key.get()) == EVP_PKEY_ED25519 ? nullptr : EVP_sha256();
  ok = ok && X509_sign(cert.get(), keys_->key.get(), md) > 0;
  if (!ok) return absl::InternalError("node CA: signing the certificate failed (OpenSSL)");
  BioPtr out(BIO_new(BIO_s_mem()));
  if (out == nullptr || PEM_write_bio_X509(out.get(), cert.get()) != 1) {
    return absl::InternalError("node CA: writing the certificate failed");
  }
  char* data = nullptr;
  const long n = BIO_get_mem_data(out.get(), &data);
  IssuedNodeCert issued;
  issued.cert_pem.assign(data, static_cast<size_t>(n));
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert.get()), nullptr);
  char* hex = bn == nullptr ? nullptr : BN_bn2hex(bn);
  BN_free(bn);
  if (hex == nullptr) return absl::InternalError("node CA: reading the serial failed");
  issued.serial_hex = hex;
  OPENSSL_free(hex);
  issued.not_after =
      absl::FromTimeT(start) + absl::Seconds(absl::ToInt64Seconds(options_.cert_ttl));
  return issued;
}

}  // namespace prov::server
