// The prober against a real responder on loopback: direct, behind the delay relay (simulated
// distance), against a forged answerer, a replaying one, and landmark to landmark.
#include "tools/prov-landmark/prober.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "agent/location/responder.h"
#include "common/clock.h"
#include "tests/location/location_test_util.h"
#include "tests/location/udp_delay_relay.h"

namespace prov::landmark {
namespace {

using testing::Nonce;
using testing::TestLandmark;
using testing::TestNode;
namespace pb = provenance::v1;

const BurstOptions kFast{
    .probes = 8, .spacing = absl::Milliseconds(2), .answer_timeout = absl::Milliseconds(300)};

class ProberTest : public ::testing::Test {
 protected:
  void SetUp() override {
    landmark_ = TestLandmark::Make("lm-fra-1");
    node_ = TestNode::Make();
    responder_ = StartResponder(node_.Signer());
    prober_ = std::make_unique<Prober>(testing::ClientSocket(), landmark_.id,
                                       landmark_.key.secret_key, /*seq_base=*/1000);
  }

  std::unique_ptr<agent::Responder> StartResponder(std::unique_ptr<agent::AnswerSigner> signer,
                                                   const std::string& self = "gpu-017") {
    auto started =
        agent::Responder::Start("127.0.0.1:0",
                                {.self_id = self,
                                 .landmark_keys = {{landmark_.id, landmark_.key.public_key}},
                                 .limits = {}},
                                std::move(signer), RealClock::Get());
    EXPECT_TRUE(started.ok()) << started.status();
    return std::move(*started);
  }

  pb::ProbeTarget NodeTarget(const location::UdpAddress& at) const {
    pb::ProbeTarget t;
    t.set_kind(pb::PROBE_TARGET_KIND_NODE);
    t.set_target_id("gpu-017");
    t.set_udp_address(at.ToString());
    t.set_public_key(node_.spki);
    return t;
  }

  TestLandmark landmark_;
  TestNode node_;
  std::unique_ptr<agent::Responder> responder_;
  std::unique_ptr<Prober> prober_;
};

TEST_F(ProberTest, DirectBurstIsAllValidWithAVerifiableMinimum) {
  auto m = prober_->Burst(NodeTarget(responder_->local_address()), kFast);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->landmark_id(), "lm-fra-1");
  EXPECT_EQ(m->target_id(), "gpu-017");
  EXPECT_EQ(m->probes_sent(), 8u);
  EXPECT_EQ(m->answers_valid(), 8u);
  EXPECT_EQ(m->answers_invalid(), 0u);
  EXPECT_GT(m->rtt_min_ms(), 0.0);
  EXPECT_LE(m->rtt_min_ms(), m->rtt_median_ms());
  EXPECT_LT(m->rtt_min_ms(), 5.0);  // loopback plus one ECDSA signature
  EXPECT_EQ(m->target_public_key(), node_.spki);
  // The record's evidence re-verifies offline: min_answer is the node's signature.
  EXPECT_EQ(m->min_answer().rtt_ms(), m->rtt_min_ms());
  EXPECT_TRUE(
      location::VerifyNodeAnswer(node_.spki,
                                 location::AnswerMessage(m->min_answer().nonce(), "lm-fra-1",
                                                         "gpu-017", m->min_answer().seq()),
                                 m->min_answer().signature()));
  EXPECT_GT(m->min_answer().seq(), 1000u);
  // Seqs keep rising per target across bursts; nonces are fresh.
  auto again = prober_->Burst(NodeTarget(responder_->local_address()), kFast);
  ASSERT_TRUE(again.ok());
  EXPECT_GT(again->min_answer().seq(), 1008u);  // the second burst: seqs 1009..1016
  EXPECT_NE(again->min_answer().nonce(), m->min_answer().nonce());
}

TEST_F(ProberTest, RelayDelayIsAFloorOnTheMinimum) {
  // 5 ms each way: a landmark about 1,000 km away.
  auto relay =
      testing::UdpDelayRelay::Start(responder_->local_address(), {.delay = absl::Milliseconds(5)});
  ASSERT_TRUE(relay.ok()) << relay.status();
  auto m = prober_->Burst(NodeTarget((*relay)->address()), kFast);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->answers_valid(), 8u);
  EXPECT_GE(m->rtt_min_ms(), 10.0);  // delay can be added, never removed
  EXPECT_LT(m->rtt_min_ms(), 16.0);  // and it is about the delay, not far above
  EXPECT_GE((*relay)->forwarded(), 16u);
}

TEST_F(ProberTest, JitterNeverPushesTheMinimumBelowTheDelay) {
  auto relay = testing::UdpDelayRelay::Start(
      responder_->local_address(),
      {.delay = absl::Milliseconds(1), .jitter = absl::Microseconds(500), .seed = 7});
  ASSERT_TRUE(relay.ok());
  auto m = prober_->Burst(NodeTarget((*relay)->address()), kFast);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->answers_valid(), 8u);
  EXPECT_GE(m->rtt_min_ms(), 2.0);
  EXPECT_GE(m->rtt_median_ms(), m->rtt_min_ms());
}

TEST_F(ProberTest, ForgedAnswererIsInvalidWithBadSignature) {
  // Another node's key answers for gpu-017 (a relay to different hardware, or a stolen id).
  TestNode other = TestNode::Make();
  auto forger = StartResponder(other.Signer());
  auto m = prober_->Burst(NodeTarget(forger->local_address()), kFast);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->answers_valid(), 0u);
  EXPECT_EQ(m->answers_invalid(), 8u);
  EXPECT_EQ(m->rtt_min_ms(), 0.0);
  ASSERT_EQ(m->invalid_samples_size(), 4);  // at most 4 samples travel
  for (const auto& s : m->invalid_samples()) {
    EXPECT_EQ(s.reason(), "bad_signature");
    EXPECT_FALSE(s.answer().signature().empty());
  }
}

TEST_F(ProberTest, ReplayedAnswerIsInvalidWithWrongNonce) {
  // Capture one genuine answer of the real node to an earlier probe.
  location::UdpSocket capture = testing::ClientSocket();
  ASSERT_TRUE(
      capture.SendTo(landmark_.Probe("gpu-017", Nonce('o'), 5), responder_->local_address()).ok());
  auto old = capture.Receive(absl::Milliseconds(500));
  ASSERT_TRUE(old.ok() && old->has_value());
  const std::string replay = (*old)->bytes;
  // A fake target that answers every probe with that old (validly signed) answer.
  location::UdpSocket fake = testing::ClientSocket();
  const location::UdpAddress fake_address = fake.local_address();
  std::atomic<bool> stop{false};
  std::thread replayer([&] {
    while (!stop) {
      auto got = fake.Receive(absl::Milliseconds(20));
      if (got.ok() && got->has_value()) (void)fake.SendTo(replay, (*got)->from);
    }
  });
  auto m = prober_->Burst(NodeTarget(fake_address), kFast);
  stop = true;
  replayer.join();
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->answers_valid(), 0u);
  EXPECT_EQ(m->answers_invalid(), 8u);
  ASSERT_GT(m->invalid_samples_size(), 0);
  EXPECT_EQ(m->invalid_samples(0).reason(), "wrong_nonce");
  EXPECT_EQ(m->invalid_samples(0).answer().nonce(), Nonce('o'));
}

TEST_F(ProberTest, SilentTargetGivesNoValidAnswers) {
  location::UdpSocket silent = testing::ClientSocket();
  auto m = prober_->Burst(
      NodeTarget(silent.local_address()),
      {.probes = 3, .spacing = absl::Milliseconds(1), .answer_timeout = absl::Milliseconds(50)});
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->probes_sent(), 3u);
  EXPECT_EQ(m->answers_valid(), 0u);
  EXPECT_EQ(m->answers_invalid(), 0u);
}

TEST_F(ProberTest, UnusableTargetIsAnError) {
  pb::ProbeTarget t = NodeTarget(responder_->local_address());
  t.set_udp_address("nowhere");
  EXPECT_FALSE(prober_->Burst(t, kFast).ok());
  t = NodeTarget(responder_->local_address());
  t.set_target_id("bad id");
  EXPECT_FALSE(prober_->Burst(t, kFast).ok());
}

TEST_F(ProberTest, LandmarkToLandmarkVerifiesWithEd25519) {
  TestLandmark other = TestLandmark::Make("lm-ams-1");
  auto other_responder = StartResponder(other.Signer(), other.id);
  pb::ProbeTarget t;
  t.set_kind(pb::PROBE_TARGET_KIND_LANDMARK);
  t.set_target_id(other.id);
  t.set_udp_address(other_responder->local_address().ToString());
  t.set_public_key(other.key.public_key);
  auto m = prober_->Burst(t, kFast);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->target_kind(), pb::PROBE_TARGET_KIND_LANDMARK);
  EXPECT_EQ(m->answers_valid(), 8u);
  EXPECT_EQ(m->min_answer().signature().size(), 64u);
  EXPECT_TRUE(
      location::VerifyEd25519Raw(other.key.public_key,
                                 location::AnswerMessage(m->min_answer().nonce(), "lm-fra-1",
                                                         "lm-ams-1", m->min_answer().seq()),
                                 m->min_answer().signature()));
  // The same answers checked against the wrong landmark key are all bad signatures.
  t.set_public_key(landmark_.key.public_key);
  auto wrong = prober_->Burst(t, kFast);
  ASSERT_TRUE(wrong.ok());
  EXPECT_EQ(wrong->answers_valid(), 0u);
  EXPECT_EQ(wrong->invalid_samples(0).reason(), "bad_signature");
}

}  // namespace
}  // namespace prov::landmark
