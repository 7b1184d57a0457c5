// LocationBook and AssignmentTable: who probes whom, every refusal reason of a landmark record
// (real Ed25519 landmark signatures, real ECDSA P-256 node answers), and verdicts from accepted
// records and calibration pairs.
#include "server/location/location_book.h"

#include <gtest/gtest.h>

#include "common/node_key.h"
#include "tests/server/location_fixture.h"

namespace prov::server::location {
namespace {

using provenance::v1::LOCATION_VERDICT_CONTRADICTED;
using provenance::v1::LOCATION_VERDICT_UNVERIFIED;
using provenance::v1::LOCATION_VERDICT_VERIFIED;
using testing::NodeMeasurement;
using testing::PairMeasurement;
using testing::SignRecord;

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

std::unique_ptr<prov::location::NodeAnswerSigner> NewSigner() {
  auto pem = GenerateNodeKeyPem();
  EXPECT_TRUE(pem.ok());
  return *prov::location::NodeAnswerSigner::FromKeyPem(*pem);
}

NodeTarget Target(std::string id, std::string responder, std::string key, std::string dc) {
  NodeTarget t;
  t.node_id = std::move(id);
  t.responder = std::move(responder);
  t.spki_der = std::move(key);
  t.datacenter = std::move(dc);
  return t;
}

class LocationBookTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = ParseLocationConfig(keys_.Yaml(2), "test.yaml");
    ASSERT_TRUE(c.ok()) << c.status();
    config_ = *std::move(c);
    book_ = std::make_unique<LocationBook>(config_);
    book_->SetAssignment(AssignmentTable::Build(
        config_, {Target("n1", "10.0.0.1:7700", n1_->public_key_der(), "fra1"),
                  Target("n2", "10.0.0.2:7700", n2_->public_key_der(), "sin1"),
                  Target("n3", "10.0.0.3:7700", "", "fra1")}));
  }
  CheckedRecord Check(const provenance::v1::SignedMeasurement& r, const std::string& caller = "") {
    return book_->Check(r, caller, kNow, policy_);
  }
  // Checks and accepts; returns the refusal ("" when accepted).
  std::string Submit(const provenance::v1::SignedMeasurement& r, int64_t id) {
    CheckedRecord c = Check(r);
    if (c.refusal.empty()) book_->Accept(c, id, kNow);
    return c.refusal;
  }

  testing::LocationKeys keys_;
  LocationConfig config_;
  std::unique_ptr<LocationBook> book_;
  std::unique_ptr<prov::location::NodeAnswerSigner> n1_ = NewSigner();
  std::unique_ptr<prov::location::NodeAnswerSigner> n2_ = NewSigner();
  policy::LocationPolicy policy_;
};

TEST_F(LocationBookTest, NodesGoToTheirNearestLandmarksAndLandmarksProbeEachOther) {
  const AssignmentTable& t = book_->assignment();
  EXPECT_TRUE(t.Assigned("lm-fra", "n1"));
  EXPECT_TRUE(t.Assigned("lm-par", "n1"));
  EXPECT_FALSE(t.Assigned("lm-sin", "n1"));
  EXPECT_TRUE(t.Assigned("lm-sin", "n2"));
  EXPECT_TRUE(t.Assigned("lm-fra", "n2"));   // Frankfurt is nearer Singapore than Paris
  EXPECT_FALSE(t.Assigned("lm-fra", "n3"));  // no key: not assigned, and says why
  EXPECT_EQ(t.Unassigned(config_, "n3"),
            "provd knows no public key for the node (no client-certificate stream bound yet)");
  const provenance::v1::Assignment a = t.For(config_, "lm-fra", kNow);
  ASSERT_EQ(a.targets_size(), 3);  // n1, n2, and landmark lm-par (lm-sin has no UDP address)
  EXPECT_EQ(a.targets(0).target_id(), "n1");
  EXPECT_EQ(a.targets(0).public_key(), n1_->public_key_der());
  EXPECT_EQ(a.targets(0).udp_address(), "10.0.0.1:7700");
  EXPECT_EQ(a.targets(2).kind(), provenance::v1::PROBE_TARGET_KIND_LANDMARK);
  EXPECT_EQ(a.targets(2).target_id(), "lm-par");
  EXPECT_EQ(a.targets(2).public_key(), keys_.par.public_key);
  EXPECT_EQ(a.probes_per_burst(), 16u);
}

TEST_F(LocationBookTest, AcceptsAnHonestRecordAndVerifies) {
  EXPECT_EQ(
      Submit(SignRecord(keys_.fra, NodeMeasurement("lm-fra", "n1", 1, kNow, 0.5, n1_.get())), 1),
      "");
  NodeVerdict v = book_->Evaluate("n1", policy_, "p1", kNow);
  EXPECT_EQ(v.location.verdict(), LOCATION_VERDICT_VERIFIED) << v.location.reason();
  ASSERT_EQ(v.location.disks_size(), 1);
  EXPECT_NEAR(v.location.disks(0).radius_km(), 50, 1e-9);  // 0.5 ms / 2 x 200 km/ms
  EXPECT_TRUE(v.location.disks(0).contains_site());
  EXPECT_EQ(v.disk_ids, std::vector<int64_t>{1});
  EXPECT_EQ(v.location.policy_version(), "p1");
}

TEST_F(LocationBookTest, RefusesEachBadRecordNamingWhy) {
  const auto good = [&](uint64_t seq, absl::Time at) {
    return NodeMeasurement("lm-fra", "n1", seq, at, 0.5, n1_.get());
  };
  provenance::v1::SignedMeasurement garbage;
  garbage.set_measurement("\xff\xff\xff");
  EXPECT_EQ(Check(garbage).refusal, "malformed");

  auto unknown = good(1, kNow);
  unknown.set_landmark_id("lm-nowhere");
  EXPECT_EQ(Check(SignRecord(keys_.fra, unknown)).refusal, "unknown_landmark");

  EXPECT_EQ(Check(SignRecord(keys_.fra, good(1, kNow)), "lm-par").refusal, "caller_mismatch");
  EXPECT_EQ(Check(SignRecord(keys_.par, good(1, kNow))).refusal, "bad_landmark_signature");
  EXPECT_EQ(Check(SignRecord(keys_.fra, good(1, kNow + absl::Minutes(3)))).refusal, "clock_skew");

  EXPECT_EQ(Check(SignRecord(keys_.sin, NodeMeasurement("lm-sin", "n1", 1, kNow, 0.5, n1_.get())))
                .refusal,
            "not_assigned");

  // An answer signed with another node's key: refused, and a forged-answer fact on n1.
  CheckedRecord forged =
      Check(SignRecord(keys_.fra, NodeMeasurement("lm-fra", "n1", 1, kNow, 0.5, n2_.get())));
  EXPECT_EQ(forged.refusal, "forged_answer");
  EXPECT_TRUE(forged.forged);
  EXPECT_NE(forged.forged_detail.find("does not verify against the node's public key"),
            std::string::npos);

  // Replay: the same record again, or any seq not above the last accepted one.
  const auto first = SignRecord(keys_.fra, good(5, kNow - absl::Seconds(30)));
  EXPECT_EQ(Submit(first, 1), "");
  EXPECT_EQ(Check(first).refusal, "replay");
  EXPECT_EQ(Check(SignRecord(keys_.fra, good(4, kNow))).refusal, "replay");
  // Clock jump: a later seq measured before the previous record (within the tolerance).
  EXPECT_EQ(Check(SignRecord(keys_.fra, good(6, kNow - absl::Minutes(1)))).refusal, "clock_jump");
  EXPECT_EQ(Check(SignRecord(keys_.fra, good(6, kNow))).refusal, "");

  // A landmark pair record signed by the wrong target key.
  EXPECT_EQ(Check(SignRecord(keys_.fra, PairMeasurement("lm-fra", "lm-par", 7, kNow, 5, keys_.sin)))
                .refusal,
            "forged_answer");
  // lm-sin has no UDP address: nobody is assigned to probe it.
  EXPECT_EQ(Check(SignRecord(keys_.fra, PairMeasurement("lm-fra", "lm-sin", 7, kNow, 5, keys_.sin)))
                .refusal,
            "not_assigned");
}

TEST_F(LocationBookTest, InvalidAnswersAreAcceptedButFlagged) {
  auto m = NodeMeasurement("lm-fra", "n1", 1, kNow, 0.5, n1_.get());
  m.set_answers_valid(15);
  m.set_answers_invalid(1);
  auto* bad = m.add_invalid_samples();
  bad->set_reason("wrong_nonce");
  bad->mutable_answer()->set_seq(9);
  CheckedRecord c = Check(SignRecord(keys_.fra, m));
  EXPECT_EQ(c.refusal, "");
  EXPECT_TRUE(c.forged);
  EXPECT_NE(c.forged_detail.find("wrong_nonce"), std::string::npos);
}

TEST_F(LocationBookTest, ContradictsASiteOutsideADiskAndExpiresStaleRecords) {
  // n2 is declared in Singapore, but answers Frankfurt in 1 ms: within 100 km of Frankfurt.
  ASSERT_EQ(
      Submit(SignRecord(keys_.fra, NodeMeasurement("lm-fra", "n2", 1, kNow, 1.0, n2_.get())), 7),
      "");
  NodeVerdict v = book_->Evaluate("n2", policy_, "p1", kNow);
  EXPECT_EQ(v.location.verdict(), LOCATION_VERDICT_CONTRADICTED) << v.location.reason();
  EXPECT_EQ(v.excluding, std::vector<std::string>{"lm-fra"});
  EXPECT_GT(v.location.disks(0).distance_to_site_km(), 10000);
  // An hour later (policy max_age 1h) the record proves nothing.
  NodeVerdict later =
      book_->Evaluate("n2", policy_, "p1", kNow + absl::Hours(1) + absl::Seconds(1));
  EXPECT_EQ(later.location.verdict(), LOCATION_VERDICT_UNVERIFIED);
  EXPECT_FALSE(later.location.disks(0).fresh());
  EXPECT_EQ(later.location.needed_landmark_id(), "lm-sin");
}

TEST_F(LocationBookTest, CalibrationOnlyEverWidensDisks) {
  // Frankfurt - Paris is about 480 km; 2 ms RTT implies 480 km/ms, faster than fibre: the
  // landmarks' disks grow (a faster path, or wrong coordinates) and n1's verdict uses it.
  ASSERT_EQ(
      Submit(SignRecord(keys_.fra, PairMeasurement("lm-fra", "lm-par", 1, kNow, 2.0, keys_.par)),
             3),
      "");
  ASSERT_EQ(
      Submit(SignRecord(keys_.fra, NodeMeasurement("lm-fra", "n1", 2, kNow, 0.5, n1_.get())), 4),
      "");
  std::vector<int64_t> ids;
  const double speed = book_->Speed("lm-fra", ParamsOf(policy_), &ids);
  EXPECT_GT(speed, 400);
  EXPECT_EQ(ids, std::vector<int64_t>{3});
  NodeVerdict v = book_->Evaluate("n1", policy_, "p1", kNow);
  EXPECT_NEAR(v.location.disks(0).radius_km(), speed * 0.25, 1e-6);
  EXPECT_EQ(v.calibration_ids.at("lm-fra"), std::vector<int64_t>{3});
  // A slow pair (10 ms) never shrinks a disk below fibre speed.
  ASSERT_EQ(
      Submit(SignRecord(keys_.par, PairMeasurement("lm-par", "lm-fra", 1, kNow, 10.0, keys_.fra)),
             5),
      "");
  EXPECT_DOUBLE_EQ(book_->Speed("lm-par", ParamsOf(policy_), nullptr), speed);
}

TEST_F(LocationBookTest, ANodeWithoutCoordinatesOrKeyIsUnverifiedSayingWhy) {
  NodeVerdict v = book_->Evaluate("n3", policy_, "p1", kNow);
  EXPECT_EQ(v.location.verdict(), LOCATION_VERDICT_UNVERIFIED);
  EXPECT_NE(v.location.reason().find("no public key"), std::string::npos) << v.location.reason();
  policy_.require_proof = {"eu-central"};
  EXPECT_TRUE(book_->Evaluate("n3", policy_, "p1", kNow).location.proof_required());
  EXPECT_FALSE(book_->Evaluate("n2", policy_, "p1", kNow).location.proof_required());
}

// Review #1: n1 renewed its key. Answers under the previous key are accepted while it is in the
// grace set; afterwards they are refused as key rotation, never flagged as forgery; a landmark's
// bad_signature samples that verify under one of the node's keys are no forgery either.
TEST_F(LocationBookTest, AnotherKeyOfTheNodeIsRotationNotForgery) {
  auto renewed = NewSigner();
  NodeTarget n1 = Target("n1", "10.0.0.1:7700", renewed->public_key_der(), "fra1");
  n1.accepted_keys = {renewed->public_key_der(), n1_->public_key_der()};
  n1.known_keys = n1.accepted_keys;
  book_->SetAssignment(AssignmentTable::Build(config_, {n1}));
  // Within the grace period: the old key's answers are accepted.
  EXPECT_EQ(Check(SignRecord(keys_.fra, NodeMeasurement("lm-fra", "n1", 1, kNow, 0.5, n1_.get())))
                .refusal,
            "");
  // Past it: refused, not flagged.
  n1.accepted_keys = {renewed->public_key_der()};
  book_->SetAssignment(AssignmentTable::Build(config_, {n1}));
  CheckedRecord old =
      Check(SignRecord(keys_.fra, NodeMeasurement("lm-fra", "n1", 1, kNow, 0.5, n1_.get())));
  EXPECT_EQ(old.refusal, "previous_node_key");
  EXPECT_FALSE(old.forged);
  // Another node's key is still forgery.
  EXPECT_TRUE(Check(SignRecord(keys_.fra, NodeMeasurement("lm-fra", "n1", 1, kNow, 0.5, n2_.get())))
                  .forged);

  // The landmark checked with the old key: every answer (signed with the new one) is a
  // bad_signature sample. They verify under a key of n1: no flag.
  auto m = NodeMeasurement("lm-fra", "n1", 2, kNow, 0.5, nullptr);
  m.set_answers_invalid(1);
  auto* bad = m.add_invalid_samples();
  bad->set_reason("bad_signature");
  bad->mutable_answer()->set_nonce(std::string(prov::location::kNonceSize, 'x'));
  bad->mutable_answer()->set_seq(7);
  bad->mutable_answer()->set_signature(
      renewed->Sign(prov::location::AnswerMessage(bad->answer().nonce(), "lm-fra", "n1", 7)));
  CheckedRecord rotated = Check(SignRecord(keys_.fra, m));
  EXPECT_EQ(rotated.refusal, "");
  EXPECT_FALSE(rotated.forged) << rotated.forged_detail;
  // Signed by nobody's key of n1: forgery.
  bad->mutable_answer()->set_signature(
      n2_->Sign(prov::location::AnswerMessage(bad->answer().nonce(), "lm-fra", "n1", 7)));
  EXPECT_TRUE(Check(SignRecord(keys_.fra, m)).forged);
}

// Review #6: 16 valid answers and a repeated datagram of the accepted one (which a landmark may
// count as invalid, wrong_nonce): accepted, and no forgery flag for the identical repeat.
TEST_F(LocationBookTest, ADuplicatedAnswerIsNeitherMalformedNorForged) {
  auto m = NodeMeasurement("lm-fra", "n1", 1, kNow, 0.5, n1_.get());
  m.set_answers_invalid(1);  // 16 valid + 1 invalid > 16 probes sent
  auto* dup = m.add_invalid_samples();
  dup->set_reason("wrong_nonce");
  *dup->mutable_answer() = m.min_answer();
  CheckedRecord c = Check(SignRecord(keys_.fra, m));
  EXPECT_EQ(c.refusal, "") << c.detail;
  EXPECT_FALSE(c.forged) << c.forged_detail;
  // More valid answers than probes is still malformed.
  m.set_answers_valid(17);
  EXPECT_EQ(Check(SignRecord(keys_.fra, m)).refusal, "malformed");
}

// The store refuses a whole call for a target_id holding a NUL (PostgreSQL text cannot hold one):
// the book refuses that record alone, as malformed.
TEST_F(LocationBookTest, ATargetIdHoldingANulIsMalformed) {
  auto m = NodeMeasurement("lm-fra", "n1", 1, kNow, 0.5, n1_.get());
  m.set_target_id(std::string("n1\0x", 4));
  CheckedRecord c = Check(SignRecord(keys_.fra, m));
  EXPECT_EQ(c.refusal, "malformed");
  EXPECT_EQ(c.detail, "target_id holds a NUL byte");
}

// Review #4 and #13: a revoked node and a node whose id the wire format cannot carry are not
// assigned, and say why; a revoked node's records are refused and its verdict is unverified.
TEST_F(LocationBookTest, RevokedNodesAndUnwirableIdsAreNotAssigned) {
  NodeTarget revoked = Target("n1", "10.0.0.1:7700", n1_->public_key_der(), "fra1");
  revoked.revoked = true;
  NodeTarget spaced = Target("gpu 17", "10.0.0.9:7700", n2_->public_key_der(), "fra1");
  book_->SetAssignment(AssignmentTable::Build(config_, {revoked, spaced}));
  EXPECT_FALSE(book_->assignment().Assigned("lm-fra", "n1"));
  EXPECT_FALSE(book_->assignment().Assigned("lm-fra", "gpu 17"));
  EXPECT_EQ(book_->assignment().assigned_nodes(), 0u);
  EXPECT_NE(book_->assignment().Unassigned(config_, "n1").find("revoked"), std::string::npos);
  EXPECT_NE(book_->assignment().Unassigned(config_, "gpu 17").find("probe datagram"),
            std::string::npos)
      << book_->assignment().Unassigned(config_, "gpu 17");
  EXPECT_EQ(Check(SignRecord(keys_.fra, NodeMeasurement("lm-fra", "n1", 1, kNow, 0.5, n1_.get())))
                .refusal,
            "node_revoked");
  NodeVerdict v = book_->Evaluate("n1", policy_, "p1", kNow);
  EXPECT_EQ(v.location.verdict(), LOCATION_VERDICT_UNVERIFIED);
  EXPECT_NE(v.location.reason().find("revoked"), std::string::npos) << v.location.reason();
  v = book_->Evaluate("gpu 17", policy_, "p1", kNow);
  EXPECT_NE(v.location.reason().find("probe datagram"), std::string::npos) << v.location.reason();
}

// Review #11: with require_proof set, a node declaring a datacenter provd has no coordinates for
// (or none) cannot escape the requirement: it is proof-required (unverified, flagged).
TEST_F(LocationBookTest, AnUnknownDatacenterCannotEscapeRequireProof) {
  book_->SetAssignment(AssignmentTable::Build(
      config_, {Target("n4", "10.0.0.4:7700", n1_->public_key_der(), "nowhere-9"),
                Target("n5", "10.0.0.5:7700", n2_->public_key_der(), "")}));
  EXPECT_FALSE(book_->Evaluate("n4", policy_, "p1", kNow).location.proof_required());
  policy_.require_proof = {"eu-central"};
  for (const char* node : {"n4", "n5"}) {
    NodeVerdict v = book_->Evaluate(node, policy_, "p1", kNow);
    EXPECT_EQ(v.location.verdict(), LOCATION_VERDICT_UNVERIFIED);
    EXPECT_TRUE(v.location.proof_required()) << node;
  }
}

}  // namespace
}  // namespace prov::server::location
