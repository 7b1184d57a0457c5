// External coordinators (issue 9): training workloads of a few accounts exchanging traffic with
// the same public address outside the fleet are linked; common endpoints link nothing.
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/analysis/analyzer.h"
#include "tests/analysis/analysis_test_util.h"

namespace prov::server {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;
using namespace testing;  // NOLINT: test builders

constexpr int64_t kGiB = int64_t{1} << 30;
constexpr int64_t kCoordinator = 4 * kGiB;  // per 300 s report each way: 48 GiB an hour

// Account `account` trains on its own node in its own data centre, talking to `peer`:`port`,
// with `sent` and `received` bytes over the report's 300 s interval (-1: no counters).
ReportObservation Site(const std::string& account, const std::string& peer, absl::Time t,
                       int workload_class = 1, int64_t sent = kCoordinator,
                       int64_t received = kCoordinator, uint32_t port = 6000) {
  ReportObservation r = WithAddress(Node("n-" + account, "dc-" + account, "r-" + account, t),
                                    "10.30.0." + std::to_string(account.size() + account.back()));
  WorkloadObservation w = Training("k8s:" + account, account, 1e15);
  w.workload_class = workload_class;
  w.peers.push_back({peer, port, sent, received, r.interval_seconds});
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
  // The volume each way is in the evidence (4 reports of 4 GiB each way by then, over 20 min).
  EXPECT_THAT(links[0].sentence(), HasSubstr("2 accounts exchange bulk with it"));
  EXPECT_THAT(links[0].sentence(),
              HasSubstr("island-a sent 12.0 GiB and received 12.0 GiB in 15m"));
}

// Issue 9, lookalike_shared_tracker: teams logging to one off-fleet tracker send about 1 MiB a
// report and get acknowledgements back; that is not a coordinator, however long they talk.
TEST(AnalyzerExternalTest, TeamsSharingATrackerAreNotLinked) {
  Analyzer a(TestPolicy());
  LiveLinks live;
  for (int k = 0; k < 12; ++k) {
    const absl::Time t = kT0 + absl::Minutes(5 * k);
    for (const char* team : {"lab-1", "lab-2", "lab-3"}) {
      a.Observe(Site(team, "198.51.100.220", t, 1, int64_t{1} << 20, int64_t{1} << 15, 5000));
    }
    a.Evaluate(t);
  }
  EXPECT_EQ(live.Count(a, "external_peer"), 0u);
  EXPECT_NE(a.BundleOf("lab-1"), a.BundleOf("lab-2"));
}

// Bulk one way only (checkpoints uploaded to a store, a dataset downloaded) is not an exchange.
TEST(AnalyzerExternalTest, OneSidedBulkIsNotAnExchange) {
  Analyzer a(TestPolicy());
  LiveLinks live;
  for (int k = 0; k < 6; ++k) {
    const absl::Time t = kT0 + absl::Minutes(5 * k);
    a.Observe(Site("up-1", "203.0.113.30", t, 1, kCoordinator, kCoordinator / 16));
    a.Observe(Site("up-2", "203.0.113.30", t, 1, kCoordinator / 16, kCoordinator));
    a.Evaluate(t);
  }
  EXPECT_EQ(live.Count(a, "external_peer"), 0u);
}

// Issue 9, f_external_coordinator-002: a parameter server over 443 that four accounts' workers
// exchange gradients with. It was missed because a fourth account made the address "common"
// (external_peer_max_accounts was 3 and counted every account); with volume the cap counts
// only bulk exchangers and is 5, the same as for digests, while light users (the web service
// that port 443 suggests) neither link nor count.
TEST(AnalyzerExternalTest, ParameterServerOver443WithFourAccountsLinksThemAll) {
  Analyzer a(TestPolicy());
  LiveLinks live;
  const std::vector<std::string> workers = {"ps-w0", "ps-w1", "ps-w2", "ps-w3"};
  for (int k = 0; k < 4; ++k) {
    const absl::Time t = kT0 + absl::Minutes(5 * k);
    for (const auto& w : workers) {
      a.Observe(Site(w, "198.51.100.10", t, 1, kCoordinator, kCoordinator, 443));
    }
    // Browsers and API clients of the same address: light, they do not make it common.
    for (int v = 0; v < 8; ++v) {
      a.Observe(Site("web-" + std::to_string(v), "198.51.100.10", t, 1, 64 << 10, 1 << 20, 443));
    }
    a.Evaluate(t);
  }
  for (const auto& w : workers) EXPECT_EQ(a.BundleOf(w), a.BundleOf("ps-w0")) << w;
  EXPECT_EQ(live.Count(a, "external_peer"), 6u);  // every pair of the four
  for (int v = 0; v < 8; ++v)
    EXPECT_NE(a.BundleOf("web-" + std::to_string(v)), a.BundleOf("ps-w0"));
}

TEST(AnalyzerExternalTest, UnknownVolumeLinksOnlyWhenThePolicySaysSo) {
  {
    Analyzer a(TestPolicy());  // external_peer_link_unknown_volume: false (default)
    LiveLinks live;
    for (int k = 0; k < 4; ++k) {
      const absl::Time t = kT0 + absl::Minutes(5 * k);
      a.Observe(Site("old-a", "203.0.113.8", t, 1, -1, -1));
      a.Observe(Site("old-b", "203.0.113.8", t, 1, -1, -1));
      a.Evaluate(t);
    }
    EXPECT_EQ(live.Count(a, "external_peer"), 0u);
  }
  auto policy = std::make_shared<policy::Policy>(*TestPolicy());
  policy->correlation.external_peer_link_unknown_volume = true;
  Analyzer a(policy);
  for (int k = 0; k < 4; ++k) {
    const absl::Time t = kT0 + absl::Minutes(5 * k);
    a.Observe(Site("old-a", "203.0.113.8", t, 1, -1, -1));
    a.Observe(Site("new-b", "203.0.113.8", t));
    a.Evaluate(t);
  }
  ASSERT_EQ(a.BundleOf("old-a"), a.BundleOf("new-b"));
  auto links = OfKind(a.BundleLinks(a.BundleOf("old-a"), 10), "external_peer");
  ASSERT_THAT(links, SizeIs(1));
  EXPECT_THAT(links[0].sentence(),
              HasSubstr("old-a volume unknown: its agent sent no byte counters"));
  EXPECT_THAT(links[0].sentence(), HasSubstr("new-b sent "));
}

TEST(AnalyzerExternalTest, AnEndpointManyAccountsTalkToIsCommonAndItsLinksAreWithdrawn) {
  Analyzer a(TestPolicy());  // external_peer_max_accounts 5 (default)
  LiveLinks live;
  for (int i = 0; i < 5; ++i) a.Observe(Site("team-" + std::to_string(i), "198.51.100.9", kT0));
  a.Evaluate(kT0);
  EXPECT_EQ(a.BundleOf("team-0"), a.BundleOf("team-4"));  // looked rare so far
  // A sixth account (serving, not training) exchanges bulk with it too: a shared store.
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

TEST(AnalyzerExternalTest, PolicyParsesTheVolumeKnobs) {
  auto ok = policy::ParsePolicy(
      "version: t\ncorrelation:\n  external_peer_min_bytes_per_hour: 5e8\n"
      "  external_peer_min_symmetry: 0.5\n  external_peer_link_unknown_volume: true\n",
      "t.yaml");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_DOUBLE_EQ(ok->correlation.external_peer_min_bytes_per_hour, 5e8);
  EXPECT_DOUBLE_EQ(ok->correlation.external_peer_min_symmetry, 0.5);
  EXPECT_TRUE(ok->correlation.external_peer_link_unknown_volume);
  auto defaults = policy::ParsePolicy("version: t\n", "t.yaml");
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->correlation.external_peer_max_accounts, 5);
  EXPECT_DOUBLE_EQ(defaults->correlation.external_peer_min_bytes_per_hour, 1024.0 * 1024 * 1024);
  EXPECT_FALSE(defaults->correlation.external_peer_link_unknown_volume);
  for (const char* bad :
       {"external_peer_min_symmetry: 2", "external_peer_link_unknown_volume: maybe",
        "external_peer_min_bytes_per_hour: -1"}) {
    auto r = policy::ParsePolicy(absl::StrCat("version: t\ncorrelation:\n  ", bad, "\n"), "t.yaml");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_THAT(std::string(r.status().message()), HasSubstr("correlation.external_peer_")) << bad;
  }
}

}  // namespace
}  // namespace prov::server
