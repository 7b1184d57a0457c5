#include "common/location/probe_wire.h"

#include <gtest/gtest.h>

#include "common/location/probe_sig.h"

namespace prov::location {
namespace {

ProbeDatagram Probe() {
  return ProbeDatagram{std::string(kNonceSize, '\x01'), 0x0102030405060708ull, "lm-fra-1",
                       "gpu-017", std::string(kProbeSignatureSize, '\x7f')};
}

AnswerDatagram Answer() {
  return AnswerDatagram{std::string(kNonceSize, '\x02'), 42, "lm-fra-1", "gpu-017",
                        std::string(71, '\x30')};
}

TEST(ProbeWireTest, ProbeRoundTrips) {
  auto bytes = EncodeProbe(Probe());
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_EQ(bytes->substr(0, 4), "PVLC");
  auto back = ParseProbe(*bytes);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->nonce, Probe().nonce);
  EXPECT_EQ(back->seq, 0x0102030405060708ull);
  EXPECT_EQ(back->landmark_id, "lm-fra-1");
  EXPECT_EQ(back->target_id, "gpu-017");
  EXPECT_EQ(back->signature, Probe().signature);
}

TEST(ProbeWireTest, AnswerRoundTrips) {
  auto bytes = EncodeAnswer(Answer());
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  auto back = ParseAnswer(*bytes);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->seq, 42u);
  EXPECT_EQ(back->signature, Answer().signature);
  EXPECT_EQ(back->target_id, "gpu-017");
}

TEST(ProbeWireTest, LargestDatagramsFitTheStatedBound) {
  AnswerDatagram a = Answer();
  a.landmark_id = std::string(kMaxWireIdSize, 'a');
  a.target_id = std::string(kMaxWireIdSize, 'b');
  a.signature = std::string(kMaxAnswerSignatureSize, 's');
  auto bytes = EncodeAnswer(a);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(bytes->size(), kMaxDatagramSize);
  EXPECT_TRUE(ParseAnswer(*bytes).ok());
}

TEST(ProbeWireTest, EveryTruncationIsAnErrorNotACrash) {
  const std::string probe = *EncodeProbe(Probe());
  const std::string answer = *EncodeAnswer(Answer());
  for (size_t n = 0; n < probe.size(); ++n) {
    auto r = ParseProbe(probe.substr(0, n));
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_TRUE(absl::IsInvalidArgument(r.status()));
    EXPECT_NE(r.status().message().find("malformed probe datagram"), std::string::npos);
  }
  for (size_t n = 0; n < answer.size(); ++n) EXPECT_FALSE(ParseAnswer(answer.substr(0, n)).ok());
}

TEST(ProbeWireTest, ErrorsNameWhatIsWrong) {
  const std::string probe = *EncodeProbe(Probe());
  auto message = [](const auto& r) { return std::string(r.status().message()); };

  EXPECT_NE(message(ParseProbe(probe + "x")).find("1 trailing bytes"), std::string::npos);
  std::string bad = probe;
  bad[0] = 'X';
  EXPECT_NE(message(ParseProbe(bad)).find("wrong magic"), std::string::npos);
  bad = probe;
  bad[4] = 9;
  EXPECT_NE(message(ParseProbe(bad)).find("unsupported version 9"), std::string::npos);
  EXPECT_NE(message(ParseProbe(*EncodeAnswer(Answer()))).find("kind 2 (expected 1)"),
            std::string::npos);
  EXPECT_NE(message(ParseAnswer(probe)).find("kind 1 (expected 2)"), std::string::npos);
  // Landmark id length byte sits after magic, version, kind, nonce and seq.
  const size_t id_len_at = 4 + 1 + 1 + kNonceSize + 8;
  bad = probe;
  bad[id_len_at] = 0;
  EXPECT_NE(message(ParseProbe(bad)).find("landmark id length 0"), std::string::npos);
  bad = probe;
  bad[id_len_at] = static_cast<char>(65);
  EXPECT_NE(message(ParseProbe(bad)).find("landmark id length 65"), std::string::npos);
  bad = probe;
  bad[id_len_at + 1] = '/';
  EXPECT_NE(message(ParseProbe(bad)).find("landmark id has a byte outside"), std::string::npos);
  bad = probe;
  bad[id_len_at] = static_cast<char>(64);  // claims more bytes than the datagram holds
  EXPECT_FALSE(ParseProbe(bad.substr(0, id_len_at + 10)).ok());

  std::string answer = *EncodeAnswer(Answer());
  const size_t sig_len_at = answer.size() - Answer().signature.size() - 1;
  answer[sig_len_at] = 0;
  EXPECT_NE(message(ParseAnswer(answer)).find("signature length 0"), std::string::npos);
  answer[sig_len_at] = static_cast<char>(81);
  EXPECT_NE(message(ParseAnswer(answer)).find("signature length 81"), std::string::npos);
}

TEST(ProbeWireTest, EncodeRefusesFieldsThatDoNotFit) {
  ProbeDatagram p = Probe();
  p.nonce = "short";
  EXPECT_FALSE(EncodeProbe(p).ok());
  p = Probe();
  p.signature.pop_back();
  EXPECT_FALSE(EncodeProbe(p).ok());
  p = Probe();
  p.target_id = "gpu 17";
  EXPECT_FALSE(EncodeProbe(p).ok());
  p.target_id = std::string(65, 'a');
  EXPECT_FALSE(EncodeProbe(p).ok());
  AnswerDatagram a = Answer();
  a.signature = std::string(81, 's');
  EXPECT_FALSE(EncodeAnswer(a).ok());
  a.signature.clear();
  EXPECT_FALSE(EncodeAnswer(a).ok());
}

TEST(ProbeWireTest, ValidateWireId) {
  EXPECT_TRUE(ValidateWireId("a-b_c.d:e9", "id").ok());
  EXPECT_FALSE(ValidateWireId("", "id").ok());
  EXPECT_FALSE(ValidateWireId("é", "id").ok());
  EXPECT_NE(ValidateWireId("a b", "node id").message().find("node id 'a b'"), std::string::npos);
}

}  // namespace
}  // namespace prov::location
