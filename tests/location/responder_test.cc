#include "agent/location/responder.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <thread>

#include "common/testing/fake_clock.h"
#include "tests/location/location_test_util.h"

namespace prov::agent {
namespace {

using testing::Nonce;
using testing::TestLandmark;
using testing::TestNode;

class ResponderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    landmark_ = TestLandmark::Make("lm-fra-1");
    node_ = TestNode::Make();
    auto started = Responder::Start("127.0.0.1:0",
                                    {.self_id = "gpu-017",
                                     .landmark_keys = {{landmark_.id, landmark_.key.public_key}},
                                     .limits = {}},
                                    node_.Signer(), clock_);
    ASSERT_TRUE(started.ok()) << started.status();
    responder_ = std::move(*started);
  }

  // Sends `bytes` and returns the answer, or nullopt when none came within 300 ms.
  std::optional<std::string> RoundTrip(const std::string& bytes) {
    EXPECT_TRUE(client_.SendTo(bytes, responder_->local_address()).ok());
    auto got = client_.Receive(absl::Milliseconds(300));
    EXPECT_TRUE(got.ok());
    if (!got.ok() || !got->has_value()) return std::nullopt;
    return (*got)->bytes;
  }

  FakeClock clock_;
  TestLandmark landmark_;
  TestNode node_;
  std::unique_ptr<Responder> responder_;
  location::UdpSocket client_ = testing::ClientSocket();
};

TEST_F(ResponderTest, AnswersAWellFormedProbeWithAVerifiableSignature) {
  auto answer = RoundTrip(landmark_.Probe("gpu-017", Nonce('n'), 9));
  ASSERT_TRUE(answer.has_value());
  auto parsed = location::ParseAnswer(*answer);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->nonce, Nonce('n'));
  EXPECT_EQ(parsed->seq, 9u);
  EXPECT_EQ(parsed->landmark_id, "lm-fra-1");
  EXPECT_EQ(parsed->target_id, "gpu-017");
  EXPECT_TRUE(location::VerifyNodeAnswer(
      node_.spki, location::AnswerMessage(Nonce('n'), "lm-fra-1", "gpu-017", 9),
      parsed->signature));
  EXPECT_EQ(responder_->Counters().answered, 1u);
}

TEST_F(ResponderTest, RefusesWithoutAnsweringAndCountsEachReason) {
  // Unknown landmark: a well-signed probe from a key that is not configured.
  TestLandmark stranger = TestLandmark::Make("lm-evil");
  EXPECT_FALSE(RoundTrip(stranger.Probe("gpu-017", Nonce('a'), 1)).has_value());
  // Bad signature: the configured id, signed by another key.
  TestLandmark impostor = TestLandmark::Make("lm-fra-1");
  EXPECT_FALSE(RoundTrip(impostor.Probe("gpu-017", Nonce('b'), 2)).has_value());
  // A valid signature over other fields does not carry over (seq changed after signing).
  std::string tampered = landmark_.Probe("gpu-017", Nonce('c'), 3);
  tampered[4 + 1 + 1 + location::kNonceSize + 7] ^= 1;
  EXPECT_FALSE(RoundTrip(tampered).has_value());
  // Wrong target: this landmark, but a probe for another node.
  EXPECT_FALSE(RoundTrip(landmark_.Probe("gpu-018", Nonce('d'), 4)).has_value());
  // Malformed.
  EXPECT_FALSE(RoundTrip("hello").has_value());
  EXPECT_FALSE(RoundTrip(landmark_.Probe("gpu-017", Nonce('e'), 5) + "x").has_value());

  const ResponderCounters c = responder_->Counters();
  EXPECT_EQ(c.answered, 0u);
  EXPECT_EQ(c.refused_unknown_landmark, 1u);
  EXPECT_EQ(c.refused_bad_signature, 2u);
  EXPECT_EQ(c.refused_wrong_target, 1u);
  EXPECT_EQ(c.refused_malformed, 2u);
  // Still answering well-formed probes afterwards.
  EXPECT_TRUE(RoundTrip(landmark_.Probe("gpu-017", Nonce('f'), 6)).has_value());
}

TEST_F(ResponderTest, SetLandmarkKeysChangesWhoIsAnswered) {
  TestLandmark other = TestLandmark::Make("lm-ams-1");
  EXPECT_FALSE(RoundTrip(other.Probe("gpu-017", Nonce('a'), 1)).has_value());
  responder_->SetLandmarkKeys({{other.id, other.key.public_key}});
  EXPECT_TRUE(RoundTrip(other.Probe("gpu-017", Nonce('a'), 1)).has_value());
  EXPECT_FALSE(RoundTrip(landmark_.Probe("gpu-017", Nonce('b'), 2)).has_value());
}

// Finding 1: after a certificate renewal the agent swaps in the new key on the running responder;
// answers from then on verify under the new key only.
TEST_F(ResponderTest, SetSignerOnARunningResponderSignsWithTheNewKey) {
  auto verifies = [&](const std::string& spki, char fill, uint64_t seq) {
    auto answer = RoundTrip(landmark_.Probe("gpu-017", Nonce(fill), seq));
    EXPECT_TRUE(answer.has_value());
    if (!answer.has_value()) return false;
    auto parsed = location::ParseAnswer(*answer);
    EXPECT_TRUE(parsed.ok());
    return parsed.ok() &&
           location::VerifyNodeAnswer(
               spki, location::AnswerMessage(Nonce(fill), "lm-fra-1", "gpu-017", seq),
               parsed->signature);
  };
  EXPECT_TRUE(verifies(node_.spki, 'a', 1));
  const TestNode renewed = TestNode::Make();
  responder_->SetSigner(renewed.Signer());
  EXPECT_TRUE(verifies(renewed.spki, 'b', 2));
  EXPECT_FALSE(verifies(node_.spki, 'c', 3));
  responder_->SetSigner(nullptr);  // ignored: still the renewed key
  EXPECT_TRUE(verifies(renewed.spki, 'd', 4));
  EXPECT_EQ(responder_->Counters().answered, 4u);
}

// What prov-agent does after Renew(): the renewed node.key, read from its file, swapped in.
TEST_F(ResponderTest, RenewedKeyFileSwappedInSignsFromThenOn) {
  const TestNode renewed = TestNode::Make();
  const std::string path = ::testing::TempDir() + "/responder_test_renewed_node.key";
  std::ofstream(path) << renewed.key_pem;
  auto signer = NodeKeyAnswerSigner::FromKeyFile(path);
  ASSERT_TRUE(signer.ok()) << signer.status();
  EXPECT_EQ((*signer)->public_key_der(), renewed.spki);
  responder_->SetSigner(std::move(*signer));
  auto answer = RoundTrip(landmark_.Probe("gpu-017", Nonce('k'), 7));
  ASSERT_TRUE(answer.has_value());
  auto parsed = location::ParseAnswer(*answer);
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(location::VerifyNodeAnswer(
      renewed.spki, location::AnswerMessage(Nonce('k'), "lm-fra-1", "gpu-017", 7),
      parsed->signature));
  // Unreadable or not a key: an error naming the file (the agent then keeps the old key).
  auto missing = NodeKeyAnswerSigner::FromKeyFile(path + ".missing");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find(path + ".missing"), std::string::npos);
  std::ofstream(path) << "not a key";
  auto garbage = NodeKeyAnswerSigner::FromKeyFile(path);
  ASSERT_FALSE(garbage.ok());
  EXPECT_NE(garbage.status().message().find(path), std::string::npos);
  std::remove(path.c_str());
}

// SetSigner from another thread while the responder answers: every answer verifies under one of
// the two keys (run under TSan in the sanitizer preset).
TEST_F(ResponderTest, SetSignerIsSafeWhileAnswering) {
  const TestNode renewed = TestNode::Make();
  std::atomic<bool> done{false};
  std::thread swapper([&] {
    for (int i = 0; !done.load(); ++i) {
      responder_->SetSigner(i % 2 == 0 ? renewed.Signer() : node_.Signer());
    }
  });
  for (uint64_t seq = 1; seq <= 20; ++seq) {
    auto answer = RoundTrip(landmark_.Probe("gpu-017", Nonce('s'), seq));
    ASSERT_TRUE(answer.has_value());
    auto parsed = location::ParseAnswer(*answer);
    ASSERT_TRUE(parsed.ok());
    const std::string message = location::AnswerMessage(Nonce('s'), "lm-fra-1", "gpu-017", seq);
    EXPECT_TRUE(location::VerifyNodeAnswer(node_.spki, message, parsed->signature) ||
                location::VerifyNodeAnswer(renewed.spki, message, parsed->signature));
  }
  done = true;
  swapper.join();
}

TEST_F(ResponderTest, StopIsPromptAndIdempotent) {
  const auto start = std::chrono::steady_clock::now();
  responder_->Stop();
  responder_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(500));
}

TEST(ProbeHandlerTest, RateLimitsPerSourceAndGlobally) {
  FakeClock clock;
  TestLandmark lm = TestLandmark::Make("lm-1");
  TestNode node = TestNode::Make();
  ProbeHandler handler({.self_id = "gpu-1",
                        .landmark_keys = {{lm.id, lm.key.public_key}},
                        .limits = {.per_source_rate = 10,
                                   .per_source_burst = 4,
                                   .global_rate = 20,
                                   .global_burst = 6}},
                       node.Signer(), clock);
  const std::string probe = lm.Probe("gpu-1", Nonce('n'), 1);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(handler.Handle(probe, "10.0.0.1").has_value()) << i;
  EXPECT_FALSE(handler.Handle(probe, "10.0.0.1").has_value());  // source bucket empty
  EXPECT_TRUE(handler.Handle(probe, "10.0.0.2").has_value());
  EXPECT_TRUE(handler.Handle(probe, "10.0.0.2").has_value());
  EXPECT_FALSE(handler.Handle(probe, "10.0.0.3").has_value());  // global bucket empty (6)
  ResponderCounters c = handler.Counters();
  EXPECT_EQ(c.answered, 6u);
  EXPECT_EQ(c.rate_limited_source, 1u);
  EXPECT_EQ(c.rate_limited_global, 1u);
  clock.Advance(absl::Milliseconds(100));  // 1 source token, 2 global tokens
  EXPECT_TRUE(handler.Handle(probe, "10.0.0.1").has_value());
  EXPECT_FALSE(handler.Handle(probe, "10.0.0.1").has_value());
  // Rate-limited datagrams are refused before parsing: garbage is counted as limited, not parsed.
  EXPECT_FALSE(handler.Handle("garbage", "10.0.0.1").has_value());
  c = handler.Counters();
  EXPECT_EQ(c.rate_limited_source, 3u);
  EXPECT_EQ(c.refused_malformed, 0u);
}

// Finding 7: junk from many sources (garbage, unknown landmarks, other targets, forged
// signatures) is refused before the global answer bucket is charged, so a real landmark's probes
// are still answered once the junk has gone through.
TEST(ProbeHandlerTest, JunkFromManySourcesCannotStarveARealLandmark) {
  FakeClock clock;
  TestLandmark lm = TestLandmark::Make("lm-1");
  TestLandmark stranger = TestLandmark::Make("lm-evil");
  TestLandmark impostor = TestLandmark::Make("lm-1");  // the configured id, another key
  TestNode node = TestNode::Make();
  ProbeHandler handler({.self_id = "gpu-1",
                        .landmark_keys = {{lm.id, lm.key.public_key}},
                        .limits = {.per_source_rate = 1,
                                   .per_source_burst = 8,
                                   .global_rate = 1e-6,  // no refill within the test
                                   .global_burst = 16,
                                   .verify_rate = 1e-6,
                                   .verify_burst = 200}},
                       node.Signer(), clock);
  for (int s = 0; s < 40; ++s) {
    const std::string source = "10.9.0." + std::to_string(s);
    EXPECT_FALSE(handler.Handle("garbage", source).has_value());
    EXPECT_FALSE(handler.Handle(stranger.Probe("gpu-1", Nonce('x'), 1), source).has_value());
    EXPECT_FALSE(handler.Handle(lm.Probe("gpu-2", Nonce('y'), 1), source).has_value());
    EXPECT_FALSE(handler.Handle(impostor.Probe("gpu-1", Nonce('z'), 1), source).has_value());
  }
  ResponderCounters c = handler.Counters();
  EXPECT_EQ(c.refused_malformed, 40u);
  EXPECT_EQ(c.refused_unknown_landmark, 40u);
  EXPECT_EQ(c.refused_wrong_target, 40u);
  EXPECT_EQ(c.refused_bad_signature, 40u);
  EXPECT_EQ(c.rate_limited_global, 0u);
  // A real 16-probe burst from the landmark's address: every probe answered.
  for (uint64_t seq = 1; seq <= 8; ++seq) {
    EXPECT_TRUE(handler.Handle(lm.Probe("gpu-1", Nonce('r'), seq), "192.0.2.1").has_value());
    EXPECT_TRUE(handler.Handle(lm.Probe("gpu-1", Nonce('r'), seq), "192.0.2.2").has_value());
  }
  EXPECT_EQ(handler.Counters().answered, 16u);
  // The answer budget is spent now (16): the next verified probe is refused and counted.
  EXPECT_FALSE(handler.Handle(lm.Probe("gpu-1", Nonce('r'), 99), "192.0.2.3").has_value());
  EXPECT_EQ(handler.Counters().rate_limited_global, 1u);
}

// The signature checks have their own budget: forged probes beyond it are refused unverified.
TEST(ProbeHandlerTest, SignatureChecksHaveTheirOwnBudget) {
  FakeClock clock;
  TestLandmark lm = TestLandmark::Make("lm-1");
  TestLandmark impostor = TestLandmark::Make("lm-1");
  TestNode node = TestNode::Make();
  ProbeHandler handler({.self_id = "gpu-1",
                        .landmark_keys = {{lm.id, lm.key.public_key}},
                        .limits = {.verify_rate = 1, .verify_burst = 3}},
                       node.Signer(), clock);
  for (int i = 0; i < 5; ++i) {
    EXPECT_FALSE(handler.Handle(impostor.Probe("gpu-1", Nonce('z'), 1), "10.0.0.1").has_value());
  }
  ResponderCounters c = handler.Counters();
  EXPECT_EQ(c.refused_bad_signature, 3u);
  EXPECT_EQ(c.rate_limited_verify, 2u);
  clock.Advance(absl::Seconds(1));
  EXPECT_TRUE(handler.Handle(lm.Probe("gpu-1", Nonce('r'), 1), "10.0.0.1").has_value());
}

}  // namespace
}  // namespace prov::agent
