#include "server/analysis/analyzer.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/analysis/analysis_test_util.h"

namespace prov::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;
using namespace testing;  // NOLINT: test builders

// Two shell accounts in two data centres exchanging traffic: one bundle, one tier flag.
TEST(AnalyzerTest, NetworkPeersJoinAccountsAcrossDatacentresAndCrossATier) {
  Analyzer a(TestPolicy());
  for (int k = 0; k < 4; ++k) {
    const absl::Time t = kT0 + absl::Minutes(5 * k);
    ReportObservation east = WithAddress(Node("n-east", "dc-east", "us-east", t), "10.1.0.1");
    WorkloadObservation w = Training("k8s:a", "shell-a", 3e17);
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
  const std::string bundle = a.BundleOf("shell-a");
  ASSERT_FALSE(bundle.empty());
  EXPECT_EQ(a.BundleOf("shell-b"), bundle);
  auto b = a.bundle(bundle);
  ASSERT_TRUE(b.has_value());
  EXPECT_THAT(b->accounts(), ElementsAre("shell-a", "shell-b"));
  EXPECT_THAT(b->datacenters(), ElementsAre("dc-east", "dc-west"));
  EXPECT_DOUBLE_EQ(b->training_flop().low(), 8 * 3e17);
  EXPECT_DOUBLE_EQ(b->training_flop().high(), 8 * 9e17);

  auto flags = Flags(a, "compute_tier:");
  ASSERT_THAT(flags, SizeIs(1));  // one per bundle and tier, not one per report
  const auto& f = flags[0];
  EXPECT_EQ(f.rule(), "compute_tier:tier-1e18");
  EXPECT_EQ(f.subject(), "bundle:" + bundle);
  EXPECT_EQ(f.policy_version(), "test-1");
  EXPECT_THAT(f.accounts(), ElementsAre("shell-a", "shell-b"));
  EXPECT_EQ(f.severity(), provenance::v1::SEVERITY_MEDIUM);
  // Crossed on the second round of reports (4 x 3e17 = 1.2e18): that report's time.
  EXPECT_EQ(f.first_time().seconds(), absl::ToUnixSeconds(kT0 + absl::Minutes(5)));
  ASSERT_GE(f.evidence_size(), 2);
  EXPECT_EQ(f.evidence(0).kind(), "compute");
  EXPECT_THAT(f.evidence(0).sentence(), HasSubstr("2 accounts"));
  EXPECT_EQ(f.evidence(1).kind(), "link");
  EXPECT_EQ(f.evidence(1).link().kind(), "network_peer");
  EXPECT_THAT(f.evidence(1).sentence(), HasSubstr("exchanges traffic with 10.1.0.1:29500"));
  EXPECT_THAT(f.evidence(1).sentence(), HasSubstr("listens on that port"));
}

// The join that made a bundle's membership dates its compute flags (no earlier than the join):
// it is saved with the bundle and comes back on restore, so a restarted or newly elected engine
// does not date a rewritten flag before the accounts were known to be one.
TEST(AnalyzerTest, ABundlesJoinTimeIsSavedAndRestored) {
  Analyzer a(TestPolicy());
  for (int k = 0; k < 2; ++k) {
    const absl::Time t = kT0 + absl::Minutes(5 * k);
    ReportObservation east = WithAddress(Node("n-east", "dc-east", "us-east", t), "10.1.0.1");
    WorkloadObservation w = Training("k8s:a", "shell-a", 3e17);
    w.listening_ports = {29500};
    east.workloads.push_back(w);
    ReportObservation west = WithAddress(Node("n-west", "dc-west", "eu-west", t), "10.2.0.1");
    WorkloadObservation v = Training("k8s:b", "shell-b", 3e17);
    if (k == 1) v.peers.push_back({"10.1.0.1", 29500});  // joined on the second round
    west.workloads.push_back(v);
    a.Observe(east);
    a.Observe(west);
    a.Evaluate(t);
  }
  const std::string id = a.BundleOf("shell-a");
  ASSERT_FALSE(id.empty());
  auto saved = a.bundle(id);
  ASSERT_TRUE(saved.has_value());
  ASSERT_TRUE(saved->has_joined_time());
  EXPECT_EQ(saved->joined_time().seconds(), absl::ToUnixSeconds(kT0 + absl::Minutes(5)));

  Analyzer restarted(TestPolicy());
  restarted.RestoreBundle(*saved);
  restarted.FinishRestore();
  auto back = restarted.bundle(id);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->joined_time().seconds(), saved->joined_time().seconds());
}

// A reload restores each workload's compute as saved (PostgreSQL: the batches after the saved
// position are replayed on top): the row is saved again whenever its training FLOP has grown by
// 1/32 since, not only when its details change, so what comes back is at most ~3 % behind.
TEST(AnalyzerTest, AWorkloadsRowIsSavedAsItsTrainingFlopGrows) {
  Analyzer a(TestPolicy());
  auto report = [&](int k, double flop) {
    ReportObservation r = Node("n-1", "dc-east", "us-east", kT0 + absl::Minutes(k));
    r.workloads.push_back(Training("k8s:a", "acct-a", flop));
    a.Observe(r);
    a.Evaluate(kT0 + absl::Minutes(k));
    return a.TakeChanges().workloads;
  };
  EXPECT_THAT(report(0, 1e17), ElementsAre("n-1/k8s:a"));  // new
  EXPECT_THAT(report(1, 1e14), IsEmpty());                 // +0.1 %: not yet
  EXPECT_THAT(report(2, 1e17), ElementsAre("n-1/k8s:a"));  // about doubled: saved
  const provenance::v1::WorkloadFacts* w = a.workload("n-1/k8s:a");
  ASSERT_NE(w, nullptr);
  EXPECT_DOUBLE_EQ(w->training_flop_low(), 2e17 + 1e14);
  int saves = 0;
  for (int k = 3; k < 103; ++k) saves += !report(k, 1e16).empty();  // +1e18 in 1e16 steps
  // From 2e17 to 1.2e18 is log(6)/log(1 + 1/32) = 58 steps of the ladder.
  EXPECT_GE(saves, 55);
  EXPECT_LE(saves, 60);
}

// Evidence must not depend on arrival order: every report of the node that talks to 10.1.0.1
// (and names it as MASTER_ADDR) arrives before the first report of the node that owns it.
TEST(AnalyzerTest, PeersAndMasterAddrToANodeNotSeenYetLinkWhenItAppears) {
  Analyzer a(TestPolicy());
  for (int k = 0; k < 3; ++k) {
    const absl::Time t = kT0 + absl::Minutes(5 * k);
    ReportObservation west = WithAddress(Node("n-west", "dc-west", "eu-west", t), "10.2.0.1");
    WorkloadObservation v = Training("k8s:b", "shell-b", 3e17);
    v.peers.push_back({"10.1.0.1", 29500});
    west.workloads.push_back(v);
    ReportObservation south = WithAddress(Node("n-south", "dc-south", "sa-east", t), "10.3.0.1");
    WorkloadObservation m = Training("k8s:c", "shell-c", 3e17);
    m.master_addr = "10.1.0.1";
    m.master_port = 29500;
    south.workloads.push_back(m);
    a.Observe(west);
    a.Observe(south);
    a.Evaluate(t);
  }
  EXPECT_NE(a.BundleOf("shell-b"), a.BundleOf("shell-c"));  // nothing links them yet
  const absl::Time t = kT0 + absl::Minutes(15);
  ReportObservation east = WithAddress(Node("n-east", "dc-east", "us-east", t), "10.1.0.1");
  WorkloadObservation w = Training("k8s:a", "shell-a", 3e17);
  w.listening_ports = {29500};
  east.workloads.push_back(w);
  a.Observe(east);
  a.Evaluate(t);
  const std::string bundle = a.BundleOf("shell-a");
  ASSERT_FALSE(bundle.empty());
  EXPECT_EQ(a.BundleOf("shell-b"), bundle);
  EXPECT_EQ(a.BundleOf("shell-c"), bundle);
  auto links = a.BundleLinks(bundle, 100);
  ASSERT_THAT(OfKind(links, "network_peer"), SizeIs(1));
  ASSERT_THAT(OfKind(links, "master_addr"), SizeIs(1));
  // Dated by the evidence that carried it (the first west report), not by the late arrival.
  EXPECT_EQ(OfKind(links, "network_peer")[0].first_time().seconds(), absl::ToUnixSeconds(kT0));
}

// 1.02e18 and then 1.07e18 lie in the same tenth of a decade: the flag must not wait for the next.
TEST(AnalyzerTest, ATierCrossedInsideADecileIsFlaggedOnThatReport) {
  auto policy = std::make_shared<policy::Policy>(*TestPolicy());
  policy->compute_tiers[0].flop = 1.05e18;
  Analyzer a(policy);
  const double per_report[] = {1.02e18, 0.05e18};
  for (int k = 0; k < 2; ++k) {
    const absl::Time t = kT0 + absl::Minutes(5 * k);
    ReportObservation r = Node("n1", "dc", "r", t);
    r.workloads.push_back(Training("w", "acct", per_report[k]));
    a.Observe(r);
    a.Evaluate(t);
    EXPECT_THAT(Flags(a), SizeIs(k));
  }
}

// Reports arriving late and out of order in one batch: the flag is dated to the report (by its
// collection time) at which the cumulative compute reached the tier, not to the newest report.
TEST(AnalyzerTest, ACrossingIsDatedToTheReportThatCompletedIt) {
  Analyzer a(TestPolicy());
  for (int k : {4, 1, 3, 0, 2}) {  // a reconnect delivers a node's backlog in one burst
    ReportObservation r = Node("n1", "dc", "r", kT0 + absl::Minutes(5 * k));
    r.workloads.push_back(Training("w", "acct", 0.4e18));
    a.Observe(r);
  }
  a.Evaluate(kT0 + absl::Hours(1));
  auto flags = Flags(a);
  ASSERT_THAT(flags, SizeIs(1));
  EXPECT_EQ(flags[0].first_time().seconds(), absl::ToUnixSeconds(kT0 + absl::Minutes(10)));
  EXPECT_EQ(flags[0].last_time().seconds(), absl::ToUnixSeconds(kT0 + absl::Minutes(20)));
}

// One node of a bundle falls behind (its agent spools through a partition, or a replay's agent
// lags the others): the tier is crossed on the facts that have arrived, then the late node's
// backlog shows it was crossed earlier. The flag's time follows the facts once they arrive.
TEST(AnalyzerTest, LateFactsMoveATierCrossingEarlier) {
  Analyzer a(TestPolicy());
  auto east_at = [](int k) {
    const absl::Time t = kT0 + absl::Minutes(5 * k);
    ReportObservation east = WithAddress(Node("n-east", "dc-east", "us-east", t), "10.1.0.1");
    WorkloadObservation w = Training("k8s:a", "shell-a", 3e17);
    w.listening_ports = {29500};
    east.workloads.push_back(w);
    return east;
  };
  auto west_at = [](int k) {
    const absl::Time t = kT0 + absl::Minutes(5 * k);
    ReportObservation west = WithAddress(Node("n-west", "dc-west", "eu-west", t), "10.2.0.1");
    WorkloadObservation v = Training("k8s:b", "shell-b", 3e17);
    v.peers.push_back({"10.1.0.1", 29500});
    west.workloads.push_back(v);
    return west;
  };
  a.Observe(west_at(0));  // then west goes quiet: its next reports wait in its spool
  for (int k = 0; k < 3; ++k) {
    a.Observe(east_at(k));
    a.Evaluate(kT0 + absl::Minutes(5 * k));
  }
  auto flags = Flags(a, "compute_tier:");
  ASSERT_THAT(flags, SizeIs(1));
  // On what had arrived: 3e17 (west at 0) + 3 x 3e17 (east at 0, 5, 10) = 1.2e18 at 10 minutes.
  EXPECT_EQ(flags[0].first_time().seconds(), absl::ToUnixSeconds(kT0 + absl::Minutes(10)));
  for (int k = 1; k < 4; ++k) a.Observe(west_at(k));  // the backlog arrives
  a.Evaluate(kT0 + absl::Minutes(20));
  flags = Flags(a, "compute_tier:");
  ASSERT_THAT(flags, SizeIs(1));
  // Both nodes at 0 and 5 minutes: 4 x 3e17 = 1.2e18 was reached at 5 minutes.
  EXPECT_EQ(flags[0].first_time().seconds(), absl::ToUnixSeconds(kT0 + absl::Minutes(5)));
}

// One account training on one node: `reports` reports 5 minutes apart, `flop` each.
void SteadyTraining(Analyzer& a, int reports, double flop) {
  for (int k = 0; k < reports; ++k) {
    const absl::Time t = kT0 + absl::Minutes(5 * k);
    ReportObservation r = Node("n1", "dc", "r", t);
    r.workloads.push_back(Training("w", "acct", flop));
    a.Observe(r);
    a.Evaluate(t);
  }
}

TEST(AnalyzerTest, ProjectionSaysWhenTheNextTierWillBeCrossedAtTheCurrentRate) {
  auto policy = std::make_shared<policy::Policy>(*TestPolicy());
  policy->projection.horizon = absl::Hours(24);
  Analyzer a(policy);
  SteadyTraining(a, 5, 1e16);
  // 4e16 FLOP in 20 minutes = 2.9e18 per day: 1e18 is 0.33 days away, inside the horizon.
  auto flags = Flags(a, "projection:");
  ASSERT_THAT(flags, SizeIs(1));
  EXPECT_EQ(flags[0].rule(), "projection:tier-1e18");
  EXPECT_THAT(flags[0].summary(), HasSubstr("crosses tier-1e18 (1e+18 FLOP) in 0.3 days"));
  EXPECT_THAT(Flags(a, "compute_tier:"), IsEmpty());
}

TEST(AnalyzerTest, NoProjectionBeyondTheHorizon) {
  auto policy = std::make_shared<policy::Policy>(*TestPolicy());
  policy->projection.horizon = absl::Hours(1);
  Analyzer a(policy);
  SteadyTraining(a, 5, 1e16);
  EXPECT_THAT(Flags(a), IsEmpty());
}

// Two accounts of one bundle; the second's early reports arrive in a later batch (its agent was
// disconnected). The crossing is still dated by report time across both accounts.
TEST(AnalyzerTest, ACrossingAcrossBatchesIsDatedByReportTime) {
  Analyzer a(TestPolicy());
  auto round = [&](int k, bool east, bool west) {
    const absl::Time t = kT0 + absl::Minutes(5 * k);
    if (east) {
      ReportObservation r = WithAddress(Node("n-east", "dc-east", "us-east", t), "10.1.0.1");
      r.workloads.push_back(Training("k8s:a", "shell-a", 0.2e18));
      a.Observe(r);
    }
    if (west) {
      ReportObservation r = WithAddress(Node("n-west", "dc-west", "eu-west", t), "10.2.0.1");
      WorkloadObservation v = Training("k8s:b", "shell-b", 0.2e18);
      v.peers.push_back({"10.1.0.1", 0});
      r.workloads.push_back(v);
      a.Observe(r);
    }
  };
  for (int k = 0; k < 4; ++k) round(k, true, false);  // east alone: 0.8e18
  a.Evaluate(kT0 + absl::Minutes(20));
  EXPECT_THAT(Flags(a), IsEmpty());
  for (int k = 0; k < 4; ++k) round(k, false, true);  // west's backlog, reports 0..3
  a.Evaluate(kT0 + absl::Minutes(40));
  auto flags = Flags(a);
  ASSERT_THAT(flags, SizeIs(1));
  // In report-time order: 0.8e18 after reports 0-1 of both, 1.2e18 with report 2 (10 minutes).
  EXPECT_EQ(flags[0].first_time().seconds(), absl::ToUnixSeconds(kT0 + absl::Minutes(10)));
}

TEST(AnalyzerTest, EachAccountAloneStaysBelowTheTier) {
  Analyzer a(TestPolicy());
  for (int k = 0; k < 4; ++k) {
    const absl::Time t = kT0 + absl::Minutes(5 * k);
    ReportObservation east = WithAddress(Node("n-east", "dc-east", "us-east", t), "10.1.0.1");
    east.workloads.push_back(Training("k8s:a", "solo-a", 2e17));
    ReportObservation west = WithAddress(Node("n-west", "dc-west", "eu-west", t), "10.2.0.1");
    west.workloads.push_back(Training("k8s:b", "solo-b", 2e17));
    a.Observe(east);
    a.Observe(west);
    a.Evaluate(t);
  }
  EXPECT_NE(a.BundleOf("solo-a"), a.BundleOf("solo-b"));
  EXPECT_THAT(Flags(a), IsEmpty());
}

TEST(AnalyzerTest, AnAddressSeveralNodesClaimLinksNothing) {
  Analyzer a(TestPolicy());
  // docker0's default address is on every node.
  ReportObservation x = Node("n-x", "dc-1", "r1", kT0);
  x.addresses = {"10.1.0.1", "172.17.0.1"};
  x.workloads.push_back(Training("w-x", "acct-x", 1e15));
  ReportObservation y = Node("n-y", "dc-2", "r2", kT0);
  y.addresses = {"10.2.0.1", "172.17.0.1"};
  WorkloadObservation w = Training("w-y", "acct-y", 1e15);
  w.peers.push_back({"172.17.0.1", 0});
  y.workloads.push_back(w);
  a.Observe(x);
  a.Observe(y);
  a.Evaluate(kT0);
  EXPECT_NE(a.BundleOf("acct-x"), a.BundleOf("acct-y"));
  for (const std::string& key : a.TakeChanges().links) {
    EXPECT_THAT(key, ::testing::Not(::testing::StartsWith("network_peer")));
  }
}

TEST(AnalyzerTest, MasterAddrByHostnameLinksToTheListeningWorkload) {
  Analyzer a(TestPolicy());
  ReportObservation m = WithAddress(Node("n-m", "dc-1", "r1", kT0), "10.3.0.1");
  WorkloadObservation master = Training("slurm:1", "acct-m", 1e15);
  master.listening_ports = {29400};
  m.workloads.push_back(master);
  m.workloads.push_back(Training("slurm:2", "acct-other", 1e15));
  a.Observe(m);
  ReportObservation w = WithAddress(Node("n-w", "dc-2", "r2", kT0), "10.4.0.1");
  WorkloadObservation worker = Training("slurm:3", "acct-w", 1e15);
  worker.master_addr = "n-m.example";
  worker.master_port = 29400;
  w.workloads.push_back(worker);
  a.Observe(w);
  a.Evaluate(kT0);
  EXPECT_EQ(a.BundleOf("acct-w"), a.BundleOf("acct-m"));
  EXPECT_NE(a.BundleOf("acct-w"), a.BundleOf("acct-other"));  // not the one that does not listen
  auto links = OfKind(a.BundleLinks(a.BundleOf("acct-w"), 10), "master_addr");
  ASSERT_THAT(links, SizeIs(1));
  EXPECT_THAT(links[0].sentence(), HasSubstr("MASTER_ADDR=n-m.example:29400"));
}

TEST(AnalyzerTest, APublicBaseImageSharedByManyAccountsLinksNothing) {
  Analyzer a(TestPolicy());
  for (int i = 0; i < 8; ++i) {
    ReportObservation r =
        WithAddress(Node("n" + std::to_string(i), "dc", "r", kT0), "10.9.0." + std::to_string(i));
    WorkloadObservation w =
        Training("k8s:w" + std::to_string(i), "team-" + std::to_string(i), 1e15);
    w.digests = {"sha256:public-base-image"};
    r.workloads.push_back(w);
    a.Observe(r);
    a.Evaluate(kT0);
  }
  // Links made while it looked rare are withdrawn; only "started together" links remain, and
  // those never make a bundle.
  const AnalyzerChanges changes = a.TakeChanges();
  for (const std::string& key : changes.links) EXPECT_THAT(key, ::testing::StartsWith("co_start|"));
  EXPECT_EQ(changes.removed_links.size(), 10u);  // 5 accounts: 10 artifact pairs, then common
  EXPECT_EQ(a.stats().multi_account_bundles, 0u);
}

TEST(AnalyzerTest, RareArtifactLinksAndIdentityAloneDoesNot) {
  Analyzer a(TestPolicy());
  IdentitySnapshot snap;
  snap.kyc_version = 3;
  auto accounts = std::make_shared<std::vector<provenance::v1::AccountIdentity>>();
  for (const char* id : {"big-1", "big-2", "x-1", "x-2"}) {
    auto& acc = accounts->emplace_back();
    acc.set_account_id(id);
    acc.set_legal_entity(std::string("Entity ") + id);
  }
  (*accounts)[0].add_beneficial_owners()->set_name("Jane Roe");
  (*accounts)[1].add_beneficial_owners()->set_name("JANE  ROE");
  (*accounts)[0].add_email_domains("gmail.com");  // free mail: says nothing
  (*accounts)[2].add_email_domains("gmail.com");
  snap.accounts = accounts;
  a.SetIdentity(snap, kT0);
  int host = 0;
  for (const char* id : {"big-1", "big-2", "x-1", "x-2"}) {
    ReportObservation r = WithAddress(Node(std::string("n-") + id, "dc", "r", kT0),
                                      std::string("10.8.0.") + std::to_string(++host));
    WorkloadObservation w = Training(std::string("w-") + id, id, 1e15);
    if (id[0] == 'x') w.digests = w.artifact_digests = {"sha256:private-dataset"};
    r.workloads.push_back(w);
    a.Observe(r);
  }
  a.Evaluate(kT0);
  // Same owner: an identity link, but identity alone never makes a lineage.
  EXPECT_NE(a.BundleOf("big-1"), a.BundleOf("big-2"));
  EXPECT_EQ(a.BundleOf("x-1"), a.BundleOf("x-2"));
  const auto changes = a.TakeChanges();
  std::vector<std::string> kinds;
  for (const std::string& key : changes.links) {
    if (!absl::StartsWith(key, "co_start|")) kinds.push_back(key.substr(0, key.find('|')));
  }
  EXPECT_THAT(kinds, UnorderedElementsAre("identity_owner", "artifact"));  // no gmail link
  auto links = OfKind(a.BundleLinks(a.BundleOf("x-1"), 10), "artifact");
  ASSERT_THAT(links, SizeIs(1));
  EXPECT_THAT(links[0].sentence(), HasSubstr("checkpoint/dataset digest"));
}

// A cold start: every workload appears in the first minute, a public image's users one by one.
// With artifact_settle the image has shown all its users before it may link anyone.
TEST(AnalyzerTest, ColdStartDoesNotLinkTheFirstUsersOfAPublicImage) {
  auto policy = std::make_shared<policy::Policy>(*TestPolicy());
  policy->correlation.artifact_settle = absl::Minutes(10);
  Analyzer a(policy);
  for (int k = 0; k < 4; ++k) {
    const absl::Time t = kT0 + absl::Minutes(5 * k);
    for (int i = 0; i < 8; ++i) {
      ReportObservation r =
          WithAddress(Node("n" + std::to_string(i), "dc", "r", t), "10.9.0." + std::to_string(i));
      WorkloadObservation w =
          Training("k8s:w" + std::to_string(i), "team-" + std::to_string(i), 1e15);
      w.digests = {"sha256:public-base-image"};
      r.workloads.push_back(w);
      a.Observe(r);
      a.Evaluate(t);
    }
  }
  for (const std::string& key : a.TakeChanges().links) {
    EXPECT_THAT(key, ::testing::Not(::testing::StartsWith("artifact|")));
  }
  // A private dataset shared by two accounts does link, once it has been seen for 10 minutes.
  for (int k = 0; k < 3; ++k) {
    const absl::Time t = kT0 + absl::Minutes(20 + 5 * k);
    for (int i = 0; i < 2; ++i) {
      ReportObservation r =
          WithAddress(Node("p" + std::to_string(i), "dc", "r", t), "10.8.1." + std::to_string(i));
      WorkloadObservation w = Training("job", "pkg-" + std::to_string(i), 1e15);
      w.digests = w.artifact_digests = {"sha256:private-dataset"};
      r.workloads.push_back(w);
      a.Observe(r);
    }
    a.Evaluate(t);
    EXPECT_EQ(a.BundleOf("pkg-0") == a.BundleOf("pkg-1"), k == 2) << "round " << k;
  }
}

TEST(AnalyzerTest, StartingTogetherAloneIsNotEnough) {
  Analyzer a(TestPolicy());
  for (int i = 0; i < 2; ++i) {
    ReportObservation r =
        WithAddress(Node("n" + std::to_string(i), "dc", "r", kT0), "10.7.0." + std::to_string(i));
    WorkloadObservation w = Training("w", "acct-" + std::to_string(i), 1e15);
    w.started_us = Us(kT0) + i * 20'000'000;
    r.workloads.push_back(w);
    a.Observe(r);
  }
  a.Evaluate(kT0);
  EXPECT_EQ(a.stats().links, 1u);
  EXPECT_NE(a.BundleOf("acct-0"), a.BundleOf("acct-1"));
}

TEST(AnalyzerTest, HandOffToAnotherRegionWithTheSameCheckpoint) {
  Analyzer a(TestPolicy());
  WorkloadObservation first = Training("k8s:first", "acct-a", 4e17);
  first.digests = first.artifact_digests = {"sha256:ckpt-17"};
  ReportObservation r1 = WithAddress(Node("n-a", "dc-a", "us-east", kT0), "10.5.0.1");
  r1.workloads.push_back(first);
  a.Observe(r1);
  ReportObservation r2 =
      WithAddress(Node("n-a", "dc-a", "us-east", kT0 + absl::Minutes(5)), "10.5.0.1");
  r2.workloads.push_back(first);
  a.Observe(r2);
  a.Evaluate(kT0 + absl::Minutes(5));
  // It stops (absent from its node's next report); 40 minutes later another account resumes it.
  a.Observe(WithAddress(Node("n-a", "dc-a", "us-east", kT0 + absl::Minutes(10)), "10.5.0.1"));
  WorkloadObservation next = Training("k8s:next", "acct-b", 4e17);
  next.digests = next.artifact_digests = {"sha256:ckpt-17"};
  ReportObservation r3 =
      WithAddress(Node("n-b", "dc-b", "ap-south", kT0 + absl::Minutes(45)), "10.6.0.1");
  r3.workloads.push_back(next);
  a.Observe(r3);
  a.Evaluate(kT0 + absl::Minutes(45));
  ASSERT_EQ(a.BundleOf("acct-a"), a.BundleOf("acct-b"));
  std::vector<std::string> kinds;
  for (const auto& l : a.BundleLinks(a.BundleOf("acct-a"), 10)) kinds.push_back(l.kind());
  EXPECT_THAT(kinds, UnorderedElementsAre("handoff", "artifact"));
  auto flags = Flags(a, "compute_tier:");
  ASSERT_THAT(flags, SizeIs(1));
  EXPECT_EQ(flags[0].first_time().seconds(), absl::ToUnixSeconds(kT0 + absl::Minutes(45)));
}

// Issue 9: three shared checkpoint stalls used to link two accounts (min_shared_transitions);
// at these rates three coincidences in 50 minutes are far from unlikely, so they no longer do
// (the rhythm that does link is in analyzer_rhythm_test.cc).
TEST(AnalyzerTest, ThreeSharedPausesAloneNoLongerLink) {
  Analyzer a(TestPolicy());
  for (int k = 0; k < 10; ++k) {
    const absl::Time t = kT0 + absl::Minutes(5 * k);
    const bool paused = k % 3 == 2;  // checkpoint stalls every third report, together
    for (int i = 0; i < 2; ++i) {
      ReportObservation r = WithAddress(
          Node("n" + std::to_string(i), "dc" + std::to_string(i), "r", t + absl::Seconds(40 * i)),
          "10.4.4." + std::to_string(i));
      WorkloadObservation w = Training("job", "pkg-" + std::to_string(i), 1e15);
      w.activity_pct = paused ? 5 : 97;
      r.workloads.push_back(w);
      a.Observe(r);
    }
    a.Evaluate(t);
  }
  EXPECT_NE(a.BundleOf("pkg-0"), a.BundleOf("pkg-1"));
  for (const std::string& key : a.TakeChanges().links) {
    const auto* l = a.link(key);
    ASSERT_NE(l, nullptr);
    EXPECT_NE(l->kind(), "synchronised_activity") << l->sentence();
  }
}

TEST(AnalyzerTest, RestrictedPartyBehindResellersAndScreeningHit) {
  Analyzer a(TestPolicy());
  IdentitySnapshot snap;
  snap.kyc_version = 1;
  snap.screening_list_version = "csl-sha256:abc";
  auto accounts = std::make_shared<std::vector<provenance::v1::AccountIdentity>>();
  auto& top = accounts->emplace_back();
  top.set_account_id("reseller-1");
  top.set_legal_entity("Shady Trading Co");
  top.set_is_reseller(true);
  auto& mid = accounts->emplace_back();
  mid.set_account_id("reseller-2");
  mid.set_parent_account("reseller-1");
  mid.set_is_reseller(true);
  auto& leaf = accounts->emplace_back();
  leaf.set_account_id("end-user");
  leaf.set_parent_account("reseller-2");
  auto& cn = accounts->emplace_back();
  cn.set_account_id("cn-lab");
  cn.set_country_of_incorporation("CN");
  snap.accounts = accounts;
  provenance::v1::ScreeningMatch m;
  m.set_account_id("reseller-1");
  m.set_subject_kind("legal_entity");
  m.set_subject_name("Shady Trading Co");
  m.set_entry_id("e-1");
  m.set_entry_name("SHADY TRADING COMPANY LIMITED");
  m.set_entry_source("Entity List (EL) - Bureau of Industry and Security");
  m.set_score(0.93);
  m.set_list_version("csl-sha256:abc");
  snap.screening.push_back(m);
  a.SetIdentity(snap, kT0);
  a.Evaluate(kT0);
  auto hits = Flags(a, "screening_hit");
  ASSERT_THAT(hits, SizeIs(1));
  EXPECT_EQ(hits[0].subject(), "account:reseller-1");
  EXPECT_EQ(hits[0].screening_list_version(), "csl-sha256:abc");
  EXPECT_THAT(hits[0].evidence(0).sentence(), HasSubstr("SHADY TRADING COMPANY LIMITED"));
  EXPECT_THAT(Flags(a, "restricted_party_training"), IsEmpty());  // nobody trains yet

  ReportObservation r = WithAddress(Node("n1", "dc", "r", kT0 + absl::Minutes(5)), "10.3.3.3");
  r.workloads.push_back(Training("w1", "end-user", 1e12));
  r.workloads.push_back(Training("w2", "cn-lab", 1e12));
  a.Observe(r);
  a.Evaluate(kT0 + absl::Minutes(5));
  auto restricted = Flags(a, "restricted_party_training");
  ASSERT_THAT(restricted, SizeIs(2));
  std::vector<std::string> reasons;
  for (const auto& f : restricted) {
    EXPECT_EQ(f.severity(), provenance::v1::SEVERITY_CRITICAL);
    EXPECT_EQ(f.first_time().seconds(), absl::ToUnixSeconds(kT0 + absl::Minutes(5)));
    reasons.push_back(f.evidence(1).sentence());
  }
  EXPECT_THAT(reasons, UnorderedElementsAre(
                           HasSubstr("via reseller chain end-user -> reseller-2 -> reseller-1"),
                           HasSubstr("incorporated in CN")));
}

TEST(AnalyzerTest, RestrictedHardwareByPciIdNamesTheAccountsUsingIt) {
  Analyzer a(TestPolicy());
  ReportObservation r = WithAddress(Node("n-910", "dc-x", "r", kT0), "10.2.2.2");
  r.hostname = "gpu-h100-17";  // the label says NVIDIA; the PCI ID does not
  r.accelerators[0].set_vendor_id(0x19e5);
  r.accelerators[0].set_device_id(0xd801);
  r.accelerators[0].set_vendor("huawei");
  r.accelerators[0].set_model("Ascend 910");
  r.accelerators[0].set_family("ascend");
  r.workloads.push_back(Training("w", "acct-h", 1e12));
  a.Observe(r);
  a.Evaluate(kT0);
  auto flags = Flags(a, "restricted_hardware:");
  ASSERT_THAT(flags, SizeIs(1));
  EXPECT_EQ(flags[0].subject(), "node:n-910");
  EXPECT_THAT(flags[0].accounts(), ElementsAre("acct-h"));
  EXPECT_THAT(flags[0].summary(), HasSubstr("Ascend 910 (PCI 19e5:d801"));
  // The next report changes nothing: no new revision.
  a.TakeChanges();
  r.time_us += 300'000'000;
  a.Observe(r);
  a.Evaluate(kT0 + absl::Minutes(5));
  EXPECT_THAT(a.TakeChanges().flags, IsEmpty());
}

TEST(AnalyzerTest, MergingFlaggedBundlesKeepsOneFlagPerRule) {
  Analyzer a(TestPolicy());
  // Two accounts each over the tier on their own, later found to be one lineage.
  for (int i = 0; i < 2; ++i) {
    ReportObservation r = WithAddress(
        Node("n" + std::to_string(i), "dc" + std::to_string(i), "r" + std::to_string(i), kT0),
        "10.1.1." + std::to_string(i));
    r.workloads.push_back(Training("w", "big-" + std::to_string(i), 2e18));
    a.Observe(r);
  }
  a.Evaluate(kT0);
  ASSERT_THAT(Flags(a, "compute_tier:"), SizeIs(2));
  ReportObservation r = WithAddress(Node("n0", "dc0", "r0", kT0 + absl::Minutes(5)), "10.1.1.0");
  WorkloadObservation w = Training("w", "big-0", 2e18);
  w.peers.push_back({"10.1.1.1", 0});
  r.workloads.push_back(w);
  a.Observe(r);
  a.Evaluate(kT0 + absl::Minutes(5));
  provenance::v1::ListFlagsRequest open;
  open.set_rule("compute_tier:tier-1e18");
  open.set_status(provenance::v1::FLAG_STATUS_OPEN);
  auto flags = a.ListFlags(open);
  ASSERT_THAT(flags, SizeIs(1));
  EXPECT_THAT(flags[0].accounts(), ElementsAre("big-0", "big-1"));
  provenance::v1::ListFlagsRequest resolved;
  resolved.set_status(provenance::v1::FLAG_STATUS_RESOLVED);
  auto merged = a.ListFlags(resolved);
  ASSERT_THAT(merged, SizeIs(1));
  EXPECT_THAT(merged[0].summary(), HasSubstr("Merged into " + flags[0].flag_id()));
}

}  // namespace
}  // namespace prov::server
