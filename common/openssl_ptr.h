// Owning pointers for OpenSSL objects, and a read-only memory BIO over a string, shared by the
// code that parses keys and certificates (node_key.cc, location/probe_sig.cc, the node CA).
//
//   prov::openssl::KeyPtr key(PEM_read_bio_PrivateKey(prov::openssl::MemBio(pem).get(), ...));
//   if (key == nullptr) return absl::InvalidArgumentError("not a PEM key");
//
// The BIO from MemBio reads `text` in place: `text` must outlive it.
#pragma once

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>

#include "absl/strings/string_view.h"

namespace prov::openssl {

template <typename T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using ReqPtr = std::unique_ptr<X509_REQ, Deleter<X509_REQ, X509_REQ_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;

inline BioPtr MemBio(absl::string_view text) {
  return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

}  // namespace prov::openssl
