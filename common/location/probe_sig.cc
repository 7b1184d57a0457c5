#include "common/location/probe_sig.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sodium.h>

#include <utility>

#include "common/openssl_ptr.h"

namespace prov::location {
namespace {

using openssl::BioPtr;
using openssl::KeyPtr;
using openssl::MdCtxPtr;
using openssl::MemBio;
using openssl::X509Ptr;

void AppendField(std::string& out, absl::string_view field) {
  const size_t n = field.size() > 0xffff ? 0xffff : field.size();
  out.push_back(static_cast<char>((n >> 8) & 0xff));
  out.push_back(static_cast<char>(n & 0xff));
  out.append(field.data(), n);
}

std::string Framed(absl::string_view domain, absl::string_view nonce, absl::string_view landmark_id,
                   absl::string_view target_id, uint64_t seq) {
  std::string out(domain);
  out.push_back('\0');
  AppendField(out, nonce);
  AppendField(out, landmark_id);
  AppendField(out, target_id);
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((seq >> shift) & 0xff));
  }
  return out;
}

std::string SpkiDer(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  const int n = i2d_PUBKEY(key, &der);
  if (n <= 0) return {};
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(n));
  OPENSSL_free(der);
  return out;
}

}  // namespace

std::string ProbeMessage(absl::string_view nonce, absl::string_view landmark_id,
                         absl::string_view target_id, uint64_t seq) {
  return Framed("prov-probe-v1", nonce, landmark_id, target_id, seq);
}

std::string AnswerMessage(absl::string_view nonce, absl::string_view landmark_id,
                          absl::string_view target_id, uint64_t seq) {
  return Framed("prov-answer-v1", nonce, landmark_id, target_id, seq);
}

std::string MeasurementSigningMessage(absl::string_view measurement_bytes) {
  std::string out("prov-measurement-v1");
  out.push_back('\0');
  out.append(measurement_bytes.data(), measurement_bytes.size());
  return out;
}

struct NodeAnswerSigner::Impl {
  KeyPtr key;
};

NodeAnswerSigner::NodeAnswerSigner(std::unique_ptr<Impl> impl, std::string spki)
    : impl_(std::move(impl)), public_key_der_(std::move(spki)) {}
NodeAnswerSigner::~NodeAnswerSigner() = default;

absl::StatusOr<std::unique_ptr<NodeAnswerSigner>> NodeAnswerSigner::FromKeyPem(
    absl::string_view key_pem) {
  KeyPtr key(PEM_read_bio_PrivateKey(MemBio(key_pem).get(), nullptr, nullptr, nullptr));
  if (key == nullptr) return absl::InvalidArgumentError("node key: not a PEM private key");
  if (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_EC) {
    return absl::InvalidArgumentError("node key: not an EC (P-256) key");
  }
  std::string spki = SpkiDer(key.get());
  if (spki.empty()) return absl::InternalError("node key: encoding its public key failed");
  auto impl = std::make_unique<Impl>();
  impl->key = std::move(key);
  return std::unique_ptr<NodeAnswerSigner>(new NodeAnswerSigner(std::move(impl), std::move(spki)));
}

std::string NodeAnswerSigner::Sign(absl::string_view message) const {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (ctx == nullptr ||
      EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, impl_->key.get()) != 1) {
    return {};
  }
  size_t n = 0;
  const auto* data = reinterpret_cast<const unsigned char*>(message.data());
  if (EVP_DigestSign(ctx.get(), nullptr, &n, data, message.size()) != 1) return {};
  std::string sig(n, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &n, data,
                     message.size()) != 1) {
    return {};
  }
  sig.resize(n);
  return sig;
}

absl::StatusOr<std::string> PublicKeyDerFromPem(absl::string_view pem) {
  if (X509Ptr cert(PEM_read_bio_X509(MemBio(pem).get(), nullptr, nullptr, nullptr));
      cert != nullptr) {
    EVP_PKEY* key = X509_get0_pubkey(cert.get());
    if (key != nullptr) {
      std::string spki = SpkiDer(key);
      if (!spki.empty()) return spki;
    }
  }
  if (KeyPtr key(PEM_read_bio_PrivateKey(MemBio(pem).get(), nullptr, nullptr, nullptr));
      key != nullptr) {
    std::string spki = SpkiDer(key.get());
    if (!spki.empty()) return spki;
  }
  if (KeyPtr key(PEM_read_bio_PUBKEY(MemBio(pem).get(), nullptr, nullptr, nullptr));
      key != nullptr) {
    std::string spki = SpkiDer(key.get());
    if (!spki.empty()) return spki;
  }
  return absl::InvalidArgumentError("no certificate or key in the PEM text");
}

bool VerifyNodeAnswer(absl::string_view spki_der, absl::string_view message,
                      absl::string_view signature_der) {
  const auto* p = reinterpret_cast<const unsigned char*>(spki_der.data());
  KeyPtr key(d2i_PUBKEY(nullptr, &p, static_cast<long>(spki_der.size())));
  if (key == nullptr || EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_EC) return false;
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (ctx == nullptr ||
      EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1) {
    return false;
  }
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature_der.data()),
                          signature_der.size(),
                          reinterpret_cast<const unsigned char*>(message.data()),
                          message.size()) == 1;
}

bool VerifyEd25519Raw(absl::string_view public_key, absl::string_view message,
                      absl::string_view signature) {
  if (public_key.size() != crypto_sign_PUBLICKEYBYTES || signature.size() != crypto_sign_BYTES) {
    return false;
  }
  if (sodium_init() < 0) return false;
  return crypto_sign_verify_detached(
             reinterpret_cast<const unsigned char*>(signature.data()),
             reinterpret_cast<const unsigned char*>(message.data()), message.size(),
             reinterpret_cast<const unsigned char*>(public_key.data())) == 0;
}

std::string SignEd25519Raw(absl::string_view secret_key, absl::string_view message) {
  if (secret_key.size() != crypto_sign_SECRETKEYBYTES || sodium_init() < 0) return {};
  std::string sig(crypto_sign_BYTES, '\0');
  crypto_sign_detached(reinterpret_cast<unsigned char*>(sig.data()), nullptr,
                       reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                       reinterpret_cast<const unsigned char*>(secret_key.data()));
  return sig;
}

struct NodeAnswerVerifier::Impl {
  KeyPtr key;
};

absl::StatusOr<std::unique_ptr<NodeAnswerVerifier>> NodeAnswerVerifier::FromSpkiDer(
    absl::string_view spki_der) {
  const auto* p = reinterpret_cast<const unsigned char*>(spki_der.data());
  KeyPtr key(d2i_PUBKEY(nullptr, &p, static_cast<long>(spki_der.size())));
  if (key == nullptr || EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_EC) {
    return absl::InvalidArgumentError("not a DER EC SubjectPublicKeyInfo");
  }
  auto impl = std::make_unique<Impl>();
  impl->key = std::move(key);
  return std::unique_ptr<NodeAnswerVerifier>(new NodeAnswerVerifier(std::move(impl)));
}

NodeAnswerVerifier::NodeAnswerVerifier(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
NodeAnswerVerifier::~NodeAnswerVerifier() = default;

bool NodeAnswerVerifier::Verify(absl::string_view message, absl::string_view signature_der) const {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (ctx == nullptr ||
      EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, impl_->key.get()) != 1) {
    return false;
  }
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature_der.data()),
                          signature_der.size(),
                          reinterpret_cast<const unsigned char*>(message.data()),
                          message.size()) == 1;
}

}  // namespace prov::location
