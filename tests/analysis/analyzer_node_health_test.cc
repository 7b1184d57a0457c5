// node_reports_rejected (issue 14): a node whose every report is refused for the policy's
// node_health.rejecting_after while it keeps sending. Events and times are provd's clock.
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

// One round of `count` refusals of `node` at `at`, in a spell that started at `since`.
NodeEvent Refused(const std::string& node, absl::Time since, absl::Time at, int64_t count = 1,
                  int64_t total = 1) {
  NodeEvent e;
  e.kind = NodeEvent::Kind::kRejections;
  e.node_id = node;
  e.since = since;
  e.time = at;
  e.count = count;
  e.total = total;
  e.detail = "frame: 2 bytes are not a NodeReport";
  return e;
}

std::vector<Flag> RejectingFlags(const Analyzer& a) {
  provenance::v1::ListFlagsRequest req;
  req.set_rule("node_reports_rejected");
  return a.ListFlags(req);
}

TEST(NodeHealthTest, ShortSpellsRaiseNothingALongOneRaisesOneFlag) {
  Analyzer a(TestPolicy());
  a.Observe(Node("n1", "dc-a", "eu", kT0));
  // Spells of 5 minutes, each ended by a stored report: never a flag.
  for (int spell = 0; spell < 3; ++spell) {
    const absl::Time since = kT0 + absl::Minutes(10 * spell + 1);
    for (int m = 0; m <= 5; ++m) a.ObserveNodeEvent(Refused("n1", since, since + absl::Minutes(m)));
    a.Evaluate(since + absl::Minutes(5));
    a.Observe(Node("n1", "dc-a", "eu", since + absl::Minutes(6)));
    a.Evaluate(since + absl::Minutes(6));
  }
  EXPECT_TRUE(RejectingFlags(a).empty());

  const absl::Time since = kT0 + absl::Hours(1);
  for (int m = 0; m <= 30; ++m) {
    a.ObserveNodeEvent(Refused("n1", since, since + absl::Minutes(m), 1, 20 + m));
    a.Evaluate(since + absl::Minutes(m));
  }
  auto flags = RejectingFlags(a);
  ASSERT_EQ(flags.size(), 1u);
  EXPECT_EQ(flags[0].subject(), "node:n1");
  EXPECT_EQ(flags[0].first_time().seconds(), absl::ToUnixSeconds(since));
  EXPECT_EQ(flags[0].last_time().seconds(), absl::ToUnixSeconds(since + absl::Minutes(30)));
  EXPECT_TRUE(absl::StrContains(flags[0].summary(), "every report refused for 30 min"))
      << flags[0].summary();
  EXPECT_EQ(flags[0].datacenters(0), "dc-a");
  // Rewritten once per rejecting_after (10 min) of the spell: at 10, 20 and 30 minutes.
  EXPECT_EQ(flags[0].revision(), 3u);
}

TEST(NodeHealthTest, PolicySetsTheDurationAndSeverity) {
  std::string yaml = testing::kTestPolicy;
  yaml += "node_health: {rejecting_after: 2m, rejecting_severity: critical}\n";
  Analyzer a(TestPolicy(yaml));
  a.ObserveNodeEvent(Refused("n1", kT0, kT0 + absl::Minutes(2)));
  a.Evaluate(kT0 + absl::Minutes(2));
  auto flags = RejectingFlags(a);
  ASSERT_EQ(flags.size(), 1u);
  EXPECT_EQ(flags[0].severity(), provenance::v1::SEVERITY_CRITICAL);

  auto bad = policy::ParsePolicy(
      testing::kTestPolicy + std::string("node_health: {rejecting_after: soon}\n"), "p.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(absl::StrContains(bad.status().message(), "node_health.rejecting_after"))
      << bad.status();
}

TEST(NodeHealthTest, AStoredReportResolvesTheFlagAlsoAfterARestore) {
  Analyzer a(TestPolicy());
  a.ObserveNodeEvent(Refused("n1", kT0, kT0 + absl::Minutes(15)));
  a.Evaluate(kT0 + absl::Minutes(15));
  auto flags = RejectingFlags(a);
  ASSERT_EQ(flags.size(), 1u);

  Analyzer restarted(TestPolicy());
  restarted.RestoreFlag(flags[0]);
  restarted.FinishRestore();
  restarted.Observe(Node("n1", "dc-a", "eu", kT0 + absl::Minutes(20)));
  restarted.Evaluate(kT0 + absl::Minutes(20));
  auto after = RejectingFlags(restarted);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].status(), provenance::v1::FLAG_STATUS_RESOLVED);
  EXPECT_EQ(after[0].evidence(after[0].evidence_size() - 1).kind(), "recovered");
  EXPECT_TRUE(absl::StrContains(after[0].summary(), "resolved itself")) << after[0].summary();
}

TEST(NodeHealthTest, APersonsCaseIsNotClosedForThem) {
  Analyzer a(TestPolicy());
  a.ObserveNodeEvent(Refused("n1", kT0, kT0 + absl::Minutes(15)));
  a.Evaluate(kT0 + absl::Minutes(15));
  const std::string id = RejectingFlags(a)[0].flag_id();
  a.SetFlagCase(id, provenance::v1::FLAG_STATUS_ESCALATED, provenance::v1::DISPOSITION_UNSPECIFIED,
                "alice", kT0 + absl::Minutes(16));
  a.Observe(Node("n1", "dc-a", "eu", kT0 + absl::Minutes(20)));
  a.Evaluate(kT0 + absl::Minutes(20));
  const Flag* f = a.flag(id);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->status(), provenance::v1::FLAG_STATUS_ESCALATED);
  EXPECT_EQ(f->evidence(f->evidence_size() - 1).kind(), "recovered");

  // After a restart the ended spell is not noted again on the person's case.
  Analyzer restarted(TestPolicy());
  restarted.RestoreFlag(*f);
  restarted.FinishRestore();
  restarted.Observe(Node("n1", "dc-a", "eu", kT0 + absl::Minutes(30)));
  restarted.Evaluate(kT0 + absl::Minutes(30));
  EXPECT_EQ(restarted.flag(id)->evidence_size(), f->evidence_size());
  EXPECT_EQ(restarted.flag(id)->revision(), f->revision());
}

TEST(NodeHealthTest, ASpellEndedByAStoredReportBeforeTheRoundDoesNotCount) {
  Analyzer a(TestPolicy());
  // The store says no spell (a report was stored after these refusals).
  a.ObserveNodeEvent(Refused("n1", absl::InfinitePast(), kT0 + absl::Hours(1)));
  a.Evaluate(kT0 + absl::Hours(1));
  EXPECT_TRUE(RejectingFlags(a).empty());
}

}  // namespace
}  // namespace prov::server
