// NodeCa (issue 10 §1, enrolment's signing half): a CSR becomes a client certificate for exactly
// the node provd names, whatever the CSR asked for, and only from a CSR signed by its own EC
// P-256 or Ed25519 key.
#include "server/access/node_ca.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "gtest/gtest.h"
#include "server/access/cert_identity.h"
#include "server/access/node_cert.h"
#include "tests/compliance/test_certs.h"

namespace prov::server {
namespace {

// A CSR for `key` asking for CN `cn` (and, when given, a SAN); signed by `signer` (normally key).
std::string Csr(EVP_PKEY* key, const std::string& cn, EVP_PKEY* signer = nullptr) {
  X509_REQ* req = X509_REQ_new();
  X509_REQ_set_version(req, 0);
  X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_REQ_set_pubkey(req, key);
  signer = signer != nullptr ? signer : key;
  X509_REQ_sign(req, signer, EVP_PKEY_get_id(signer) == EVP_PKEY_ED25519 ? nullptr : EVP_sha256());
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509_REQ(bio, req);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(bio);
  X509_REQ_free(req);
  return out;
}

class NodeCaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = NodeCa::Create(root_.pem(), root_.key_pem(),
                             {.trust_domain = "prov.test", .cert_ttl = absl::Hours(24)});
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = *std::move(ca);
  }
  void TearDown() override {
    for (EVP_PKEY* k : keys_) EVP_PKEY_free(k);
  }
  EVP_PKEY* Key(EVP_PKEY* k) {
    keys_.push_back(k);
    return k;
  }
  prov::testing::TestCa root_{"node-ca"};
  std::unique_ptr<NodeCa> ca_;
  std::vector<EVP_PKEY*> keys_;
};

TEST_F(NodeCaTest, SignsForExactlyTheNamedNode) {
  const absl::Time now = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()));
  // The CSR asks to be another node: the certificate names gpu-017 only.
  auto cert = ca_->Sign(Csr(Key(EVP_EC_gen("P-256")), "victim"), "gpu-017", now);
  ASSERT_TRUE(cert.ok()) << cert.status();
  auto names = ReadCertNames(*cert);
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(names->common_name, "gpu-017");
  ASSERT_EQ(names->uris.size(), 1u);
  EXPECT_EQ(names->uris[0], "spiffe://prov.test/node/gpu-017");
  EXPECT_EQ(names->not_before, now);
  auto binder = NodeCertBinder::Create({.trust_domain = "prov.test"}, nullptr);
  auto bound = (*binder)->Bind(*cert, "");
  ASSERT_TRUE(bound.ok()) << bound.status();
  EXPECT_EQ(bound->node_id, "gpu-017");
  // Issued by the node CA: it verifies against the CA's key.
  BIO* bio = BIO_new_mem_buf(cert->data(), static_cast<int>(cert->size()));
  X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  const std::string ca_pem = root_.pem();
  BIO* ca_bio = BIO_new_mem_buf(ca_pem.data(), static_cast<int>(ca_pem.size()));
  X509* ca = PEM_read_bio_X509(ca_bio, nullptr, nullptr, nullptr);
  BIO_free(ca_bio);
  EXPECT_EQ(X509_verify(x, X509_get0_pubkey(ca)), 1);
  EXPECT_EQ(ASN1_TIME_cmp_time_t(X509_get0_notAfter(x), absl::ToTimeT(now + absl::Hours(24))), 0);
  X509_free(x);
  X509_free(ca);
}

TEST_F(NodeCaTest, Ed25519KeysAreAccepted) {
  EVP_PKEY* key = Key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  ASSERT_NE(key, nullptr);
  EXPECT_TRUE(ca_->Sign(Csr(key, "n"), "n", absl::Now()).ok());
}

TEST_F(NodeCaTest, RefusesForgedCsrsOtherKeysAndBadNodeIds) {
  EVP_PKEY* mine = Key(EVP_EC_gen("P-256"));
  EVP_PKEY* other = Key(EVP_EC_gen("P-256"));
  auto forged = ca_->Sign(Csr(mine, "n", other), "n", absl::Now());
  ASSERT_FALSE(forged.ok());
  EXPECT_NE(forged.status().message().find("signature does not verify"), std::string::npos);
  auto rsa = ca_->Sign(Csr(Key(EVP_RSA_gen(2048)), "n"), "n", absl::Now());
  ASSERT_FALSE(rsa.ok());
  EXPECT_NE(rsa.status().message().find("EC P-256 or Ed25519"), std::string::npos);
  auto p384 = ca_->Sign(Csr(Key(EVP_EC_gen("P-384")), "n"), "n", absl::Now());
  EXPECT_FALSE(p384.ok());
  EXPECT_FALSE(ca_->Sign("not a csr", "n", absl::Now()).ok());
  EXPECT_FALSE(ca_->Sign(Csr(mine, "n"), "a/b", absl::Now()).ok());
  EXPECT_FALSE(ca_->Sign(Csr(mine, "n"), "", absl::Now()).ok());
}

TEST(NodeCaCreateTest, ConfigErrorsNameTheProblem) {
  prov::testing::TestCa ca("node-ca");
  prov::testing::TestCa other("other-ca");
  auto mismatch = NodeCa::Create(ca.pem(), other.key_pem(), {.trust_domain = "t"});
  ASSERT_FALSE(mismatch.ok());
  EXPECT_NE(mismatch.status().message().find("does not match"), std::string::npos);
  auto leaf = ca.IssueWithKey("n", "", "clientAuth");
  auto not_ca = NodeCa::Create(leaf.cert_pem, leaf.key_pem, {.trust_domain = "t"});
  ASSERT_FALSE(not_ca.ok());
  EXPECT_NE(not_ca.status().message().find("not a CA"), std::string::npos);
  EXPECT_FALSE(NodeCa::Create(ca.pem(), ca.key_pem(), {.trust_domain = ""}).ok());
}

}  // namespace
}  // namespace prov::server
