#include "common/location/probe_sig.h"

#include <gtest/gtest.h>

#include "common/integrity/ed25519.h"
#include "common/node_key.h"

namespace prov::location {
namespace {

const std::string kNonce(kNonceSize, '\x5a');

TEST(ProbeSigTest, NodeAnswerSignsAndVerifies) {
  auto pem = GenerateNodeKeyPem();
  ASSERT_TRUE(pem.ok());
  auto signer = NodeAnswerSigner::FromKeyPem(*pem);
  ASSERT_TRUE(signer.ok()) << signer.status();
  const std::string m = AnswerMessage(kNonce, "lm-1", "gpu-1", 7);
  const std::string sig = (*signer)->Sign(m);
  ASSERT_FALSE(sig.empty());
  auto spki = PublicKeyDerFromPem(*pem);
  ASSERT_TRUE(spki.ok());
  EXPECT_EQ(*spki, (*signer)->public_key_der());
  EXPECT_TRUE(VerifyNodeAnswer(*spki, m, sig));
  // Any other nonce, landmark, node or seq is a different message.
  EXPECT_FALSE(
      VerifyNodeAnswer(*spki, AnswerMessage(std::string(16, 'x'), "lm-1", "gpu-1", 7), sig));
  EXPECT_FALSE(VerifyNodeAnswer(*spki, AnswerMessage(kNonce, "lm-2", "gpu-1", 7), sig));
  EXPECT_FALSE(VerifyNodeAnswer(*spki, AnswerMessage(kNonce, "lm-1", "gpu-2", 7), sig));
  EXPECT_FALSE(VerifyNodeAnswer(*spki, AnswerMessage(kNonce, "lm-1", "gpu-1", 8), sig));
  // A probe message is never an answer message.
  EXPECT_FALSE(VerifyNodeAnswer(*spki, ProbeMessage(kNonce, "lm-1", "gpu-1", 7), sig));
  // Another node's key does not verify it.
  auto other = GenerateNodeKeyPem();
  ASSERT_TRUE(other.ok());
  auto other_spki = PublicKeyDerFromPem(*other);
  ASSERT_TRUE(other_spki.ok());
  EXPECT_FALSE(VerifyNodeAnswer(*other_spki, m, sig));
}

TEST(ProbeSigTest, ParsedVerifierAgreesWithVerifyNodeAnswer) {
  auto pem = GenerateNodeKeyPem();
  ASSERT_TRUE(pem.ok());
  auto signer = NodeAnswerSigner::FromKeyPem(*pem);
  ASSERT_TRUE(signer.ok());
  auto verifier = NodeAnswerVerifier::FromSpkiDer((*signer)->public_key_der());
  ASSERT_TRUE(verifier.ok()) << verifier.status();
  const std::string m = AnswerMessage(kNonce, "lm-1", "gpu-1", 7);
  const std::string sig = (*signer)->Sign(m);
  EXPECT_TRUE((*verifier)->Verify(m, sig));
  EXPECT_FALSE((*verifier)->Verify(AnswerMessage(kNonce, "lm-1", "gpu-1", 8), sig));
  EXPECT_FALSE((*verifier)->Verify(m, "not a signature"));
  EXPECT_FALSE(NodeAnswerVerifier::FromSpkiDer("garbage").ok());
  auto ed = integrity::GenerateSigningKey();
  ASSERT_TRUE(ed.ok());
  EXPECT_FALSE(NodeAnswerVerifier::FromSpkiDer(ed->public_key).ok());
}

TEST(ProbeSigTest, FieldsCannotShift) {
  EXPECT_NE(AnswerMessage(kNonce, "lm-1g", "pu-1", 1), AnswerMessage(kNonce, "lm-1", "gpu-1", 1));
}

TEST(ProbeSigTest, MalformedInputsAreFalseNotCrashes) {
  EXPECT_FALSE(VerifyNodeAnswer("", "m", "s"));
  EXPECT_FALSE(VerifyNodeAnswer("garbage", "m", "s"));
  EXPECT_FALSE(VerifyEd25519Raw("short", "m", std::string(64, 'a')));
  EXPECT_FALSE(NodeAnswerSigner::FromKeyPem("not a key").ok());
  EXPECT_FALSE(PublicKeyDerFromPem("nothing").ok());
}

TEST(ProbeSigTest, Ed25519RawRoundTrip) {
  auto key = integrity::GenerateSigningKey();
  ASSERT_TRUE(key.ok());
  const std::string m = MeasurementSigningMessage("bytes");
  const std::string sig = SignEd25519Raw(key->secret_key, m);
  ASSERT_EQ(sig.size(), 64u);
  EXPECT_TRUE(VerifyEd25519Raw(key->public_key, m, sig));
  EXPECT_FALSE(VerifyEd25519Raw(key->public_key, MeasurementSigningMessage("bytez"), sig));
}

}  // namespace
}  // namespace prov::location
