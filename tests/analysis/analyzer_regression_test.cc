// Regression tests for correlation bugs found by the issue-9 trial (each failed before its fix).
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/analysis/analyzer.h"
#include "tests/analysis/analysis_test_util.h"

namespace prov::server {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;
using namespace testing;  // NOLINT: test builders

// A multi-node run whose MASTER_ADDR did not resolve ends; an hour later its master node appears
// with a new tenant. The ended run must not link to a workload that started after it ended, but
// does link to one that ran beside it.
TEST(AnalyzerRegressionTest, AnEndedWorkloadLinksToNothingThatStartedAfterItEnded) {
  Analyzer a(TestPolicy());
  for (int k = 0; k < 3; ++k) {
    const absl::Time t = kT0 + absl::Minutes(5 * k);
    ReportObservation west = WithAddress(Node("n-west", "dc-west", "eu-west", t), "10.2.0.1");
    WorkloadObservation v = Training("k8s:b", "shell-b", 3e17);
    v.master_addr = "10.1.0.1";
    v.master_port = 29500;
    v.peers.push_back({"10.1.0.1", 29500});
    west.workloads.push_back(v);
    a.Observe(west);
    a.Evaluate(t);
  }
  // The run ends (absent from its node's next report).
  a.Observe(WithAddress(Node("n-west", "dc-west", "eu-west", kT0 + absl::Minutes(15)), "10.2.0.1"));
  const absl::Time later = kT0 + absl::Hours(1);
  ReportObservation east = WithAddress(Node("n-east", "dc-east", "us-east", later), "10.1.0.1");
  WorkloadObservation tenant = Training("k8s:new", "new-tenant", 3e17);
  tenant.started_us = Us(later - absl::Minutes(2));
  tenant.listening_ports = {29500};
  east.workloads.push_back(tenant);
  a.Observe(east);
  a.Evaluate(later);
  EXPECT_NE(a.BundleOf("shell-b"), a.BundleOf("new-tenant"));
  EXPECT_EQ(a.stats().links, 0u);

  // Control: a workload on a third node that was already running while shell-b ran links when
  // its node appears late (reports delivered after an outage).
  for (int k = 0; k < 3; ++k) {
    const absl::Time t = kT0 + absl::Minutes(5 * k);
    ReportObservation west = WithAddress(Node("n-north", "dc-north", "eu-north", t), "10.2.0.9");
    WorkloadObservation v = Training("k8s:c", "shell-c", 3e17);
    v.master_addr = "10.3.0.1";
    v.master_port = 29500;
    west.workloads.push_back(v);
    a.Observe(west);
  }
  a.Observe(
      WithAddress(Node("n-north", "dc-north", "eu-north", kT0 + absl::Minutes(15)), "10.2.0.9"));
  ReportObservation south = WithAddress(Node("n-south", "dc-south", "sa-east", later), "10.3.0.1");
  WorkloadObservation old = Training("k8s:old", "shell-d", 3e17);
  old.started_us = Us(kT0 - absl::Hours(1));
  old.listening_ports = {29500};
  south.workloads.push_back(old);
  a.Observe(south);
  a.Evaluate(later);
  EXPECT_EQ(a.BundleOf("shell-c"), a.BundleOf("shell-d"));
}

// One account's run stops and another account resumes it elsewhere with the same checkpoint; the
// checkpoint then turns out to be public (five more teams adopt it one at a time). The hand-off
// link is withdrawn with the artifact links, and the bundle splits.
TEST(AnalyzerRegressionTest, HandOffThroughADigestThatTurnsCommonIsWithdrawn) {
  Analyzer a(TestPolicy());
  const std::string ckpt = "sha256:public-llama-ckpt";
  WorkloadObservation first = Training("k8s:first", "acct-a", 4e17);
  first.digests = first.artifact_digests = {ckpt};
  ReportObservation r1 = WithAddress(Node("n-a", "dc-a", "us-east", kT0), "10.5.0.1");
  r1.workloads.push_back(first);
  a.Observe(r1);
  a.Observe(WithAddress(Node("n-a", "dc-a", "us-east", kT0 + absl::Minutes(5)), "10.5.0.1"));
  WorkloadObservation next = Training("k8s:next", "acct-b", 4e17);
  next.digests = next.artifact_digests = {ckpt};
  ReportObservation r2 =
      WithAddress(Node("n-b", "dc-b", "ap-south", kT0 + absl::Minutes(45)), "10.6.0.1");
  r2.workloads.push_back(next);
  a.Observe(r2);
  a.Evaluate(kT0 + absl::Minutes(45));
  ASSERT_EQ(a.BundleOf("acct-a"), a.BundleOf("acct-b"));
  ASSERT_THAT(OfKind(a.BundleLinks(a.BundleOf("acct-a"), 10), "handoff"), SizeIs(1));

  for (int i = 0; i < 5; ++i) {  // adopted team by team, a day apart
    const absl::Time t = kT0 + absl::Hours(24 * (i + 1));
    ReportObservation r = WithAddress(Node("n-t" + std::to_string(i), "dc-t", "eu-west", t),
                                      "10.7.1." + std::to_string(i));
    WorkloadObservation w = Training("k8s:ft", "team-" + std::to_string(i), 1e15);
    w.digests = w.artifact_digests = {ckpt};
    r.workloads.push_back(w);
    a.Observe(r);
    a.Evaluate(t);
  }
  EXPECT_NE(a.BundleOf("acct-a"), a.BundleOf("acct-b"));
  EXPECT_EQ(a.stats().links, 0u);
}

// At a cold start every workload appears at once: a hand-off waits for artifact_settle like an
// artifact link does, so a digest's first users are not linked before its other users show up.
TEST(AnalyzerRegressionTest, HandOffWaitsForTheDigestToSettle) {
  auto policy = std::make_shared<policy::Policy>(*TestPolicy());
  policy->correlation.artifact_settle = absl::Minutes(10);
  policy->correlation.weights.erase("artifact");  // the hand-off alone
  Analyzer a(policy);
  const std::string ckpt = "sha256:ckpt-cold";
  WorkloadObservation first = Training("k8s:first", "acct-a", 4e17);
  first.digests = first.artifact_digests = {ckpt};
  ReportObservation r1 = WithAddress(Node("n-a", "dc-a", "us-east", kT0), "10.5.0.1");
  r1.workloads.push_back(first);
  a.Observe(r1);
  a.Observe(WithAddress(Node("n-a", "dc-a", "us-east", kT0 + absl::Minutes(3)), "10.5.0.1"));
  WorkloadObservation next = Training("k8s:next", "acct-b", 4e17);
  next.digests = next.artifact_digests = {ckpt};
  for (int k = 0; k < 3; ++k) {
    const absl::Time t = kT0 + absl::Minutes(5 + 5 * k);
    ReportObservation r = WithAddress(Node("n-b", "dc-b", "ap-south", t), "10.6.0.1");
    r.workloads.push_back(next);
    a.Observe(r);
    a.Evaluate(t);
    // Seen since kT0: settled from kT0 + 10 min on.
    EXPECT_EQ(a.BundleOf("acct-a") == a.BundleOf("acct-b"), k >= 1) << "round " << k;
  }
  auto links = OfKind(a.BundleLinks(a.BundleOf("acct-a"), 10), "handoff");
  ASSERT_THAT(links, SizeIs(1));
  EXPECT_THAT(links[0].sentence(), HasSubstr("same checkpoint/dataset digest"));
}

// A bundle with a restricted party in it that has not trained (another member trains): the flag
// says what is true and is dated by the facts that raised it, never 1970.
TEST(AnalyzerRegressionTest, RestrictedPartyThatDoesNotTrainIsNotCalledTrainingNorDated1970) {
  Analyzer a(TestPolicy());
  IdentitySnapshot snap;
  snap.kyc_version = 1;
  auto accounts = std::make_shared<std::vector<provenance::v1::AccountIdentity>>();
  auto& cn = accounts->emplace_back();
  cn.set_account_id("shell-a");
  cn.set_country_of_incorporation("CN");
  accounts->emplace_back().set_account_id("shell-b");
  snap.accounts = accounts;
  a.SetIdentity(snap, kT0);
  for (int k = 0; k < 3; ++k) {
    const absl::Time t = kT0 + absl::Minutes(10 + 5 * k);
    ReportObservation east = WithAddress(Node("n-east", "dc-east", "us-east", t), "10.1.0.1");
    WorkloadObservation w = Training("k8s:a", "shell-a", 0);
    w.workload_class = 2;  // inference: the restricted account serves, it does not train
    w.listening_ports = {29500};
    east.workloads.push_back(w);
    ReportObservation west = WithAddress(Node("n-west", "dc-west", "eu-west", t), "10.2.0.1");
    WorkloadObservation v = Training("k8s:b", "shell-b", 3e17);
    v.peers.push_back({"10.1.0.1", 29500});
    west.workloads.push_back(v);
    a.Observe(east);
    a.Observe(west);
    a.Evaluate(t);
  }
  ASSERT_EQ(a.BundleOf("shell-a"), a.BundleOf("shell-b"));
  auto flags = Flags(a, "restricted_party_training");
  ASSERT_THAT(flags, SizeIs(1));
  EXPECT_EQ(flags[0].first_time().seconds(), absl::ToUnixSeconds(kT0 + absl::Minutes(10)));
  EXPECT_THAT(flags[0].summary(), Not(HasSubstr("Training by a restricted party")));
  EXPECT_THAT(flags[0].summary(), HasSubstr("shell-a"));
  EXPECT_THAT(flags[0].summary(), HasSubstr("linked to training by shell-b"));
}

}  // namespace
}  // namespace prov::server
