// External coordinators (issue 9): training workloads of a few accounts exchanging traffic with
// the same public address outside the fleet are linked; common endpoints link nothing.
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/analysis/analyzer.h"
#include "tests/analysis/analysis_test_util.h"

namespace prov::server {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;
using namespace testing;  // NOLINT: test builders

// Account `account` trains on its own node in its own data centre, talking to `peer`:6000.
ReportObservation Site(const std::string& account, const std::string& peer, absl::Time t,
                       int workload_class = 1) {
  ReportObservation r = WithAddress(Node("n-" + account, "dc-" + account, "r-" + account, t),
                                    "10.30.0." + std::to_string(account.size() + account.back()));
  WorkloadObservation w = Training("k8s:" + account, account, 1e15);
  w.workload_class = workload_class;
  w.peers.push_back({peer, 6000});
  r.workloads.push_back(w);
  return r;
}

// Live links by kind, following TakeChanges (added, then withdrawn).
class LiveLinks {
 public:
  size_t Count(Analyzer& a, const std::string& kind) {
    const AnalyzerChanges c = a.TakeChanges();
    live_.insert(c.links.begin(), c.links.end());
    for (const std::string& k : c.removed_links) live_.erase(k);
    size_t n = 0;
    for (const std::string& k : live_) n += k.rfind(kind + "|", 0) == 0;
    return n;
  }

 private:
  std::set<std::string> live_;
};

TEST(AnalyzerExternalTest, TrainingSitesSyncingThroughARelayAbroadAreLinked) {
  auto policy = std::make_shared<policy::Policy>(*TestPolicy());
  policy->correlation.artifact_settle = absl::Minutes(10);
  Analyzer a(policy);
  for (int k = 0; k < 4; ++k) {
    const absl::Time t = kT0 + absl::Minutes(5 * k);
    a.Observe(Site("island-a", "203.0.113.7", t));
    a.Observe(Site("island-b", "203.0.113.7", t + absl::Seconds(30)));
    a.Evaluate(t);
    // Seen since kT0: the address links once settled (10 minutes).
    EXPECT_EQ(a.BundleOf("island-a") == a.BundleOf("island-b"), k >= 2) << "round " << k;
  }
  auto links = OfKind(a.BundleLinks(a.BundleOf("island-a"), 10), "external_peer");
  ASSERT_THAT(links, SizeIs(1));
  EXPECT_THAT(links[0].sentence(), HasSubstr("both exchange traffic with 203.0.113.7:6000"));
  EXPECT_THAT(links[0].sentence(), HasSubstr("no node of the fleet claims"));
}

TEST(AnalyzerExternalTest, AnEndpointManyAccountsTalkToIsCommonAndItsLinksAreWithdrawn) {
  Analyzer a(TestPolicy());  // external_peer_max_accounts 3 (default)
  LiveLinks live;
  for (int i = 0; i < 3; ++i) a.Observe(Site("team-" + std::to_string(i), "198.51.100.9", kT0));
  a.Evaluate(kT0);
  EXPECT_EQ(a.BundleOf("team-0"), a.BundleOf("team-2"));  // looked rare so far
  // A fourth account (serving, not training) talks to it too: a mirror, not a coordinator.
  a.Observe(Site("svc", "198.51.100.9", kT0 + absl::Minutes(5), /*workload_class=*/2));
  a.Evaluate(kT0 + absl::Minutes(5));
  EXPECT_NE(a.BundleOf("team-0"), a.BundleOf("team-1"));
  EXPECT_EQ(live.Count(a, "external_peer"), 0u);
  a.Observe(Site("team-9", "198.51.100.9", kT0 + absl::Minutes(10)));
  a.Evaluate(kT0 + absl::Minutes(10));
  EXPECT_EQ(live.Count(a, "external_peer"), 0u);  // never links again
  EXPECT_NE(a.BundleOf("team-9"), a.BundleOf("team-0"));
}

TEST(AnalyzerExternalTest, DeclaredGatewaysPrivateAddressesAndFleetNodesAreNotExternal) {
  auto policy = std::make_shared<policy::Policy>(*TestPolicy());
  policy->correlation.common_endpoints.push_back(*policy::AddressRange::Parse("192.0.2.0/24"));
  Analyzer a(policy);
  LiveLinks live;
  a.Observe(Site("g-1", "192.0.2.44", kT0));  // the provider's egress gateway
  a.Observe(Site("g-2", "192.0.2.44", kT0));
  a.Observe(Site("p-1", "10.99.0.5", kT0));  // storage on the provider's own network
  a.Observe(Site("p-2", "10.99.0.5", kT0));
  a.Evaluate(kT0);
  EXPECT_EQ(live.Count(a, "external_peer"), 0u);
  // A public address that turns out to be a node of the fleet: network_peer, not external.
  a.Observe(Site("f-1", "198.18.7.7", kT0));
  a.Observe(Site("f-2", "198.18.7.7", kT0));
  a.Evaluate(kT0);
  ASSERT_EQ(a.BundleOf("f-1"), a.BundleOf("f-2"));
  ReportObservation node = WithAddress(Node("n-pub", "dc-pub", "r", kT0), "198.18.7.7");
  a.Observe(node);
  a.Evaluate(kT0);
  EXPECT_NE(a.BundleOf("f-1"), a.BundleOf("f-2"));
  EXPECT_EQ(live.Count(a, "external_peer"), 0u);
}

TEST(AnalyzerExternalTest, PolicyParsesCommonEndpointsAndRejectsBadOnes) {
  auto ok = policy::ParsePolicy(
      "version: t\ncorrelation:\n  external_peer_max_accounts: 4\n  common_endpoints: "
      "[192.0.2.0/24, \"2001:db8::/32\", 198.51.100.1]\n",
      "t.yaml");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->correlation.external_peer_max_accounts, 4);
  ASSERT_THAT(ok->correlation.common_endpoints, SizeIs(3));
  EXPECT_TRUE(ok->correlation.common_endpoints[1].Contains("2001:db8:1::5"));
  EXPECT_TRUE(ok->correlation.common_endpoints[2].Contains("198.51.100.1"));
  EXPECT_FALSE(ok->correlation.common_endpoints[2].Contains("198.51.100.2"));
  auto bad = policy::ParsePolicy("version: t\ncorrelation:\n  common_endpoints: [s3.amazonaws]\n",
                                 "t.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("common_endpoints[0]"));
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("s3.amazonaws"));
}

}  // namespace
}  // namespace prov::server
