// common/node_key.h: the node's own key and CSR (OpenSSL), certificate validity and renewal time.
#include "common/node_key.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "gtest/gtest.h"
#include "tests/compliance/test_certs.h"

namespace prov {
namespace {

TEST(NodeKeyTest, GeneratesAnEcP256KeyAndASelfSignedCsr) {
  absl::StatusOr<std::string> key = GenerateNodeKeyPem();
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_NE(key->find("BEGIN PRIVATE KEY"), std::string::npos);
  absl::StatusOr<std::string> csr = MakeCsrPem(*key, "gpu-017");
  ASSERT_TRUE(csr.ok()) << csr.status();
  BIO* bio = BIO_new_mem_buf(csr->data(), static_cast<int>(csr->size()));
  X509_REQ* req = PEM_read_bio_X509_REQ(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ASSERT_NE(req, nullptr);
  EVP_PKEY* pub = X509_REQ_get0_pubkey(req);
  ASSERT_NE(pub, nullptr);
  EXPECT_EQ(X509_REQ_verify(req, pub), 1);  // proof of possession
  EXPECT_EQ(EVP_PKEY_get_id(pub), EVP_PKEY_EC);
  EXPECT_EQ(EVP_PKEY_get_bits(pub), 256);
  X509_REQ_free(req);
  EXPECT_NE(*GenerateNodeKeyPem(), *key) << "a fresh key each time";
}

TEST(NodeKeyTest, RefusesWhatIsNotAKeyOrACertificate) {
  EXPECT_EQ(MakeCsrPem("not a key", "n").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadCertValidity("nope").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadCertCommonName("nope").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(CertMatchesKey("nope", "nope"));
}

TEST(NodeKeyTest, ReadsValidityNameAndKeyMatch) {
  testing::TestCa ca("ca");
  testing::TestCa::KeyPair leaf = ca.IssueWithKey("gpu-017", "", "clientAuth");
  absl::StatusOr<CertValidity> v = ReadCertValidity(leaf.cert_pem);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->not_after - v->not_before, absl::Hours(25));  // TestCa: -1h .. +24h
  EXPECT_EQ(*ReadCertCommonName(leaf.cert_pem), "gpu-017");
  EXPECT_TRUE(CertMatchesKey(leaf.cert_pem, leaf.key_pem));
  EXPECT_FALSE(CertMatchesKey(leaf.cert_pem, *GenerateNodeKeyPem()));
}

TEST(NodeKeyTest, RenewsAtTwoThirdsOfTheLifetime) {
  const absl::Time t0 = absl::FromUnixSeconds(1'700'000'000);
  EXPECT_EQ(RenewAt({t0, t0 + absl::Hours(24)}), t0 + absl::Hours(16));
  EXPECT_EQ(RenewAt({t0, t0 + absl::Hours(3)}), t0 + absl::Hours(2));
}

}  // namespace
}  // namespace prov
