// node_identity_mismatch (issue 10 §1): a node's client certificate used to report as another
// node raises a flag on the certificate's node at once, with both ids; rounds within a minute do
// not rewrite it; a resolved flag reopens on a new refusal.
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
using testing::Node;
using testing::TestPolicy;

NodeEvent Mismatch(const std::string& cert_node, const std::string& claimed, absl::Time at,
                   int64_t streams = 1) {
  NodeEvent e;
  e.kind = NodeEvent::Kind::kIdentityMismatch;
  e.node_id = cert_node;
  e.detail = claimed;
  e.since = at;
  e.time = at;
  e.count = streams;
  return e;
}

std::vector<Flag> MismatchFlags(const Analyzer& a) {
  provenance::v1::ListFlagsRequest req;
  req.set_rule("node_identity_mismatch");
  return a.ListFlags(req);
}

TEST(NodeIdentityMismatchTest, RaisedAtOnceOnTheCertificatesNodeWithBothIds) {
  Analyzer a(TestPolicy());
  a.Observe(Node("n1", "dc-a", "eu", kT0));
  a.ObserveNodeEvent(Mismatch("n1", "victim", kT0 + absl::Minutes(1), 3));
  a.Evaluate(kT0 + absl::Minutes(1));
  std::vector<Flag> flags = MismatchFlags(a);
  ASSERT_EQ(flags.size(), 1u);
  const Flag& f = flags[0];
  EXPECT_EQ(f.subject(), "node:n1");
  EXPECT_EQ(f.severity(), provenance::v1::SEVERITY_CRITICAL);  // the policy's default
  EXPECT_EQ(f.status(), provenance::v1::FLAG_STATUS_OPEN);
  ASSERT_EQ(f.nodes_size(), 2);
  EXPECT_EQ(f.nodes(0), "n1");
  EXPECT_EQ(f.nodes(1), "victim");
  ASSERT_EQ(f.datacenters_size(), 1);
  EXPECT_EQ(f.datacenters(0), "dc-a");
  ASSERT_EQ(f.evidence_size(), 1);
  EXPECT_TRUE(absl::StrContains(f.evidence(0).sentence(), "sent reports as node \"victim\": 3"))
      << f.evidence(0).sentence();
  EXPECT_TRUE(absl::StrContains(f.summary(), "provctl nodes revoke n1")) << f.summary();
  EXPECT_TRUE(a.TakeChanges().flags.size() == 1);
}

TEST(NodeIdentityMismatchTest, OneRewritePerMinutePerClaimedNodeAndReopensWhenResolved) {
  Analyzer a(TestPolicy());
  const absl::Time t = kT0 + absl::Seconds(5);
  a.ObserveNodeEvent(Mismatch("n1", "victim", t));
  a.Evaluate(t);
  a.ObserveNodeEvent(Mismatch("n1", "victim", t + absl::Seconds(10)));  // same minute
  a.Evaluate(t + absl::Seconds(10));
  ASSERT_EQ(MismatchFlags(a).size(), 1u);
  EXPECT_EQ(MismatchFlags(a)[0].revision(), 1u);
  a.ObserveNodeEvent(Mismatch("n1", "other", t + absl::Seconds(20)));  // a new claimed node
  a.Evaluate(t + absl::Seconds(20));
  EXPECT_EQ(MismatchFlags(a)[0].revision(), 2u);
  EXPECT_EQ(MismatchFlags(a)[0].nodes_size(), 3);
  const std::string id = MismatchFlags(a)[0].flag_id();
  ASSERT_NE(a.SetFlagCase(id, provenance::v1::FLAG_STATUS_RESOLVED,
                          provenance::v1::DISPOSITION_FALSE_POSITIVE, "", t + absl::Minutes(1)),
            nullptr);
  a.ObserveNodeEvent(Mismatch("n1", "victim", t + absl::Minutes(5)));
  a.Evaluate(t + absl::Minutes(5));
  std::vector<Flag> flags = MismatchFlags(a);
  ASSERT_EQ(flags.size(), 1u);  // the same flag, reopened
  EXPECT_EQ(flags[0].status(), provenance::v1::FLAG_STATUS_OPEN);
  EXPECT_EQ(flags[0].evidence_size(), 3);
}

TEST(NodeIdentityMismatchTest, SeverityComesFromThePolicy) {
  std::string yaml = testing::kTestPolicy;
  yaml += "node_health: {identity_mismatch_severity: high}\n";
  Analyzer a(TestPolicy(yaml));
  a.ObserveNodeEvent(Mismatch("n1", "victim", kT0));
  a.Evaluate(kT0);
  ASSERT_EQ(MismatchFlags(a).size(), 1u);
  EXPECT_EQ(MismatchFlags(a)[0].severity(), provenance::v1::SEVERITY_HIGH);
}

}  // namespace
}  // namespace prov::server
