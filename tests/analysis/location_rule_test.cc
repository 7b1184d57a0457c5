// The location rules (issue 11, rule_location.cc): the location hub's verdict changes and forged
// answers become location_contradicted / location_unverified / location_answer_forged flags with
// evidence a person can read; a contradicted node whose fresh measurements verify resolves the
// way hardware_silent does; a resolved flag reopens when the contradiction returns.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "server/analysis/analyzer.h"
#include "server/analysis/node_event.h"
#include "tests/analysis/analysis_test_util.h"

namespace prov::server {
namespace {

using provenance::v1::Flag;
using testing::kT0;
using testing::TestPolicy;

NodeEvent Verdict(const std::string& node, const std::string& verdict, absl::Time at,
                  bool proof_required = false) {
  NodeEvent e;
  e.kind = NodeEvent::Kind::kLocationVerdict;
  e.node_id = node;
  e.time = at;
  e.detail = verdict;
  e.location.datacenter = "sin1";
  e.location.proof_required = proof_required;
  e.location.summary = "landmark lm-fra's disk (100 km) excludes sin1 (10,262 km away).";
  e.location.sentences = {
      "Landmark lm-fra at (50.110, 8.680): minimum RTT 1.000 ms measured 2027-01-15 08:00:00 "
      "UTC, so the node is within 100 km of it (at 200 km/ms); the declared site sin1 (1.300, "
      "103.800) is 10262 km away: OUTSIDE the disk."};
  if (verdict == "contradicted") e.location.landmarks = {"lm-fra"};
  if (verdict == "unverified") e.location.needed_landmark = "lm-sin";
  return e;
}

std::vector<Flag> Flags(const Analyzer& a, const std::string& rule) {
  provenance::v1::ListFlagsRequest req;
  req.set_rule(rule);
  return a.ListFlags(req);
}

TEST(LocationRuleTest, ContradictedRaisesACriticalFlagAndVerifiedResolvesIt) {
  Analyzer a(TestPolicy());
  a.ObserveNodeEvent(Verdict("n2", "contradicted", kT0));
  a.Evaluate(kT0);
  auto flags = Flags(a, "location_contradicted");
  ASSERT_EQ(flags.size(), 1u);
  const Flag& f = flags[0];
  EXPECT_EQ(f.subject(), "node:n2");
  EXPECT_EQ(f.severity(), provenance::v1::SEVERITY_CRITICAL);
  EXPECT_EQ(f.status(), provenance::v1::FLAG_STATUS_OPEN);
  ASSERT_EQ(f.datacenters_size(), 1);
  EXPECT_EQ(f.datacenters(0), "sin1");
  ASSERT_EQ(f.evidence_size(), 1);
  EXPECT_TRUE(absl::StrContains(f.evidence(0).sentence(), "OUTSIDE the disk"));
  EXPECT_TRUE(absl::StrContains(f.summary(), "provably not at sin1")) << f.summary();

  // Stale measurements alone (unverified) prove nothing new: still open.
  a.ObserveNodeEvent(Verdict("n2", "unverified", kT0 + absl::Hours(2)));
  a.Evaluate(kT0 + absl::Hours(2));
  EXPECT_EQ(Flags(a, "location_contradicted")[0].status(), provenance::v1::FLAG_STATUS_OPEN);
  // Fresh measurements verify the site: resolved itself, with the reason in the evidence.
  a.ObserveNodeEvent(Verdict("n2", "verified", kT0 + absl::Hours(3)));
  a.Evaluate(kT0 + absl::Hours(3));
  Flag resolved = Flags(a, "location_contradicted")[0];
  EXPECT_EQ(resolved.status(), provenance::v1::FLAG_STATUS_RESOLVED);
  EXPECT_EQ(resolved.evidence(resolved.evidence_size() - 1).kind(), "recovered");
  // Contradicted again: the same flag reopens.
  a.ObserveNodeEvent(Verdict("n2", "contradicted", kT0 + absl::Hours(4)));
  a.Evaluate(kT0 + absl::Hours(4));
  flags = Flags(a, "location_contradicted");
  ASSERT_EQ(flags.size(), 1u);
  EXPECT_EQ(flags[0].status(), provenance::v1::FLAG_STATUS_OPEN);
}

TEST(LocationRuleTest, UnverifiedIsFlaggedOnlyWhereProofIsRequired) {
  Analyzer a(TestPolicy());
  a.ObserveNodeEvent(Verdict("n1", "unverified", kT0, /*proof_required=*/false));
  a.Evaluate(kT0);
  EXPECT_TRUE(Flags(a, "location_unverified").empty());
  a.ObserveNodeEvent(Verdict("n1", "unverified", kT0, /*proof_required=*/true));
  a.Evaluate(kT0);
  auto flags = Flags(a, "location_unverified");
  ASSERT_EQ(flags.size(), 1u);
  EXPECT_EQ(flags[0].severity(), provenance::v1::SEVERITY_MEDIUM);
  EXPECT_TRUE(absl::StrContains(flags[0].summary(), "Needed: fresh records from landmark lm-sin"))
      << flags[0].summary();
  a.ObserveNodeEvent(Verdict("n1", "verified", kT0 + absl::Minutes(5), true));
  a.Evaluate(kT0 + absl::Minutes(5));
  EXPECT_EQ(Flags(a, "location_unverified")[0].status(), provenance::v1::FLAG_STATUS_RESOLVED);
}

TEST(LocationRuleTest, ForgedAnswersRaiseAHighFlagWithEachOccurrence) {
  Analyzer a(TestPolicy());
  NodeEvent e;
  e.kind = NodeEvent::Kind::kLocationForged;
  e.node_id = "n1";
  e.time = kT0;
  e.detail = "lm-fra";
  e.location.datacenter = "fra1";
  e.location.sentences = {"landmark lm-fra sent a record whose answer does not verify"};
  a.ObserveNodeEvent(e);
  a.Evaluate(kT0);
  e.time = kT0 + absl::Minutes(2);
  a.ObserveNodeEvent(e);
  a.Evaluate(kT0 + absl::Minutes(2));
  auto flags = Flags(a, "location_answer_forged");
  ASSERT_EQ(flags.size(), 1u);
  EXPECT_EQ(flags[0].severity(), provenance::v1::SEVERITY_HIGH);
  EXPECT_EQ(flags[0].evidence_size(), 2);
  EXPECT_TRUE(
      absl::StrContains(flags[0].summary(), "Landmark lm-fra received answers for node n1"));
}

}  // namespace
}  // namespace prov::server
